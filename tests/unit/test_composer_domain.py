"""The composer's rules without Streamlit: prompt form round trips, the reference tray per model,
cost summaries against the catalogue and composition records (enhancement: tests/service/test_enhancement.py)."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from studio.domain import catalogue, prompts
from studio.domain import composition as composer
from studio.domain.errors import ImageRejected, InputError
from studio.domain.requests import GenerationRequest, Reference
from studio.services import templates as library
from studio.services import uploads
from studio.storage.template_repo import TemplateRecord
from tests.factories import make_image

PRO = catalogue.lookup("gemini-3-pro-image")
FLASH25 = catalogue.lookup("gemini-2.5-flash-image")
FLASH31 = catalogue.lookup("gemini-3.1-flash-image")


def _ref(i: int, role: str = "object") -> Reference:
    return Reference(b"x", "image/png", f"{i:064x}", 8, 8, role=role, name=f"{role}{i}.png")


def _tray(objects: int, characters: int = 0) -> tuple[Reference, ...]:
    return tuple(_ref(i) for i in range(objects)) + tuple(
        _ref(100 + i, "character") for i in range(characters)
    )


# -- structured prompt ----------------------------------------------------------------------------

_value = st.text(max_size=40).map(lambda v: " ".join(v.split()))
_fields = st.fixed_dictionaries({key: _value for key in composer.FIELD_KEYS})
_extra = st.text(alphabet=st.characters(blacklist_characters=":", blacklist_categories=("Cs",)), max_size=60)


@given(_fields, _extra)
def test_form_to_text_to_form_loses_nothing(fields, extra):
    text = composer.to_text(fields, extra)
    back, back_extra = composer.to_form(text)
    assert back == fields
    assert back_extra == " ".join(extra.split())


@given(st.text(max_size=200))
def test_switching_back_and_forth_is_stable_after_the_first_switch(text):
    once = composer.to_form(text)
    assert composer.to_form(composer.to_text(*once)) == once


def test_unlabelled_text_becomes_the_free_text_part():
    fields, extra = composer.to_form("A fox in the snow\nStyle: watercolour\nmore words")
    assert fields["style"] == "watercolour" and fields["subject"] == ""
    assert extra == "A fox in the snow more words"
    assert composer.to_text(fields, extra) == "A fox in the snow more words\nStyle: watercolour"
    assert set(fields) == {key for key, _ in prompts.FIELDS}


def test_sketch_instructions_are_appended_once():
    prompt = composer.with_instruction("A desk", "replace what is circled in red with a lamp")
    assert prompt == "A desk\nreplace what is circled in red with a lamp"
    assert composer.with_instruction(prompt, "replace what is circled in red with a lamp") == prompt
    assert composer.with_instruction("", "  add a cat ") == "add a cat"


# -- the tray -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "objects", "characters"),
    [(FLASH25, 3, 0), (PRO, 6, 5), (FLASH31, 10, 4)],
    ids=["flash25", "pro", "flash31"],
)
def test_a_full_tray_refuses_one_more_of_each_role_and_stays_unchanged(spec, objects, characters):
    full = composer.add((), _tray(objects, characters), spec)
    assert len(full) == spec.max_references
    for role in composer.roles_for(spec):
        with pytest.raises(InputError, match="at most"):
            composer.add(full, [_ref(999, role)], spec)
    assert full == composer.add((), _tray(objects, characters), spec)


def test_pro_limits_objects_and_characters_separately():
    tray = composer.add((), _tray(6), PRO)
    tray = composer.add(tray, [_ref(200, "character")], PRO)  # characters have their own pool
    with pytest.raises(InputError, match="6 objects"):
        composer.add(tray, [_ref(201)], PRO)
    assert composer.limit_sentence(PRO) == "6 objects + 5 characters on Nano Banana Pro (3 Pro Image)"
    assert composer.limit_sentence(FLASH25) == "3 references max on Nano Banana (2.5 Flash Image)"


def test_models_without_characters_treat_every_reference_as_an_object():
    tray = composer.add((), [_ref(1, "character")], FLASH25)
    assert tray[0].role == "object"
    assert composer.roles_for(FLASH25) == ("object",)
    with pytest.raises(InputError):
        composer.set_role(tray, 0, "character", FLASH25)


def test_adding_several_is_all_or_none():
    tray = composer.add((), _tray(2), FLASH25)
    with pytest.raises(InputError):
        composer.add(tray, [_ref(50), _ref(51)], FLASH25)
    with pytest.raises(InputError, match="already in the tray"):
        composer.add(tray, [tray[0]], FLASH25)


def test_reorder_remove_and_role_changes():
    tray = composer.add((), _tray(3), PRO)
    names = lambda t: [r.name for r in t]  # noqa: E731
    assert names(composer.move(tray, 2, -1)) == ["object0.png", "object2.png", "object1.png"]
    assert composer.move(tray, 0, -1) == tray and composer.move(tray, 2, 1) == tray
    assert names(composer.remove(tray, 1)) == ["object0.png", "object2.png"]
    changed = composer.set_role(tray, 1, "character", PRO)
    assert [r.role for r in changed] == ["object", "character", "object"]
    crowded = composer.add((), _tray(1, 5), PRO)
    with pytest.raises(InputError, match="5 characters"):
        composer.set_role(crowded, 0, "character", PRO)


def test_a_model_change_keeps_the_tray_but_says_what_is_not_sent():
    tray = composer.add((), _tray(5), PRO)
    kept, reasons = composer.fit(tray, FLASH25)
    assert len(kept) == 3 and len(reasons) == 2
    assert "object3.png" in reasons[0] and "3 references max" in reasons[0]


def test_files_are_judged_one_by_one_with_reasons():
    files = [
        ("a.png", make_image(color=(10, 20, 30))),
        ("notes.png", b"<html>no</html>"),
        ("b.jpg", make_image(fmt="JPEG", color=(90, 20, 30))),
        ("huge.png", b"\x89PNG" + bytes(21 * 2**20)),
        ("c.png", make_image(color=(10, 200, 30))),
        ("d.png", make_image(color=(200, 200, 30))),
    ]
    tray, reasons = uploads.add_files((), files, FLASH25)
    assert [r.name for r in tray] == ["a.png", "b.jpg", "c.png"]
    assert len(reasons) == 3
    assert "notes.png" in reasons[0] and "huge.png" in reasons[1] and "MB" in reasons[1]
    assert "d.png" in reasons[2] and "at most" in reasons[2]


def test_large_references_are_downscaled_keeping_aspect():
    ref = uploads.prepare(make_image(3000, 1000), "wide.png")
    assert (ref.width, ref.height) == (2048, 683)
    with Image.open(io.BytesIO(ref.data)) as im:
        assert im.size == (2048, 683)


def test_data_urls_from_the_browser():
    png = make_image()
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    assert composer.decode_data_url(url, "p.png") == png
    for bad in ("not a url", "data:text/plain,hello", "data:image/png;base64,@@@"):
        with pytest.raises(ImageRejected):
            composer.decode_data_url(bad, "p.png")


# -- cost -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "size", "ratio"),
    [
        ("gemini-3-pro-image", "2K", "16:9"),
        ("gemini-2.5-flash-image", None, "3:4"),
        ("gemini-3.1-flash-image", "512", "21:9"),
    ],
)
def test_summary_matches_the_catalogue(model, size, ratio):
    s = composer.summary(model, ratio=ratio, size=size, variants=3, references=2, texts=["a fox"])
    est = catalogue.estimate(model, size=size, ratio=ratio, variants=3, references=2, prompt_chars=5)
    spec = catalogue.lookup(model)
    assert s.usd == est.usd and s.output_tokens == est.output_tokens == spec.tokens(size) * 3
    assert s.pixels == spec.pixel_size(ratio, size) and s.calls == 3 and s.input_images == 6
    assert s.usd >= 3 * (spec.price(size) + 2 * spec.usd_per_input_image) - 1e-9
    assert f"{s.pixels[0]} × {s.pixels[1]} px" in s.line()


def test_one_image_per_proposal_costs_one_call_each():
    texts = ["one", "two two", "three three three"]
    s = composer.summary("gemini-3-pro-image", ratio="1:1", size="4K", variants=1, references=0, texts=texts)
    assert s.calls == 3 and s.images == 3
    assert s.usd == pytest.approx(
        sum(
            catalogue.estimate("gemini-3-pro-image", size="4K", ratio="1:1", prompt_chars=len(t)).usd
            for t in texts
        )
    )


# -- composition ----------------------------------------------------------------------------------


def test_composition_records_fields_proposal_and_sketches():
    comp = composer.composition(
        mode="form",
        fields={"subject": "a fox", "style": " "},
        extra="idea",
        proposal={"index": 1, "text": "p"},
        sketches=[{"sha256": "ab", "instruction": "x"}],
    )
    assert comp == {
        "mode": "form",
        "fields": {"subject": "a fox"},
        "extra": "idea",
        "proposal": {"index": 1, "text": "p"},
        "sketches": [{"sha256": "ab", "instruction": "x"}],
    }
    assert composer.composition(mode="text", fields={"subject": "ignored"}) is None


def test_one_request_per_proposal():
    base = GenerationRequest(
        prompt="idea", model="gemini-2.5-flash-image", variants=4, composition={"mode": "text"}
    )
    out = composer.per_proposal(base, ["p1", "p2", "p3"], idea="idea", text_model="gemini-2.5-flash")
    assert [r.prompt for r in out] == ["p1", "p2", "p3"] and {r.variants for r in out} == {1}
    assert out[2].composition["proposal"] == {
        "index": 2,
        "text": "p3",
        "idea": "idea",
        "text_model": "gemini-2.5-flash",
    }


# -- what a submission records: only what the form still holds (issue 10, item 2) ------------------

_NOW = datetime(2026, 1, 1, tzinfo=UTC)
_ANIMAL = TemplateRecord(
    id=7,
    kind="template",
    name="Animal",
    body="a {animal} reading",
    tags=(),
    notes="",
    created_at=_NOW,
    updated_at=_NOW,
)
_WARM = TemplateRecord(
    id=8,
    kind="preset",
    name="Warm",
    body="warm golden-hour light",
    tags=(),
    notes="",
    created_at=_NOW,
    updated_at=_NOW,
)
_CHOSEN = {
    "index": 1,
    "text": "a lighthouse, wide 24mm view, soft overcast light",
    "idea": "a lighthouse",
    "text_model": "gemini-2.5-flash",
    "edited": False,
}


def _from_library(values: dict[str, str]) -> tuple[str, dict]:
    """What Library's "Send to Generate" loads: the rendered prompt and where it came from."""
    req = library.request_from(_ANIMAL, values, "gemini-2.5-flash-image", [_WARM])
    return req.prompt, composer.origin(req.prompt, req.composition)


