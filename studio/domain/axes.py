"""A run's axes and their values in words, for the Experiment page and the contact sheet: the run's spec
names an axis ``var.animal`` or ``ratio`` and a model by its id; a designer reads "animal", "Aspect ratio"
and the model's name."""

from __future__ import annotations

from studio.domain import catalogue

AXIS_WORDS = {
    "prompt": "Prompt",
    "model": "Model",
    "ratio": "Aspect ratio",
    "size": "Image size",
    "seed": "Seed",
    "refs": "Reference set",
    "repeat": "Repeat",
    "row": "Row",
    "variant": "Variant",
}
NONE = "—"  # how studio.services.runs.label writes a missing value


def axis_label(axis: str | None) -> str:
    """The axis in words: a template variable by its own name ("animal"), a setting by its name."""
    if not axis:
        return NONE
    if axis.startswith("var."):
        return axis[4:].replace("_", " ") or axis
    return AXIS_WORDS.get(axis, axis.replace("_", " ").capitalize())


def value_label(axis: str | None, text: str) -> str:
    """One of the axis's value labels in words: a model's name, "default" for an unset ratio or size,
    "no seed", and repeats counted from 1."""
    if axis == "model" and text and text != NONE:
        return catalogue.display_label(text)
    if axis in ("ratio", "size") and text == NONE:
        return "default"
    if axis == "seed" and text == NONE:
        return "no seed"
    if axis == "refs" and text == NONE:
        return "no references"
    if axis in ("repeat", "variant") and text.isdigit():
        return f"{AXIS_WORDS[axis].lower()} {int(text) + 1}"
    return text
