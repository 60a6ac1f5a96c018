"""Successful generateContent bodies for image models: usage metadata, candidates, signed parts, SSE
streaming, and the models listing."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import secrets
from dataclasses import dataclass, field
from typing import Any

from studio.domain import catalogue
from studio.emulator.protocol import (
    SSE_TYPE,
    Rejected,
    Reply,
    all_text,
    b64encode,
    clean_prompt,
    count_input_images,
    field_of,
    invalid,
    last_user_index,
    reference_bytes,
    turn_text,
)
from studio.emulator.render import render_image
from studio.emulator.signatures import signature_for


def count_tokens(text: str) -> int:
    return math.ceil(len(text) / 4) if text else 0


def _input_image_tokens(model: str) -> int:
    if "3-pro" in model:
        return 560
    return 258 if "2.5" in model else 1120


def prompt_usage(model: str, data: dict, contents: list[dict]) -> dict:
    text = max(1, count_tokens(all_text(data, contents)))
    images = count_input_images(contents) * _input_image_tokens(model)
    details = [{"modality": "TEXT", "tokenCount": text}]
    if images:
        details.append({"modality": "IMAGE", "tokenCount": images})
    return {"promptTokenCount": text + images, "promptTokensDetails": details}


def usage(prompt: dict, *, image_tokens: int = 0, text_tokens: int = 0, thoughts: int = 0) -> dict:
    result = dict(prompt)
    if image_tokens or text_tokens:
        result["candidatesTokenCount"] = image_tokens + text_tokens
    if image_tokens:
        result["candidatesTokensDetails"] = [{"modality": "IMAGE", "tokenCount": image_tokens}]
    if thoughts:
        result["thoughtsTokenCount"] = thoughts
    result["totalTokenCount"] = prompt["promptTokenCount"] + image_tokens + text_tokens + thoughts
    result["serviceTier"] = "standard"
    return result


def _response_id() -> str:
    return base64.urlsafe_b64encode(os.urandom(17)).decode().rstrip("=")


def envelope(model: str, candidates: list[dict] | None, usage_metadata: dict, **extra: Any) -> dict:
    body: dict[str, Any] = {}
    if candidates is not None:
        body["candidates"] = candidates
    body.update(extra)
    body.update(usageMetadata=usage_metadata, modelVersion=model, responseId=_response_id())
    return body


def candidate(parts: list[dict] | None, finish: str = "STOP", message: str | None = None) -> dict:
    cand: dict[str, Any] = {"content": {"role": "model", "parts": parts} if parts else {"role": "model"}}
    cand["finishReason"] = finish
    if message:
        cand["finishMessage"] = message
    cand["index"] = 0
    return cand


@dataclass
class ImageJob:
    """A validated image request."""

    spec: catalogue.ModelSpec
    ratio: str
    size: str
    prompt: str
    seed: int | None
    references: tuple[bytes, ...]
    want_text: bool
    want_image: bool
    thoughts: bool
    prompt_usage: dict = field(default_factory=dict)


def modalities(config: dict) -> tuple[bool, bool]:
    raw = field_of(config, "responseModalities")
    if raw is None:
        return True, True
    if not isinstance(raw, list) or not raw:
        raise Rejected(invalid("responseModalities must be a non-empty list of TEXT and/or IMAGE."))
    names = {str(m).upper() for m in raw}
    if not names <= {"TEXT", "IMAGE"}:
        raise Rejected(invalid(f"Unsupported response modalities: {', '.join(sorted(names))}."))
    return "TEXT" in names, "IMAGE" in names


def _image_settings(spec: catalogue.ModelSpec, config: dict) -> tuple[str, str]:
    image_config = field_of(config, "imageConfig") or {}
    ratio = field_of(image_config, "aspectRatio") or "1:1"
    size = field_of(image_config, "imageSize") or "1K"
    if ratio not in spec.ratios:
        raise Rejected(
            invalid(
                f"Aspect ratio {ratio!r} is not supported by models/{spec.id}. "
                f"Supported: {', '.join(spec.ratios)}."
            )
        )
    allowed = spec.sizes or ("1K",)
    if size not in allowed:
        raise Rejected(
            invalid(
                f"Image size {size!r} is not supported by models/{spec.id}. Supported: {', '.join(allowed)}."
            )
        )
    return ratio, size


def _seed(config: dict) -> int:
    """Like the real API: a given seed is reproducible, no seed means a random one (variants differ)."""
    seed = field_of(config, "seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise Rejected(invalid(f"Invalid value at 'generation_config.seed' (TYPE_INT32), {seed!r}"))
    return seed if seed is not None else secrets.randbelow(2**31)


def image_job(spec: catalogue.ModelSpec, data: dict, contents: list[dict]) -> ImageJob:
    config = field_of(data, "generationConfig") or {}
    if not isinstance(config, dict):
        raise Rejected(invalid("Invalid value at 'generation_config': expected an object."))
    ratio, size = _image_settings(spec, config)
    want_text, want_image = modalities(config)
    thinking = field_of(config, "thinkingConfig") or {}
    index = last_user_index(contents)
    turn = contents[index] if index is not None else {"parts": []}
    return ImageJob(
        spec=spec,
        ratio=ratio,
        size=size,
        prompt=clean_prompt(turn_text(turn)),
        seed=_seed(config),
        references=reference_bytes(turn, index or 0),
        want_text=want_text,
        want_image=want_image,
        thoughts=spec.signs_parts and bool(field_of(thinking, "includeThoughts")),
        prompt_usage=prompt_usage(spec.id, data, contents),
    )


def _image_part(data: bytes, mime: str) -> dict:
    return {"inlineData": {"mimeType": mime, "data": b64encode(data)}}


def _sign(part: dict, payload: bytes, kind: str, size: int) -> dict:
    part["thoughtSignature"] = b64encode(signature_for(kind, payload, size))
    return part


def shorten(prompt: str, limit: int = 80) -> str:
    return prompt if len(prompt) <= limit else prompt[: limit - 1].rstrip() + "…"


def image_response(job: ImageJob, signature_bytes: int) -> dict:
    spec = job.spec
    width, height = spec.pixel_size(job.ratio, job.size) or (1024, 1024)
    digest = hashlib.sha256(f"{job.seed}|{job.prompt}".encode()).digest()
    parts: list[dict] = []
    thoughts = 120 + int.from_bytes(digest[:2], "big") % 400 if spec.signs_parts else 0
    if job.thoughts:
        parts += _thought_parts(job, width, height, signature_bytes)
    text = f"Here is an image of {shorten(job.prompt)}" if job.prompt else "Here is your image."
    if job.want_text:
        part = {"text": text}
        parts.append(_sign(part, text.encode(), "text", signature_bytes) if spec.signs_parts else part)
    image_tokens = 0
    if job.want_image:
        footer = f"{spec.id} · {job.ratio} · {job.size} · {width}x{height} · seed {job.seed}"
        data = render_image(width, height, spec.output_mime, job.prompt, job.seed, footer, job.references)
        part = _image_part(data, spec.output_mime)
        parts.append(_sign(part, data, "image", signature_bytes) if spec.signs_parts else part)
        image_tokens = spec.tokens(job.size)
    meta = usage(
        job.prompt_usage,
        image_tokens=image_tokens,
        text_tokens=count_tokens(text) if job.want_text else 0,
        thoughts=thoughts,
    )
    return envelope(spec.id, [candidate(parts)], meta)


def _thought_parts(job: ImageJob, width: int, height: int, signature_bytes: int) -> list[dict]:
    scale = 256 / max(width, height)
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    sketch = render_image(w, h, job.spec.output_mime, job.prompt, job.seed, "interim thought image")
    thought = f"**Planning the composition**\n\nSketching a layout for {shorten(job.prompt, 60)!r} first."
    image = _sign(
        {**_image_part(sketch, job.spec.output_mime), "thought": True}, sketch, "image", signature_bytes
    )
    return [{"text": thought, "thought": True}, image]


def sse_events(body: dict) -> list[dict]:
    """Split a response the way Google streams it: thoughts, text, each image, then a closing event."""
    cands = body.get("candidates") or []
    parts = ((cands[0].get("content") or {}).get("parts") or []) if cands else []
    if not parts or cands[0].get("finishReason") != "STOP":
        return [body]
    meta = {k: body[k] for k in ("usageMetadata", "modelVersion", "responseId") if k in body}
    groups: list[list[dict]] = []
    thoughts = [p for p in parts if p.get("thought")]
    if thoughts:
        groups.append(thoughts)
    groups += [[p] for p in parts if not p.get("thought")]
    events = [
        {"candidates": [{"content": {"role": "model", "parts": g}, "index": 0}], **meta} for g in groups
    ]
    final = {"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "STOP", "index": 0}
    events.append({"candidates": [final], **meta})
    return events


def sse_reply(body: dict) -> Reply:
    pieces = [
        b"data: " + json.dumps(e, ensure_ascii=False).encode("utf-8") + b"\r\n\r\n" for e in sse_events(body)
    ]
    return Reply(200, pieces, content_type=SSE_TYPE, chunked=True)


def model_info(model_id: str) -> dict:
    spec = catalogue.MODELS.get(model_id)
    return {
        "name": f"models/{model_id}",
        "version": "001",
        "displayName": spec.label if spec else model_id,
        "description": "Served by the studio emulator (images are rendered locally).",
        "inputTokenLimit": 65536 if spec else 1048576,
        "outputTokenLimit": 32768 if spec else 65536,
        "supportedGenerationMethods": ["generateContent", "countTokens"],
    }


def model_kind(model_id: str) -> str | None:
    if model_id in catalogue.MODELS:
        return "image"
    if model_id.startswith("gemini-") and "image" not in model_id:
        return "text"
    return None