def test_a_used_proposal_is_recorded_while_the_prompt_is_its_text():
    assert composer.at_submit(prompt=_CHOSEN["text"], mode="text", chosen=_CHOSEN) == {
        "mode": "text",
        "proposal": _CHOSEN,
    }
    # appended to (a sketch's instruction on its own line, spaces aside) it still came from the proposal
    grown = composer.with_instruction("a lighthouse,  wide 24mm view, soft overcast light", "add a moon")
    assert composer.at_submit(prompt=grown, mode="text", chosen=_CHOSEN)["proposal"] == _CHOSEN


@pytest.mark.parametrize(
    "prompt",
    [
        "a red bicycle leaning on a fence",
        "",
        "a lighthouse, wide 24mm view",
        "a lighthouse, wide 35mm view, soft overcast light",
    ],
)
def test_a_used_proposal_is_not_recorded_once_the_prompt_is_replaced_or_rewritten(prompt):
    assert composer.at_submit(prompt=prompt, mode="text", chosen=_CHOSEN) is None


def test_a_proposal_in_form_mode_keeps_the_fields_the_form_shows():
    fields, extra = composer.to_form(_CHOSEN["text"])
    fields["style"] = "watercolour"
    prompt = composer.to_text(fields, extra)
    assert composer.at_submit(prompt=prompt, mode="form", fields=fields, extra=extra, chosen=_CHOSEN) == {
        "mode": "form",
        "fields": {"style": "watercolour"},
        "extra": _CHOSEN["text"],
        "proposal": _CHOSEN,
    }


