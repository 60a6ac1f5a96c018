"""AppTest of the Advanced controls against the real emulator: what each model allows, what reaches the
request body, thoughts shown apart from the final image, grounding sources, and the Edit page's start."""

from __future__ import annotations

import pytest

from studio.app.widgets.advanced_panel import THOUGHTS_TITLE
from studio.domain import advanced_controls as controls
from studio.domain.requests import GenerationRequest, ImagePart, Outcome
from tests.factories import png

from .helpers import all_text, walk

FLASH31, PRO, FLASH25 = "gemini-3.1-flash-image", "gemini-3-pro-image", "gemini-2.5-flash-image"


def _key(name: str, prefix: str = "gen") -> str:
    return f"{prefix}_adv_{name}"


def _body_for(emulator, prompt: str) -> dict:
    """The last generate body whose newest user turn starts with ``prompt`` (the emulator is shared)."""
    for record in reversed(emulator.requests):
        body = record.get("body")
        if isinstance(body, dict) and ":generateContent" in record["path"]:
            parts = body["contents"][-1].get("parts") or [{}]
            if parts[0].get("text", "").startswith(prompt):
                return body
    raise AssertionError(f"no request for {prompt!r}")


def _generate(at, studio, prompt: str) -> list[int]:
    at.text_area(key="gen_prompt").input(prompt).run()
    at.button(key="gen_submit").click().run()
    assert not at.exception, at.exception
    ids = at.session_state["gen_ids"]
    studio.wait(ids, timeout=20)
    at.run()
    assert not at.exception, at.exception
    return ids


def _thoughts_box(at):
    boxes = [e for e in at.expander if e.label == THOUGHTS_TITLE]
    assert len(boxes) == 1, [e.label for e in at.expander]
    return boxes[0]


def test_controls_follow_the_model_with_reasons(make_app, studio):
    at = make_app(studio).run()
    at.selectbox(key="gen_model").set_value(FLASH25).run()
    assert at.selectbox(key=_key("thinking")).disabled
    assert at.checkbox(key=_key("include_thoughts")).disabled
    assert at.checkbox(key=_key("google_search")).disabled
    assert not at.text_input(key=_key("system")).disabled
    assert not at.number_input(key=_key("temperature")).disabled
    page = all_text(at)
    assert "has no thinking level" in page and "only Gemini 3 image models do" in page

    at.selectbox(key="gen_model").set_value(PRO).run()
    assert at.selectbox(key=_key("thinking")).disabled
    assert "always thinks" in all_text(at)
    assert not at.checkbox(key=_key("include_thoughts")).disabled
    assert not at.checkbox(key=_key("google_search")).disabled
    assert at.checkbox(key=_key("image_search")).disabled

    at.selectbox(key="gen_model").set_value(FLASH31).run()
    thinking = at.selectbox(key=_key("thinking"))
    assert not thinking.disabled and thinking.options == ["Model default", "Minimal", "High"]
    at.checkbox(key=_key("google_search")).check().run()
    assert not at.checkbox(key=_key("image_search")).disabled


