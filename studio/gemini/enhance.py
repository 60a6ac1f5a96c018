"""Prompt enhancement: a Gemini text model expands an idea into distinct image-prompt proposals.

Runs through the same endpoint and key as generation. On any failure the caller's prompt stays as
it was; the error says why.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from studio.domain.errors import BadResponse, InputError

if TYPE_CHECKING:
    from studio.gemini.client import GeminiClient

SYSTEM = (
    "You write prompts for an image generation model. Expand the user's idea into {n} distinct, vivid "
    "prompts. Each is one paragraph describing subject, setting, composition, camera and lens, lighting, "
    "style and colour palette. Keep any text the user wants rendered, verbatim and in quotes. "
    "Answer with a JSON array of {n} strings and nothing else."
)


def proposals_from_text(text: str, n: int) -> list[str]:
    """Read the model's answer: a JSON array (possibly fenced in ```json), else numbered lines."""
    cleaned = re.sub(r"^```(?:json)?\s*|\s*```$", "", text.strip())
    try:
        data = json.loads(cleaned)
    except ValueError:
        data = [re.sub(r"^\s*(?:\d+[.)]|[-*])\s*", "", line) for line in cleaned.splitlines()]
    if isinstance(data, dict):  # {"prompts": [...]} and similar
        data = next((v for v in data.values() if isinstance(v, list)), [])
    items = [" ".join(str(item).split()) for item in data if isinstance(item, str | int | float)]
    items = [item for item in dict.fromkeys(items) if item]
    if not items:
        raise BadResponse(
            "The text model's answer could not be read as prompt proposals; your prompt is unchanged."
        )
    return items[:n]


def enhance(client: GeminiClient, text_model: str, idea: str, n: int = 3) -> list[str]:
    """Ask ``text_model`` for ``n`` proposals. Raises StudioError subclasses; never edits anything."""
    idea = idea.strip()
    if not idea:
        raise InputError("Write an idea first; enhancement expands what you wrote.")
    text = client.generate_text(text_model, idea, system=SYSTEM.format(n=n), json_mode=True)
    return proposals_from_text(text, n)
