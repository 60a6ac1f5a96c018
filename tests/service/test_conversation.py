"""Conversational editing against the real emulator, which verifies Gemini 3 thought signatures."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from types import SimpleNamespace

import pytest

from studio.domain import conversation
from studio.domain.errors import InputError
from studio.domain.requests import GenerationRequest
from studio.domain.settings import load_settings
from studio.emulator import Emulator
from studio.gemini import wire
from studio.imaging import images
from studio.services import editing
from studio.services.studio import Studio
from tests.factories import solid_image

pytestmark = pytest.mark.usefixtures("backend")

PRO = "gemini-3-pro-image"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def emu():
    with Emulator(port=0, signature_bytes=4096) as server:
        yield server


@pytest.fixture(scope="module")
def big_emu():
    """Signatures of 2 MB each, as large as real ones get."""
    with Emulator(port=0, signature_bytes=2 * MIB) as server:
        yield server


def make_studio(url: str, tmp_path, **env) -> Studio:
    return Studio(
        load_settings(
            {"STUDIO_BASE_URL": url, "STUDIO_API_KEY": "k", "STUDIO_DATA_DIR": str(tmp_path / "d"), **env}
        )
    )


@pytest.fixture
def studio(emu, tmp_path):
    s = make_studio(emu.url, tmp_path)
    yield s
    s.close()


def one(studio: Studio, ids: list[int]):
    [record] = studio.wait(ids, timeout=60)
    assert record.status == "succeeded", record.error_message
    return record


def last_body(emu: Emulator) -> dict:
    return [r for r in emu.requests if r["path"].endswith(":generateContent")][-1]["body"]


def test_second_turn_sends_the_model_turn_verbatim_and_the_emulator_accepts_it(studio, emu):
    upload = images.sanitize_upload(solid_image((10, 120, 200), (48, 32)), "start.png")
    first = one(studio, editing.start_edit(studio, "a blue bird", model=PRO, image=upload))
    stored = studio._store.generations.model_content(first.id)
    assert any("thoughtSignature" in part for part in stored["parts"])

    second = one(studio, editing.continue_edit(studio, first.id, "make the bird red"))
    body = last_body(emu)
    user, model, new = body["contents"]
    assert model == stored  # verbatim, every signature on the part that carried it
    assert user["parts"][0] == {"text": "a blue bird"} and "inlineData" in user["parts"][1]
    assert new == {"role": "user", "parts": [{"text": "make the bird red"}]}
    assert second.parent_id == first.id and second.model == PRO

    third = one(studio, editing.continue_edit(studio, second.id, "add a hat"))
    assert len(last_body(emu)["contents"]) == 5
    assert [r.id for r in conversation.chain(studio._store.history, third.id)] == [
        first.id,
        second.id,
        third.id,
    ]


def test_a_tampered_signature_is_rejected(studio):
    first = one(studio, editing.start_edit(studio, "a lamp", model=PRO))
    contents, note = conversation.build_history(studio._store.history, first.id)
    assert note == ""
    tampered = copy.deepcopy(contents)
    signed = next(p for p in tampered[1]["parts"] if "thoughtSignature" in p)
    signed["thoughtSignature"] = signed["thoughtSignature"][::-1]
    req = GenerationRequest(prompt="dim it", model=PRO, history=tuple(tampered), parent_id=first.id)
    [record] = studio.wait(studio.submit(req), timeout=60)
    assert record.status == "failed" and record.error_kind == "bad_request"
    assert "thought signature" in record.error_message
    dropped = copy.deepcopy(contents)
    for part in dropped[1]["parts"]:
        part.pop("thoughtSignature", None)
    [record] = studio.wait(studio.submit(replace(req, history=tuple(dropped))), timeout=60)
    assert record.status == "failed"


def test_branching_from_an_earlier_turn_builds_a_tree(studio):
    root = one(studio, editing.start_edit(studio, "a house", model=PRO))
    a = one(studio, editing.continue_edit(studio, root.id, "paint it green"))
    b = one(studio, editing.continue_edit(studio, root.id, "paint it yellow"))  # a branch
    c = one(studio, editing.continue_edit(studio, b.id, "add a garden"))
    history, _ = conversation.build_history(studio._store.history, c.id)
    texts = [p.get("text") for turn in history if turn["role"] == "user" for p in turn["parts"]]
    assert "paint it yellow" in texts and "paint it green" not in texts
    tree = conversation.tree(studio._store.history, root.id)
    assert [(depth, r.id) for depth, r in tree.walk()] == [(0, root.id), (1, a.id), (1, b.id), (2, c.id)]
    assert conversation.root_of(studio._store.history, c.id) == root.id


def test_starting_from_a_history_image_continues_its_conversation(studio, emu):
    plain = one(studio, studio.submit(GenerationRequest(prompt="a cup", model="gemini-2.5-flash-image")))
    started = one(studio, editing.start_edit(studio, "make it blue", from_generation=plain.id))
    assert started.parent_id == plain.id and started.model == "gemini-2.5-flash-image"
    assert [c["role"] for c in last_body(emu)["contents"]] == ["user", "model", "user"]
    with pytest.raises(InputError, match="not in the history"):
        editing.start_edit(studio, "x", from_generation=99_999)


def test_old_turns_are_dropped_to_stay_under_the_limit(big_emu, tmp_path):
    studio = make_studio(big_emu.url, tmp_path, STUDIO_MAX_REQUEST_MB="7")
    try:
        first = one(studio, editing.start_edit(studio, "a red kite", model=PRO))
        second = one(studio, editing.continue_edit(studio, first.id, "make it blue"))
        third = one(studio, editing.continue_edit(studio, second.id, "add a tail"))
        # each model turn carries >= 2 signed parts of 2 MB (about 2.7 MB base64 each): only the last fits
        fourth = one(studio, editing.continue_edit(studio, third.id, "add clouds"))
        note = fourth.composition["conversation"]["trimmed"]
        assert note.startswith("Older turns 1–2 were left out to keep the request under 7 MB.")
        body = last_body(big_emu)
        size = len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())
        assert size <= 7 * MIB
        contents = body["contents"]
        assert [c["role"] for c in contents] == ["user", "model", "user"]
        assert contents[1] == studio._store.generations.model_content(
            third.id
        )  # the kept model turn is whole
        assert "a red kite" in contents[0]["parts"][0]["text"]  # the first instruction, kept as text
    finally:
        studio.close()


def test_a_single_turn_over_the_limit_is_refused_with_a_reason(big_emu, tmp_path):
    studio = make_studio(big_emu.url, tmp_path, STUDIO_MAX_REQUEST_MB="1")
    try:
        first = one(studio, editing.start_edit(studio, "a boat", model=PRO))
        with pytest.raises(InputError, match="does not fit in a 1 MB request"):
            editing.continue_edit(studio, first.id, "sail it")
    finally:
        studio.close()


def test_safety_settings_are_sent_top_level(studio, emu):
    safety = ({"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"},)
    req = GenerationRequest(prompt="a calm lake", model=PRO, safety_settings=safety)
    assert wire.build_body(req)["safetySettings"] == [dict(safety[0])]
    record = one(studio, studio.submit(req))
    assert last_body(emu)["safetySettings"] == [dict(safety[0])]
    assert studio.request_for(record.id).safety_settings == safety  # a re-run sends them again


def test_sources_reads_grounding_chunks():
    record = SimpleNamespace(
        grounding={
            "groundingChunks": [
                {"web": {"uri": "https://example.org/a", "title": "Example A"}},
                {"web": {"uri": "https://example.org/b"}},
                {"web": {"uri": "https://example.org/a", "title": "Example A"}},
                {"retrievedContext": {}},
                "junk",
            ]
        }
    )
    assert conversation.sources(record) == [
        ("Example A", "https://example.org/a"),
        ("https://example.org/b", "https://example.org/b"),
    ]
    assert conversation.sources(SimpleNamespace(grounding=None)) == []
