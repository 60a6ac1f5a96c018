"""Which controls each model accepts (a model x control table), and stripping what it does not."""

from __future__ import annotations

import pytest

from studio.domain import advanced_controls as controls
from studio.domain import catalogue
from studio.domain.advanced_controls import (
    IMAGE_SEARCH,
    SAFETY,
    SEARCH,
    SEED,
    SYSTEM,
    TEMPERATURE,
    THINKING,
    THOUGHTS,
    TOP_P,
)
from studio.domain.requests import GenerationRequest
from studio.gemini import wire

FLASH31, PRO, FLASH25 = "gemini-3.1-flash-image", "gemini-3-pro-image", "gemini-2.5-flash-image"
LITE = "gemini-3.1-flash-lite-image"

#: model -> the controls it accepts (everything else must be refused with a reason)
ACCEPTS = {
    FLASH31: {SYSTEM, TEMPERATURE, TOP_P, SEED, THINKING, THOUGHTS, SEARCH, IMAGE_SEARCH, SAFETY},
    "gemini-3.1-flash-image-preview": {
        SYSTEM,
        TEMPERATURE,
        TOP_P,
        SEED,
        THINKING,
        THOUGHTS,
        SEARCH,
        IMAGE_SEARCH,
        SAFETY,
    },
    PRO: {SYSTEM, TEMPERATURE, TOP_P, SEED, THOUGHTS, SEARCH, SAFETY},
    "gemini-3-pro-image-preview": {SYSTEM, TEMPERATURE, TOP_P, SEED, THOUGHTS, SEARCH, SAFETY},
    FLASH25: {SYSTEM, TEMPERATURE, TOP_P, SEED, SAFETY},
    "gemini-2.5-flash-image-preview": {SYSTEM, TEMPERATURE, TOP_P, SEED, SAFETY},
    LITE: {SYSTEM, TEMPERATURE, TOP_P, SEED, THINKING, THOUGHTS, SAFETY},
}


def test_the_table_covers_every_catalogue_model():
    assert set(ACCEPTS) == set(catalogue.MODELS)


@pytest.mark.parametrize("model", sorted(ACCEPTS))
@pytest.mark.parametrize("control", controls.CONTROLS)
def test_model_by_control(model, control):
    support = controls.supported(model)[control]
    assert support.ok is (control in ACCEPTS[model])
    if not support.ok:
        assert support.reason.endswith(".") and len(support.reason) > 20  # a sentence, not a code


def test_every_control_is_reported_and_unpacks_as_a_pair():
    for model in [*catalogue.MODELS, "some-relay-model"]:
        table = controls.supported(model)
        assert set(table) == set(controls.CONTROLS)
        ok, reason = table[THINKING]
        assert isinstance(ok, bool) and isinstance(reason, str)


def test_thinking_levels_per_model_and_why_not():
    assert controls.thinking_levels(FLASH31) == ("MINIMAL", "HIGH")
    assert controls.thinking_levels(PRO) == ()
    assert controls.thinking_levels(FLASH25) == ()
    assert "always thinks" in controls.supported(PRO)[THINKING].reason
    assert "no thinking level" in controls.supported(FLASH25)[THINKING].reason
    assert "only Gemini 3" in controls.supported(FLASH25)[THOUGHTS].reason
    assert "3.1 Flash Image) only" in controls.supported(PRO)[IMAGE_SEARCH].reason


def test_unknown_models_allow_everything_and_say_so():
    table = controls.supported("my-relay/gemini-next-image")
    assert all(s.ok and s.reason == controls.UNKNOWN for s in table.values())
    assert controls.thinking_levels("my-relay/gemini-next-image") == controls.ALL_LEVELS


def test_safety_note_says_image_filters_are_not_controlled():
    reason = controls.supported(FLASH25)[SAFETY].reason
    assert "IMAGE_SAFETY" in reason and "not controlled" in reason


def test_several_models_accept_only_what_all_accept():
    table = controls.supported_by_all([FLASH31, PRO])
    assert table[SEARCH].ok and table[THOUGHTS].ok
    assert not table[THINKING].ok and "always thinks" in table[THINKING].reason
    assert not table[IMAGE_SEARCH].ok
    assert not controls.supported_by_all([FLASH31, FLASH25])[SEARCH].ok
    assert controls.common_levels([FLASH31, LITE]) == ("MINIMAL", "HIGH")
    assert controls.common_levels([FLASH31, PRO]) == ()
    assert controls.common_levels([FLASH31, "unknown-model"]) == ("MINIMAL", "HIGH")


def test_safety_entries_skip_defaults_and_bad_values():
    entries = controls.safety(
        {
            "HARM_CATEGORY_HATE_SPEECH": "BLOCK_NONE",
            "HARM_CATEGORY_HARASSMENT": None,
            "HARM_CATEGORY_DANGEROUS_CONTENT": "NOT_A_THRESHOLD",
        }
    )
    assert entries == ({"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"},)


def _everything(model: str) -> GenerationRequest:
    return GenerationRequest(
        prompt="a fox",
        model=model,
        system_instruction="be terse",
        temperature=0.5,
        top_p=0.9,
        seed=7,
        thinking_level="HIGH",
        include_thoughts=True,
        google_search=True,
        image_search=True,
        safety_settings=({"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"},),
    )


def test_strip_removes_what_the_model_refuses_and_names_it():
    req, removed = controls.strip(_everything(FLASH25))
    assert removed == ["Thinking level", "Show thoughts", "Google Search grounding", "Include image search"]
    body = wire.build_body(req)
    assert "thinkingConfig" not in body["generationConfig"] and "tools" not in body
    assert body["systemInstruction"] == {"parts": [{"text": "be terse"}]}
    assert body["generationConfig"]["temperature"] == 0.5 and body["generationConfig"]["seed"] == 7
    assert body["safetySettings"] == [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]


def test_strip_keeps_everything_a_model_accepts():
    req = _everything(FLASH31)
    assert controls.strip(req) == (req, [])
    body = wire.build_body(req)
    assert body["generationConfig"]["thinkingConfig"] == {"thinkingLevel": "HIGH", "includeThoughts": True}
    assert body["tools"] == [{"googleSearch": {"searchTypes": {"webSearch": {}, "imageSearch": {}}}}]


def test_strip_on_pro_keeps_web_search_but_not_image_search_or_level():
    req, removed = controls.strip(_everything(PRO))
    assert removed == ["Thinking level", "Include image search"]
    assert wire.build_body(req)["tools"] == [{"googleSearch": {}}]
    assert wire.build_body(req)["generationConfig"]["thinkingConfig"] == {"includeThoughts": True}


def test_strip_drops_a_level_the_model_does_not_list():
    req = GenerationRequest(prompt="x", model=FLASH31, thinking_level="MEDIUM")
    assert controls.strip(req) == (GenerationRequest(prompt="x", model=FLASH31), ["Thinking level"])