def test_a_library_template_is_recorded_while_the_prompt_is_its_rendering():
    prompt, came_from = _from_library({"animal": "fox"})
    assert prompt == "a fox reading, warm golden-hour light"
    assert composer.at_submit(prompt=prompt, mode="text", came_from=came_from) == {
        "template": {"id": 7, "name": "Animal", "values": {"animal": "fox"}},
        "presets": ["Warm"],
    }
    more = composer.at_submit(prompt=prompt + ", at dusk", mode="text", came_from=came_from)
    assert more["template"]["values"] == {"animal": "fox"}


@pytest.mark.parametrize(
    "prompt",
    ["", "   ", "a red bicycle leaning on a fence", "a cat reading, warm golden-hour light", "a fox reading"],
)
def test_a_library_template_is_not_recorded_once_the_prompt_no_longer_renders_it(prompt):
    """Emptied, replaced, a value changed by hand, a preset removed: the template no longer describes it."""
    _, came_from = _from_library({"animal": "fox"})
    assert composer.at_submit(prompt=prompt, mode="text", came_from=came_from) is None


def test_a_remix_inherits_only_what_made_its_prompt():
    """An experiment cell or an edit conversation describes how the remixed generation was made, not the new one."""
    stored = {
        "mode": "text",
        "proposal": _CHOSEN,
        "run_id": 3,
        "cell": {"seed": 1},
        "conversation": {"started_from": 2},
        "template": {"id": 7, "name": "Animal", "values": {}},
    }
    came_from = composer.origin(_CHOSEN["text"], stored)
    assert composer.at_submit(prompt=_CHOSEN["text"], mode="text", came_from=came_from) == {
        "mode": "text",
        "proposal": _CHOSEN,
        "template": {"id": 7, "name": "Animal", "values": {}},
    }
    assert composer.at_submit(prompt="a teapot", mode="text", came_from=came_from) is None


