"""Which generation controls a model accepts, and why not when it does not. Pure: no IO, no Streamlit.

Facts from docs/gemini-wire.md §2 (system instruction, generationConfig, tools): every image model takes a system
instruction, temperature, top-p and seed; only 3.1 Flash (and Flash-Lite) let you set the thinking
level (Pro always thinks); only Gemini 3 models return thought parts; Google Search grounding works on
Pro and 3.1 Flash, and image search on 3.1 Flash only. The UI disables a control whose ``ok`` is False
and shows ``reason`` as its help; ``strip`` clears such settings from a request (e.g. after a remix
moved to another model) and says which.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any, NamedTuple

from studio.domain import catalogue
from studio.domain.requests import GenerationRequest

SYSTEM, TEMPERATURE, TOP_P, SEED = "system_instruction", "temperature", "top_p", "seed"
THINKING, THOUGHTS = "thinking_level", "include_thoughts"
SEARCH, IMAGE_SEARCH, SAFETY = "google_search", "image_search", "safety_settings"
CONTROLS = (SYSTEM, TEMPERATURE, TOP_P, SEED, THINKING, THOUGHTS, SEARCH, IMAGE_SEARCH, SAFETY)
LABELS = {
    SYSTEM: "System instruction",
    TEMPERATURE: "Temperature",
    TOP_P: "Top-p",
    SEED: "Seed",
    THINKING: "Thinking level",
    THOUGHTS: "Show thoughts",
    SEARCH: "Google Search grounding",
    IMAGE_SEARCH: "Include image search",
    SAFETY: "Safety settings",
}

TEMPERATURE_RANGE = (0.0, 2.0)
TOP_P_RANGE = (0.0, 1.0)
SEED_RANGE = (-(2**31), 2**31 - 1)  # int32
#: Every level the API names; an unknown model may accept any of them.
ALL_LEVELS = ("MINIMAL", "LOW", "MEDIUM", "HIGH")
HARM_CATEGORIES = {
    "HARM_CATEGORY_HARASSMENT": "Harassment",
    "HARM_CATEGORY_HATE_SPEECH": "Hate speech",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT": "Sexually explicit",
    "HARM_CATEGORY_DANGEROUS_CONTENT": "Dangerous content",
}
THRESHOLDS = ("BLOCK_LOW_AND_ABOVE", "BLOCK_MEDIUM_AND_ABOVE", "BLOCK_ONLY_HIGH", "BLOCK_NONE", "OFF")

UNKNOWN = "Not in the catalogue; passed through unchecked."
SAFETY_NOTE = (
    "These filter the text side only: image output filters (IMAGE_SAFETY, IMAGE_PROHIBITED_CONTENT) "
    "are not controlled by them and still apply at BLOCK_NONE."
)
GEMINI3_TEMPERATURE = (
    "Google advises keeping 1.0 on Gemini 3 models; lower values can degrade their reasoning."
)


class Support(NamedTuple):
    ok: bool
    reason: str = ""  # why not (ok False), or a hint worth showing next to the control (ok True)


def supported(model_id: str) -> dict[str, Support]:
    """control -> Support for ``model_id``; every control in CONTROLS is present."""
    if not catalogue.is_known(model_id):
        return {control: Support(True, UNKNOWN) for control in CONTROLS}
    spec = catalogue.lookup(model_id)
    gemini3 = spec.signs_parts  # Gemini 3 models sign their parts; 2.5 does not
    return {
        SYSTEM: Support(True),
        TEMPERATURE: Support(True, GEMINI3_TEMPERATURE if gemini3 else ""),
        TOP_P: Support(True),
        SEED: Support(True, "Best-effort: the same seed usually, not always, gives the same image.")
        if spec.supports_seed
        else Support(False, f"{spec.label} does not accept a seed."),
        THINKING: _thinking(spec),
        THOUGHTS: Support(True, "Interim thought images and text come back apart from the final image.")
        if gemini3
        else Support(False, f"{spec.label} returns no thoughts; only Gemini 3 image models do."),
        SEARCH: Support(True)
        if spec.google_search
        else Support(
            False, f"{spec.label} has no Google Search grounding; Nano Banana Pro and Nano Banana 2 do."
        ),
        IMAGE_SEARCH: Support(True)
        if spec.image_search
        else Support(
            False, f"Image search is available on Nano Banana 2 (3.1 Flash Image) only, not on {spec.label}."
        ),
        SAFETY: Support(True, SAFETY_NOTE),
    }


def _thinking(spec: catalogue.ModelSpec) -> Support:
    if spec.thinking_levels:
        return Support(True, f"{' or '.join(spec.thinking_levels)}; thought tokens are billed either way.")
    if spec.signs_parts:
        return Support(False, f"{spec.label} always thinks; its thinking level cannot be set.")
    return Support(False, f"{spec.label} has no thinking level.")


def thinking_levels(model_id: str) -> tuple[str, ...]:
    """The values the thinking-level control offers (() when it cannot be set)."""
    if not catalogue.is_known(model_id):
        return ALL_LEVELS
    return catalogue.lookup(model_id).thinking_levels


def supported_by_all(model_ids: Iterable[str]) -> dict[str, Support]:
    """What every one of ``model_ids`` accepts (for a run over several models); the first refusal wins."""
    out = {control: Support(True) for control in CONTROLS}
    for model_id in model_ids:
        for control, support in supported(model_id).items():
            if out[control].ok and (not support.ok or not out[control].reason):
                out[control] = support
    return out


def common_levels(model_ids: Iterable[str]) -> tuple[str, ...]:
    """Thinking levels every model accepts, in ALL_LEVELS order."""
    sets = [set(thinking_levels(m)) for m in model_ids]
    return tuple(level for level in ALL_LEVELS if sets and all(level in s for s in sets))


def safety(thresholds: Mapping[str, str | None]) -> tuple[dict[str, str], ...]:
    """``safetySettings`` entries for the categories given a threshold, in HARM_CATEGORIES order."""
    return tuple(
        {"category": c, "threshold": str(thresholds[c])}
        for c in HARM_CATEGORIES
        if thresholds.get(c) in THRESHOLDS
    )


_CLEARED: dict[str, Any] = {
    SYSTEM: None,
    TEMPERATURE: None,
    TOP_P: None,
    SEED: None,
    THINKING: None,
    THOUGHTS: False,
    SEARCH: False,
    IMAGE_SEARCH: False,
    SAFETY: (),
}


def strip(req: GenerationRequest) -> tuple[GenerationRequest, list[str]]:
    """The request without settings its model does not accept, and the labels of those removed."""
    support = supported(req.model)
    changes: dict[str, Any] = {}
    for control, cleared in _CLEARED.items():
        value = getattr(req, control, cleared)
        if not support[control].ok and value != cleared:
            changes[control] = cleared
    levels = thinking_levels(req.model)
    if req.thinking_level and support[THINKING].ok and req.thinking_level not in levels:
        changes[THINKING] = None
    if changes.get(SEARCH) is False and getattr(req, IMAGE_SEARCH, False):
        changes[IMAGE_SEARCH] = False
    changes = {k: v for k, v in changes.items() if hasattr(req, k)}
    return (replace(req, **changes) if changes else req), [LABELS[k] for k in changes]
