"""Answers of text models (prompt enhancement): three styled rewrites of the last user turn."""

from __future__ import annotations

import json

from studio.emulator.protocol import Rejected, clean_prompt, field_of, invalid, last_user_turn, turn_text
from studio.emulator.responses import (
    candidate,
    count_tokens,
    envelope,
    modalities,
    prompt_usage,
    shorten,
    usage,
)

_STYLES = (
    "shot on an 85mm lens at f/1.8, warm golden-hour light, shallow depth of field, photorealistic",
    "wide 24mm view, soft overcast light, muted film colours, quiet editorial photography",
    "crisp studio lighting with a rim light, bold graphic composition, highly detailed illustration",
)


def text_response(model: str, data: dict, contents: list[dict]) -> dict:
    config = field_of(data, "generationConfig") or {}
    _, want_image = modalities(config) if field_of(config, "responseModalities") else (True, False)
    if want_image:
        raise Rejected(invalid("Model does not support the requested response modalities: image"))
    idea = shorten(clean_prompt(turn_text(last_user_turn(contents))), 280).rstrip(".") or "a quiet still life"
    proposals = [f"{idea}, {style}" for style in _STYLES]
    if field_of(config, "responseMimeType") == "application/json":
        text = json.dumps(proposals, ensure_ascii=False)
    else:
        text = proposals[0]
    meta = usage(prompt_usage(model, data, contents), text_tokens=count_tokens(text))
    return envelope(model, [candidate([{"text": text}])], meta)