def test_sketches_are_recorded_while_their_drawing_is_sent_and_their_instruction_while_in_the_prompt():
    kept, dropped = _ref(1), _ref(2)
    sketches = [
        {"sha256": kept.sha256, "name": "sketch-1.png", "instruction": "add a moon"},
        {"sha256": dropped.sha256, "name": "sketch-2.png", "instruction": "remove the boat"},
    ]
    comp = composer.at_submit(
        prompt="a harbour\nadd a moon", mode="text", sketches=sketches, references=[kept]
    )
    assert comp == {"mode": "text", "sketches": [sketches[0]]}
    comp = composer.at_submit(prompt="a harbour", mode="text", sketches=sketches, references=[kept])
    assert comp == {"mode": "text", "sketches": [{**sketches[0], "instruction": ""}]}
    assert composer.at_submit(prompt="a harbour\nadd a moon", mode="text", sketches=sketches) is None


def test_one_request_per_proposal_records_each_as_plain_text_not_the_forms_fields():
    base = GenerationRequest(
        prompt="Subject: a fox",
        model="gemini-2.5-flash-image",
        composition={"mode": "form", "fields": {"subject": "a fox"}, "extra": ""},
    )
    _, came_from = _from_library({"animal": "fox"})
    [first] = composer.per_proposal(
        base, ["a fox at dawn"], idea="Subject: a fox", text_model="t", came_from=came_from
    )
    assert first.composition == {
        "mode": "text",
        "proposal": {"index": 0, "text": "a fox at dawn", "idea": "Subject: a fox", "text_model": "t"},
    }


@pytest.mark.parametrize("prompt", ["A cathedral at dusk", "A scatter plot of stars", "catalogue shot"])
def test_a_short_template_or_proposal_counts_only_as_whole_words(prompt):
    """A one-word template "cat" is not what "A cathedral at dusk" was made from."""
    came_from = {"prompt": "cat", "template": {"id": 1, "name": "Pets", "values": {}}}
    chosen = {"index": 0, "text": "cat", "idea": "cat", "text_model": "t"}
    assert composer.at_submit(prompt=prompt, mode="text", came_from=came_from, chosen=chosen) is None
    kept = composer.at_submit(prompt="a cat, at dusk", mode="text", came_from=came_from, chosen=chosen)
    assert kept is not None and kept["template"]["name"] == "Pets" and kept["proposal"] == chosen