def test_values_reach_the_request_body(make_app, studio, emulator):
    at = make_app(studio).run()
    at.selectbox(key="gen_model").set_value(FLASH31).run()
    at.text_input(key=_key("system")).input("You are a product photographer.").run()
    at.number_input(key=_key("temperature")).set_value(0.4).run()
    at.number_input(key=_key("top_p")).set_value(0.8).run()
    at.number_input(key=_key("seed")).set_value(42).run()
    at.selectbox(key=_key("thinking")).set_value("HIGH").run()
    at.checkbox(key=_key("google_search")).check().run()
    at.checkbox(key=_key("image_search")).check().run()
    at.selectbox(key=_key("safety_hate_speech")).set_value("BLOCK_NONE").run()
    ids = _generate(at, studio, "controls reach the body")
    body = _body_for(emulator, "controls reach the body")
    config = body["generationConfig"]
    assert body["systemInstruction"] == {"parts": [{"text": "You are a product photographer."}]}
    assert config["temperature"] == pytest.approx(0.4) and config["topP"] == pytest.approx(0.8)
    assert config["seed"] == 42
    assert config["thinkingConfig"] == {"thinkingLevel": "HIGH"}
    assert body["tools"] == [{"googleSearch": {"searchTypes": {"webSearch": {}, "imageSearch": {}}}}]
    assert body["safetySettings"] == [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"}]
    settings = studio.get(ids[0]).settings
    assert settings["seed"] == 42 and settings["image_search"] is True


def test_values_for_another_model_do_not_leak(make_app, studio, emulator):
    at = make_app(studio).run()
    at.selectbox(key="gen_model").set_value(FLASH31).run()
    at.selectbox(key=_key("thinking")).set_value("HIGH").run()
    at.checkbox(key=_key("include_thoughts")).check().run()
    at.checkbox(key=_key("google_search")).check().run()
    at.selectbox(key="gen_model").set_value(FLASH25).run()
    _generate(at, studio, "no leak after switching")
    body = _body_for(emulator, "no leak after switching")
    assert "thinkingConfig" not in body["generationConfig"] and "tools" not in body
    assert "systemInstruction" not in body and "safetySettings" not in body


def test_thoughts_are_shown_apart_from_the_final_image(make_app, studio, emulator):
    at = make_app(studio).run()
    at.selectbox(key="gen_model").set_value(FLASH31).run()
    at.checkbox(key=_key("include_thoughts")).check().run()
    ids = _generate(at, studio, "a lantern on a pier")
    assert _body_for(emulator, "a lantern on a pier")["generationConfig"]["thinkingConfig"] == {
        "includeThoughts": True
    }
    record = studio.get(ids[0])
    assert record.status == "succeeded" and len(record.images) == 1 and len(record.thought_images) == 1
    box = _thoughts_box(at)
    assert "Planning the composition" in " ".join(t.value for t in box.text)
    inside = "\n".join(str(n.proto) for n in walk(box) if getattr(n, "proto", None) is not None)
    assert "Interim thought image" in inside
    assert len(at.image) == 2  # the final image outside, the thought image inside the expander
    assert record.thoughts_text and record.thoughts_text not in (record.text or "")


def test_no_thoughts_box_when_none_were_asked_for(make_app, studio):
    at = make_app(studio).run()
    at.selectbox(key="gen_model").set_value(FLASH31).run()
    _generate(at, studio, "a plain lantern")
    assert THOUGHTS_TITLE not in [e.label for e in at.expander]


def test_remix_prefills_the_controls(make_app, studio):
    at = make_app(studio)
    at.session_state["remix"] = GenerationRequest(
        prompt="remixed",
        model=FLASH31,
        system_instruction="keep it minimal",
        temperature=1.5,
        seed=9,
        thinking_level="HIGH",
        include_thoughts=True,
        google_search=True,
        safety_settings=({"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"},),
    )
    at.run()
    assert not at.exception, at.exception
    assert at.text_input(key=_key("system")).value == "keep it minimal"
    assert at.number_input(key=_key("temperature")).value == 1.5
    assert at.number_input(key=_key("seed")).value == 9
    assert at.selectbox(key=_key("thinking")).value == "HIGH"
    assert at.checkbox(key=_key("include_thoughts")).value
    assert at.checkbox(key=_key("google_search")).value
    assert at.selectbox(key=_key("safety_harassment")).value == "BLOCK_ONLY_HIGH"


def _grounded(studio, uris: list[tuple[str, str]]) -> int:
    """A stored generation with Google Search sources (the emulator does not ground)."""
    gen_id = studio._store.generations.create_pending(prompt="grounded", model=PRO, settings={}, owner="test")
    chunks = [{"web": {"uri": uri, "title": title}} for title, uri in uris]
    outcome = Outcome(
        images=[ImagePart(png(), "image/png")],
        finish_reason="STOP",
        grounding={"groundingChunks": chunks, "webSearchQueries": ["weather"]},
    )
    studio._store.generations.save_success(gen_id, outcome, latency_ms=10, cost_usd=0.1)
    return gen_id


def test_grounding_sources_are_listed_inert_with_links_only_for_web_urls(make_app, studio):
    gen_id = _grounded(
        studio,
        [("Met Office <b>forecast</b>", "https://example.org/forecast"), ("evil", "javascript:alert(1)")],
    )
    at = make_app(studio)
    at.session_state["gen_ids"] = [gen_id]
    at.run()
    assert not at.exception, at.exception
    shown = [t.value for t in at.text]
    assert "Met Office <b>forecast</b>\nhttps://example.org/forecast" in shown
    assert "evil\njavascript:alert(1)" in shown
    buttons = at.get("link_button")
    assert [b.proto.url for b in buttons] == ["https://example.org/forecast"]
    assert "not a web link" in all_text(at)


def test_edit_starts_from_a_history_generation(make_app, studio, emulator):
    source = studio.generate(
        GenerationRequest(prompt="a teacup", model=FLASH31, modalities=("TEXT", "IMAGE")), timeout=20
    )[0]
    at = make_app(studio).run()
    at.session_state["edit_source_id"] = source.id
    at.switch_page("screens/edit.py").run()
    assert not at.exception, at.exception
    assert f"Starting from generation #{source.id}" in all_text(at)
    assert not at.checkbox(key=_key("include_thoughts", "edit")).disabled  # the source's model: 3.1 Flash
    at.checkbox(key=_key("include_thoughts", "edit")).check().run()
    at.text_area(key="edit_first").input("make the teacup green").run()
    at.button(key="edit_start").click().run()
    assert not at.exception, at.exception
    head = at.session_state["edit_head"]
    assert "edit_source_id" not in at.session_state
    record = studio.wait([head], timeout=20)[0]
    assert record.parent_id == source.id and record.status == "succeeded"
    body = _body_for(emulator, "make the teacup green")
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    assert body["generationConfig"]["thinkingConfig"] == {"includeThoughts": True}
    at.run()
    assert not at.exception, at.exception
    assert "Conversation · 2 turns" in all_text(at)
    assert "Planning the composition" in " ".join(t.value for t in _thoughts_box(at).text)


def test_edit_controls_follow_the_chosen_model(make_app, studio):
    at = make_app(studio).run()
    at.switch_page("screens/edit.py").run()
    at.selectbox(key="edit_model").set_value(FLASH25).run()
    assert at.checkbox(key=_key("include_thoughts", "edit")).disabled
    assert at.selectbox(key=_key("thinking", "edit")).disabled
    at.selectbox(key="edit_model").set_value(FLASH31).run()
    assert not at.selectbox(key=_key("thinking", "edit")).disabled


def test_experiment_allows_only_what_every_model_accepts(make_app, studio):
    at = make_app(studio).run()
    at.switch_page("screens/experiment.py").run()
    at.multiselect(key="exp_models").set_value([FLASH31, PRO]).run()
    assert not at.exception, at.exception
    assert at.selectbox(key=_key("thinking", "exp")).disabled  # Pro's level cannot be set
    assert not at.checkbox(key=_key("include_thoughts", "exp")).disabled
    assert not at.checkbox(key=_key("google_search", "exp")).disabled
    at.multiselect(key="exp_models").set_value([FLASH31, FLASH25]).run()
    assert at.checkbox(key=_key("google_search", "exp")).disabled
    assert controls.supported(FLASH25)[controls.SEARCH].reason in all_text(at).replace("\\", "")
