"""A local stand-in for the Gemini ``generateContent`` endpoint, with fault injection (``studio emulate``).

It is a real HTTP server (stdlib ``ThreadingHTTPServer``) speaking the same wire protocol as Google and
rendering real images with Pillow, so tests, benchmarks and the offline demo exercise the studio's real
client end to end. It deliberately shares no code with ``studio.wire``/``studio.client``: if both sides
read the protocol the same wrong way, tests against it would prove nothing.

Faults can be injected three ways (first match wins): an ``X-Emulator-Fault: NAME`` header, a
``[[fault:NAME]]`` / ``[[fault:NAME*K]]`` token in the last user turn's text, or server-wide
``faults=[...]`` (``--fault NAME``). ``FAULTS`` lists every name with what it does.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import functools
import hashlib
import io
import json
import math
import os
import re
import secrets
import socket
import sys
import textwrap
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from PIL import Image, ImageDraw, ImageFont

from studio import catalogue

DEFAULT_PORT = 8765
MAX_BODY_BYTES = 100 * 1024 * 1024  # Google's inline payload limit since 2026-01
REQUEST_LOG_SIZE = 50
SKIP_SIGNATURE = "skip_thought_signature_validator"
JSON_TYPE = "application/json; charset=UTF-8"
SSE_TYPE = "text/event-stream"
INPUT_MIME_TYPES = ("image/png", "image/jpeg", "image/webp", "image/heic", "image/heif")
TRICKLE_INTERVAL_S = 0.5
STALL_BODY_BYTES = 16

FAULTS: dict[str, str] = {
    "400": "400 INVALID_ARGUMENT (Google envelope)",
    "401": "401 UNAUTHENTICATED (Google envelope)",
    "403": "403 PERMISSION_DENIED (Google envelope)",
    "404": "404 NOT_FOUND with Google's 'models/X is not found' message",
    "413": "413 relay body-too-large, OpenAI-shaped envelope (code read_request_body_failed)",
    "429": "429 RESOURCE_EXHAUSTED per-minute quota, QuotaFailure + RetryInfo (--retry-delay)",
    "429-daily": "429 RESOURCE_EXHAUSTED per-day quota, no RetryInfo (waiting does not help)",
    "500": "500 INTERNAL (Google envelope)",
    "502": "502 with an HTML body (text/html), as a proxy or CDN sends",
    "503": "503 UNAVAILABLE 'The model is overloaded. Please try again later.'",
    "blocked": "200, no candidates, promptFeedback.blockReason PROHIBITED_CONTENT",
    "image_safety": "200, finishReason IMAGE_SAFETY with a finishMessage, content {role: model}",
    "image_prohibited": "200, finishReason IMAGE_PROHIBITED_CONTENT with a finishMessage",
    "no_image": "200, finishReason NO_IMAGE, content {}",
    "text_only": "200, finishReason STOP with only a text part (no image)",
    "max_tokens": "200, finishReason MAX_TOKENS, no image",
    "empty_candidates": '200, body {"candidates": []}',
    "malformed": "200 whose body is not JSON",
    "truncated": "200 whose Content-Length promises more than is sent; then the connection closes",
    "relay_error_200": "200 carrying an OpenAI-shaped relay error (type new_api_error, no available channel)",
    "relay_401": "401 with an OpenAI-shaped relay envelope 'invalid token'",
    "stall": "read the request, then send nothing for --stall-seconds (default 600)",
    "stall_body": "send status, headers and the first bytes of the body, then nothing",
    "trickle": "send a valid response one byte every 0.5 s",
    "close": "close the connection without any response",
}

_FAULT_TOKEN = re.compile(r"\[\[fault:([\w.-]+)(?:\*(\d+))?\]\]")
_LATENCY_TOKEN = re.compile(r"\[\[latency:(\d+(?:\.\d+)?)\]\]")
_ANY_TOKEN = re.compile(r"\[\[(?:fault|latency):[^\]]*\]\]")
_GENERATE = re.compile(r"^/(v1beta|v1)/models/([^/:]+):(generateContent|streamGenerateContent)$")
_MODEL = re.compile(r"^/(v1beta|v1)/models/([^/:]+)$")
_LIST = re.compile(r"^/(v1beta|v1)/models/?$")


# ----------------------------------------------------------------------------------------------------
# Replies and Google/relay envelopes


@dataclass
class Reply:
    """What to send: ``pieces`` are SSE events (chunked) or the one body; ``delivery`` shapes the send."""

    status: int
    pieces: list[bytes]
    content_type: str = JSON_TYPE
    chunked: bool = False
    delivery: str = "normal"  # normal | truncated | stall | stall_body | trickle | close


class Rejected(Exception):
    """Short-circuits request handling with an error reply."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def _dump(data: Any) -> bytes:
    # Google pretty-prints with two spaces; matching it keeps body sizes realistic.
    return json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8")


def json_reply(status: int, data: Any) -> Reply:
    return Reply(status, [_dump(data)])


def google_error(code: int, status: str, message: str, details: list[dict] | None = None) -> Reply:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    return json_reply(code, {"error": error})


def relay_error(status: int, message: str, code: str) -> Reply:
    request_id = hashlib.sha256(f"{time.time_ns()}".encode()).hexdigest()[:24]
    envelope = {"message": f"{message} (request id: {request_id})", "type": "new_api_error",
                "param": "", "code": code}
    return json_reply(status, {"error": envelope})


def invalid(message: str) -> Reply:
    return google_error(400, "INVALID_ARGUMENT", message)


def not_found(model: str, version: str = "v1beta", method: str = "generateContent") -> Reply:
    return google_error(404, "NOT_FOUND", (
        f"models/{model} is not found for API version {version}, or is not supported for {method}. "
        "Call ModelService.ListModels to see the list of available models and their supported methods."))


def _seconds(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".") or "0"


def _quota_error(model: str, retry_delay: float | None) -> Reply:
    per = "Minute" if retry_delay is not None else "Day"
    limit = 10 if retry_delay is not None else 100
    message = (
        "You exceeded your current quota, please check your plan and billing details. For more "
        "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. \n"
        "* Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, "
        f"limit: {limit}, model: {model}")
    details: list[dict] = [
        {"@type": "type.googleapis.com/google.rpc.Help",
         "links": [{"description": "Learn more about Gemini API quotas",
                    "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]},
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
         "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                         "quotaId": f"GenerateRequestsPer{per}PerProjectPerModel-FreeTier",
                         "quotaDimensions": {"location": "global", "model": model},
                         "quotaValue": str(limit)}]},
    ]
    if retry_delay is not None:
        message += f"\nPlease retry in {_seconds(retry_delay)}s."
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo",
                        "retryDelay": f"{_seconds(retry_delay)}s"})
    return google_error(429, "RESOURCE_EXHAUSTED", message, details)


MISSING_KEY_MESSAGE = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API.")


def missing_key() -> Reply:
    return google_error(403, "PERMISSION_DENIED", MISSING_KEY_MESSAGE)


def wrong_key() -> Reply:
    return google_error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
         "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}},
        {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US",
         "message": "API key not valid. Please pass a valid API key."},
    ])


# ----------------------------------------------------------------------------------------------------
# Reading requests (Google accepts camelCase and snake_case, even mixed)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def field_of(obj: Any, name: str, default: Any = None) -> Any:
    if not isinstance(obj, dict):
        return default
    if name in obj:
        return obj[name]
    return obj.get(_snake(name), default)


def b64decode(value: str) -> bytes:
    """Standard or URL-safe base64, padded or not (the proto3 JSON mapping allows all four)."""
    text = value.strip().replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    return base64.b64decode(text, validate=True)


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _is_user(content: dict) -> bool:
    return field_of(content, "role") in (None, "", "user")


def last_user_index(contents: list[Any]) -> int | None:
    for index in range(len(contents) - 1, -1, -1):
        if isinstance(contents[index], dict) and _is_user(contents[index]):
            return index
    return None


def last_user_turn(contents: list[Any]) -> dict:
    index = last_user_index(contents)
    return contents[index] if index is not None else {"parts": []}


def _parts(turn: Any) -> list[dict]:
    parts = field_of(turn, "parts")
    return [p for p in parts if isinstance(p, dict)] if isinstance(parts, list) else []


def turn_text(turn: Any) -> str:
    return "\n".join(p["text"] for p in _parts(turn) if isinstance(p.get("text"), str) and not p.get("thought"))


def clean_prompt(text: str) -> str:
    return " ".join(_ANY_TOKEN.sub(" ", text).split())


def _validate_contents(data: dict) -> list[dict]:
    contents = field_of(data, "contents")
    if not isinstance(contents, list) or not contents:
        raise Rejected(invalid("* GenerateContentRequest.contents: contents is not specified\n"))
    for i, content in enumerate(contents):
        if not isinstance(content, dict):
            raise Rejected(invalid(f"Invalid value at 'contents[{i}]': expected an object."))
        if field_of(content, "role") not in (None, "", "user", "model"):
            raise Rejected(invalid("Please use a valid role: user, model."))
        parts = field_of(content, "parts")
        if not isinstance(parts, list) or not parts or not all(isinstance(p, dict) for p in parts):
            raise Rejected(invalid(
                f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.\n"))
    return contents


def _inline(part: dict) -> dict | None:
    blob = field_of(part, "inlineData")
    return blob if isinstance(blob, dict) else None


def _reference_bytes(turn: dict, index: int) -> tuple[bytes, ...]:
    """Decoded inline images of the last user turn; 400 for what Google would refuse."""
    images = []
    for blob in filter(None, map(_inline, _parts(turn))):
        mime = str(field_of(blob, "mimeType") or "")
        if mime not in INPUT_MIME_TYPES:
            raise Rejected(invalid(f"Unsupported MIME type: {mime or '(none)'}"))
        try:
            raw = b64decode(str(field_of(blob, "data") or ""))
            with Image.open(io.BytesIO(raw)) as im:
                im.size  # noqa: B018 - the header parse is the check
        except (binascii.Error, ValueError, OSError, Image.DecompressionBombError):
            raise Rejected(invalid(
                f"Unable to process input image at contents[{index}]. Please retry or report in "
                "https://developers.generativeai.google/guide/troubleshooting")) from None
        images.append(raw)
    return tuple(images)


def _count_input_images(contents: list[dict]) -> int:
    return sum(1 for c in contents for p in _parts(c) if _inline(p))


def _all_text(data: dict, contents: list[dict]) -> str:
    system = field_of(data, "systemInstruction")
    texts = [turn_text(c) for c in contents]
    if isinstance(system, dict):
        texts.append(turn_text(system))
    return "".join(texts)


# ----------------------------------------------------------------------------------------------------
# Thought signatures (Gemini 3): deterministic bytes bound to the part's content


def signature_for(kind: str, content: bytes, size: int) -> bytes:
    digest = hashlib.sha256(b"studio-emulator:" + kind.encode() + b":" + content).digest()
    return (digest * (size // len(digest) + 1))[:size]


def _part_signature(part: dict, size: int) -> bytes | None:
    blob = _inline(part)
    if blob is not None:
        try:
            return signature_for("image", b64decode(str(field_of(blob, "data") or "")), size)
        except (binascii.Error, ValueError):
            return None
    return signature_for("text", str(part.get("text", "")).encode("utf-8"), size)


def _signed_indexes(parts: list[dict]) -> list[int]:
    """Parts that must carry a signature: every image part and the first non-thought text part."""
    first_text = next((i for i, p in enumerate(parts) if "text" in p and not p.get("thought")), None)
    return [i for i, p in enumerate(parts) if _inline(p) is not None or i == first_text]


def verify_signatures(contents: list[dict], size: int) -> None:
    for index, content in enumerate(contents):
        if field_of(content, "role") != "model":
            continue
        parts = _parts(content)
        for i in _signed_indexes(parts):
            given = field_of(parts[i], "thoughtSignature")
            if given == SKIP_SIGNATURE:
                continue
            if not isinstance(given, str) or not _signature_matches(given, parts[i], size):
                raise Rejected(invalid(
                    "Unable to submit request because it has an invalid thought signature for content "
                    f"at index {index}"))


def _signature_matches(given: str, part: dict, size: int) -> bool:
    try:
        return b64decode(given) == _part_signature(part, size)
    except (binascii.Error, ValueError):
        return False


# ----------------------------------------------------------------------------------------------------
# Rendering


@functools.lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, ValueError, TypeError):  # no FreeType: the small bitmap font still works
        return ImageFont.load_default()


def _colour(seed: bytes, i: int) -> tuple[int, int, int]:
    return seed[i % 32], seed[(i + 1) % 32], seed[(i + 2) % 32]


def _background(size: tuple[int, int], digest: bytes) -> Image.Image:
    # A 2x2 image of corner colours scaled up is a smooth four-way gradient in one fast C call.
    corners = Image.new("RGB", (2, 2))
    corners.putdata([_colour(digest, 0), _colour(digest, 3), _colour(digest, 6), _colour(digest, 9)])
    return corners.resize(size, Image.Resampling.BILINEAR)


def _shapes(canvas: Image.Image, digest: bytes) -> Image.Image:
    overlay = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    w, h = canvas.size
    for i in range(6):
        b = digest[(i * 5) % 27:(i * 5) % 27 + 5]
        x, y, r = b[0] * w // 255, b[1] * h // 255, max(8, b[2] * min(w, h) // 600)
        box = (x - r, y - r, x + r, y + r)
        fill = (*_colour(digest, 12 + i), 110)
        (draw.ellipse if b[3] % 2 else draw.rectangle)(box, fill=fill)
    return Image.alpha_composite(canvas.convert("RGBA"), overlay).convert("RGB")


def _wrap(text: str, font: Any, width: int, max_lines: int) -> list[str]:
    chars = max(8, int(width / max(1.0, font.getlength("n"))))
    lines = textwrap.wrap(text, chars) or ["(no prompt)"]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: max(0, chars - 1)] + "…"
    return lines


def _caption(canvas: Image.Image, prompt: str, footer: str) -> None:
    draw = ImageDraw.Draw(canvas, "RGBA")  # RGBA mode blends the translucent panels
    w, h = canvas.size
    unit = max(8, min(int(math.sqrt(w * h) / 28), h // 7))
    label_font, text_font, small = _font(unit), _font(max(8, unit * 3 // 4)), _font(max(7, unit // 2))
    draw.rectangle((0, 0, w, unit * 2), fill=(0, 0, 0, 190))
    draw.text((unit // 2, unit // 2), "STUDIO EMULATOR · DEMO", font=label_font, fill=(255, 236, 120, 255))
    lines = _wrap(prompt, text_font, w - unit * 2, max_lines=max(1, (h - unit * 5) // (unit + 2)))
    top = max(unit * 3, (h - len(lines) * (unit + 2)) // 2)
    draw.rectangle((unit // 2, top - unit // 2, w - unit // 2, top + len(lines) * (unit + 2) + unit // 2),
                   fill=(0, 0, 0, 120))
    for n, line in enumerate(lines):
        draw.text((unit, top + n * (unit + 2)), line, font=text_font, fill=(255, 255, 255, 255))
    draw.text((unit // 2, h - unit), footer, font=small, fill=(255, 255, 255, 230))


def _paste_references(canvas: Image.Image, references: tuple[bytes, ...]) -> None:
    w, h = canvas.size
    side = max(16, min(w, h) // 6)
    x = side // 4
    for raw in references:
        if x + side > w:
            break
        try:
            with Image.open(io.BytesIO(raw)) as im:
                im.draft("RGB", (side, side))
                thumb = im.convert("RGB")
            thumb.thumbnail((side, side))
        except (OSError, ValueError, Image.DecompressionBombError):
            thumb = Image.new("RGB", (side, side), (90, 90, 90))
        y = h - side - side // 2
        ImageDraw.Draw(canvas).rectangle((x - 2, y - 2, x + thumb.width + 1, y + thumb.height + 1),
                                         fill=(255, 255, 255, 255))
        canvas.paste(thumb, (x, y))
        x += side + side // 4


@functools.lru_cache(maxsize=16)
def render_image(width: int, height: int, mime: str, prompt: str, seed: int | None, footer: str,
                 references: tuple[bytes, ...] = ()) -> bytes:
    """Deterministic image of exactly width x height from the prompt and seed, encoded as ``mime``.

    Drawn small and scaled up so a 4K image costs a resize and an encode, not a 4K drawing.
    """
    digest = hashlib.sha256(f"{seed}|{prompt}".encode()).digest()
    scale = min(1.0, max(1024 / max(width, height), 320 / min(width, height)))
    small = (max(1, round(width * scale)), max(1, round(height * scale)))
    canvas = _shapes(_background(small, digest), digest)
    _caption(canvas, prompt, footer)
    _paste_references(canvas, references)
    image = canvas
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    if mime == "image/jpeg":
        image.save(out, "JPEG", quality=90)
    else:
        image.save(out, "PNG", compress_level=1)
    return out.getvalue()


# ----------------------------------------------------------------------------------------------------
# Building responses


def _tokens(text: str) -> int:
    return math.ceil(len(text) / 4) if text else 0


def _input_image_tokens(model: str) -> int:
    if "3-pro" in model:
        return 560
    return 258 if "2.5" in model else 1120


def prompt_usage(model: str, data: dict, contents: list[dict]) -> dict:
    text = max(1, _tokens(_all_text(data, contents)))
    images = _count_input_images(contents) * _input_image_tokens(model)
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


def _modalities(config: dict) -> tuple[bool, bool]:
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
        raise Rejected(invalid(f"Aspect ratio {ratio!r} is not supported by models/{spec.id}. "
                               f"Supported: {', '.join(spec.ratios)}."))
    allowed = spec.sizes or ("1K",)
    if size not in allowed:
        raise Rejected(invalid(f"Image size {size!r} is not supported by models/{spec.id}. "
                               f"Supported: {', '.join(allowed)}."))
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
    want_text, want_image = _modalities(config)
    thinking = field_of(config, "thinkingConfig") or {}
    index = last_user_index(contents)
    turn = contents[index] if index is not None else {"parts": []}
    return ImageJob(
        spec=spec, ratio=ratio, size=size, prompt=clean_prompt(turn_text(turn)), seed=_seed(config),
        references=_reference_bytes(turn, index or 0),
        want_text=want_text, want_image=want_image,
        thoughts=spec.signs_parts and bool(field_of(thinking, "includeThoughts")),
        prompt_usage=prompt_usage(spec.id, data, contents),
    )


def _image_part(data: bytes, mime: str) -> dict:
    return {"inlineData": {"mimeType": mime, "data": _b64encode(data)}}


def _sign(part: dict, payload: bytes, kind: str, size: int) -> dict:
    part["thoughtSignature"] = _b64encode(signature_for(kind, payload, size))
    return part


def _short(prompt: str, limit: int = 80) -> str:
    return prompt if len(prompt) <= limit else prompt[: limit - 1].rstrip() + "…"


def image_response(job: ImageJob, signature_bytes: int) -> dict:
    spec = job.spec
    width, height = spec.pixel_size(job.ratio, job.size) or (1024, 1024)
    digest = hashlib.sha256(f"{job.seed}|{job.prompt}".encode()).digest()
    parts: list[dict] = []
    thoughts = 120 + int.from_bytes(digest[:2], "big") % 400 if spec.signs_parts else 0
    if job.thoughts:
        parts += _thought_parts(job, width, height, signature_bytes)
    text = f"Here is an image of {_short(job.prompt)}" if job.prompt else "Here is your image."
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
    meta = usage(job.prompt_usage, image_tokens=image_tokens,
                 text_tokens=_tokens(text) if job.want_text else 0, thoughts=thoughts)
    return envelope(spec.id, [candidate(parts)], meta)


def _thought_parts(job: ImageJob, width: int, height: int, signature_bytes: int) -> list[dict]:
    scale = 256 / max(width, height)
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    sketch = render_image(w, h, job.spec.output_mime, job.prompt, job.seed, "interim thought image")
    thought = f"**Planning the composition**\n\nSketching a layout for {_short(job.prompt, 60)!r} first."
    image = _sign({**_image_part(sketch, job.spec.output_mime), "thought": True}, sketch, "image", signature_bytes)
    return [{"text": thought, "thought": True}, image]


_STYLES = (
    "shot on an 85mm lens at f/1.8, warm golden-hour light, shallow depth of field, photorealistic",
    "wide 24mm view, soft overcast light, muted film colours, quiet editorial photography",
    "crisp studio lighting with a rim light, bold graphic composition, highly detailed illustration",
)


def text_response(model: str, data: dict, contents: list[dict]) -> dict:
    config = field_of(data, "generationConfig") or {}
    _, want_image = _modalities(config) if field_of(config, "responseModalities") else (True, False)
    if want_image:
        raise Rejected(invalid("Model does not support the requested response modalities: image"))
    idea = _short(clean_prompt(turn_text(last_user_turn(contents))), 280).rstrip(".") or "a quiet still life"
    proposals = [f"{idea}, {style}" for style in _STYLES]
    if field_of(config, "responseMimeType") == "application/json":
        text = json.dumps(proposals, ensure_ascii=False)
    else:
        text = proposals[0]
    meta = usage(prompt_usage(model, data, contents), text_tokens=_tokens(text))
    return envelope(model, [candidate([{"text": text}])], meta)


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
    events = [{"candidates": [{"content": {"role": "model", "parts": g}, "index": 0}], **meta} for g in groups]
    final = {"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "STOP", "index": 0}
    events.append({"candidates": [final], **meta})
    return events


def sse_reply(body: dict) -> Reply:
    pieces = [b"data: " + json.dumps(e, ensure_ascii=False).encode("utf-8") + b"\r\n\r\n"
              for e in sse_events(body)]
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


# ----------------------------------------------------------------------------------------------------
# Faults


_CONTENT_FINISH = {
    "image_safety": ("IMAGE_SAFETY",
                     "Unable to show the generated image. The image was filtered out because it violated "
                     "Google's Generative AI Prohibited Use policy. You will not be charged for blocked "
                     "images. Try rephrasing the prompt. If you think this was an error, send feedback. "
                     "Support code: 11030041."),
    "image_prohibited": ("IMAGE_PROHIBITED_CONTENT",
                         "Unable to show the generated image due to interests of third-party content "
                         "providers. Please edit your prompt and try again. If you think this was an "
                         "error, send feedback. Support code: 35561575."),
}


def status_fault(name: str, model: str, retry_delay: float) -> Reply | None:
    """Faults that are a fixed error reply, or None."""
    simple = {
        "400": lambda: invalid("Request contains an invalid argument."),
        "401": lambda: google_error(401, "UNAUTHENTICATED", (
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
            "other valid authentication credential.")),
        "403": lambda: google_error(403, "PERMISSION_DENIED", "The caller does not have permission"),
        "404": lambda: not_found(model),
        "413": lambda: relay_error(413, "request body too large", "read_request_body_failed"),
        "429": lambda: _quota_error(model, retry_delay),
        "429-daily": lambda: _quota_error(model, None),
        "500": lambda: google_error(500, "INTERNAL", (
            "An internal error has occurred. Please retry or report in "
            "https://developers.generativeai.google/guide/troubleshooting")),
        "502": lambda: Reply(502, [b"<html><body>502 Bad Gateway</body></html>"], "text/html; charset=UTF-8"),
        "503": lambda: google_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
        "relay_401": lambda: relay_error(401, "invalid token", ""),
        "relay_error_200": lambda: relay_error(
            200, f"no available channel for model {model} under group default", "get_channel_failed"),
        "empty_candidates": lambda: json_reply(200, {"candidates": []}),
        "malformed": lambda: Reply(200, [b'{"candidates": [{"content": {"role": "model", "parts": [<html>']),
    }
    make = simple.get(name)
    return make() if make else None


def content_fault(name: str, model: str, data: dict, contents: list[dict]) -> dict | None:
    """Faults that are a well-formed 200 without an image, or None."""
    prompt = prompt_usage(model, data, contents)
    if name == "blocked":
        return envelope(model, None, usage(prompt), promptFeedback={"blockReason": "PROHIBITED_CONTENT"})
    if name in _CONTENT_FINISH:
        finish, message = _CONTENT_FINISH[name]
        return envelope(model, [candidate(None, finish, message)], usage(prompt, thoughts=150))
    if name == "no_image":
        cand = {"content": {}, "finishReason": "NO_IMAGE", "index": 0}
        return envelope(model, [cand], usage(prompt))
    if name == "text_only":
        text = ("I can't create that image, but here is a description of what it could look like: "
                + (_short(clean_prompt(turn_text(last_user_turn(contents))), 200) or "a quiet still life"))
        return envelope(model, [candidate([{"text": text}])], usage(prompt, text_tokens=_tokens(text)))
    if name == "max_tokens":
        return envelope(model, [candidate(None, "MAX_TOKENS")], usage(prompt, thoughts=4096))
    return None


# ----------------------------------------------------------------------------------------------------
# The server


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for stalled handlers
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        self.emulator = emulator
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError) or self.emulator.stopping.is_set():
            return  # clients hang up mid-response on purpose (timeouts, tests); not worth a traceback
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "StudioEmulator/1.0"
    sys_version = ""
    server: _Server

    # -- connection bookkeeping, so stop() can wake handlers blocked on a socket
    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the stdlib line includes the query string, i.e. a ?key=; we log our own redacted line

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    @property
    def emulator(self) -> Emulator:
        return self.server.emulator

    # -- dispatch
    def _dispatch(self, method: str) -> None:
        started = time.monotonic()
        split = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        record: dict[str, Any] = {
            "method": method, "path": split.path,
            "query": {k: ("[redacted]" if k == "key" else v) for k, v in query.items()},
            "auth_mode": None, "model": None, "body": None, "fault": None, "received_at": time.time(),
        }
        reply: Reply | None = None
        try:
            raw = self._read_body()
            self.emulator._record(record)
            reply = self._route(method, split.path, query, raw, record)
        except Rejected as exc:
            reply = exc.reply
        except ConnectionError:
            return self._abort()
        except Exception as exc:  # an emulator bug: answer like Google's 500 and show the traceback
            traceback.print_exc()
            reply = google_error(500, "INTERNAL", f"The emulator failed: {type(exc).__name__}")
        record["answered_at"] = time.time()
        record["status"] = reply.status if reply else None
        if reply is not None:
            self._deliver(reply)
        self.emulator._log(f"{method} {split.path} -> {record['status']}"
                           f"{' fault=' + record['fault'] if record['fault'] else ''}"
                           f" in {time.monotonic() - started:.2f}s")

    def _read_body(self) -> bytes:
        try:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                return self._read_chunked()
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True  # we cannot tell where the next request starts
            raise Rejected(invalid("Invalid Content-Length or chunked framing.")) from None
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            raise Rejected(invalid(f"Request payload size exceeds the limit: {MAX_BODY_BYTES} bytes."))
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        out = bytearray()
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline().strip():  # trailers
                    pass
                return bytes(out)
            out += self.rfile.read(size)
            self.rfile.readline()
            if len(out) > MAX_BODY_BYTES:
                self.close_connection = True
                raise Rejected(invalid(f"Request payload size exceeds the limit: {MAX_BODY_BYTES} bytes."))

    def _route(self, method: str, path: str, query: dict, raw: bytes, record: dict) -> Reply | None:
        generate, one, listing = _GENERATE.match(path), _MODEL.match(path), _LIST.match(path)
        if method == "POST" and generate:
            version, model, verb = generate.groups()
            record["model"] = model
            self._authenticate(query, record)
            return self._generate(version, model, verb == "streamGenerateContent", raw, record)
        if method == "GET" and (one or listing):
            self._authenticate(query, record)
            if listing:
                ids = [*catalogue.MODELS, catalogue.DEFAULT_TEXT_MODEL]
                return json_reply(200, {"models": [model_info(m) for m in ids]})
            version, model = one.groups()  # type: ignore[union-attr]
            record["model"] = model
            return json_reply(200, model_info(model)) if model_kind(model) else not_found(model, version)
        return google_error(404, "NOT_FOUND", f"Requested URL {path} was not found on this server.")

    def _authenticate(self, query: dict, record: dict) -> None:
        bearer = self.headers.get("Authorization") or ""
        if self.headers.get("x-goog-api-key"):
            mode, key = "goog", self.headers["x-goog-api-key"]
        elif bearer.lower().startswith("bearer ") and bearer[7:].strip():
            mode, key = "bearer", bearer[7:].strip()
        elif query.get("key"):
            mode, key = "query", query["key"]
        else:
            raise Rejected(missing_key())
        record["auth_mode"] = mode
        if self.emulator.key is not None and key.strip() != self.emulator.key:
            raise Rejected(wrong_key())

    # -- generateContent
    def _generate(self, version: str, model: str, stream: bool, raw: bytes, record: dict) -> Reply | None:
        try:
            data = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise Rejected(invalid(f"Invalid JSON payload received. {exc}")) from None
        if not isinstance(data, dict):
            raise Rejected(invalid("Invalid JSON payload received. Expected an object."))
        record["body"] = data
        contents = field_of(data, "contents")
        prompt = turn_text(last_user_turn(contents)) if isinstance(contents, list) else ""
        fault = self.emulator._pick_fault(self.headers.get("X-Emulator-Fault"), prompt)
        record["fault"] = fault
        if self.emulator._wait(self.emulator.latency + _prompt_latency(prompt)):
            return Reply(0, [], delivery="close")
        if fault:
            return self._faulted(fault, version, model, stream, data)
        return self._answer(version, model, stream, data)

    def _answer(self, version: str, model: str, stream: bool, data: dict) -> Reply:
        kind = model_kind(model)
        if kind is None:
            return not_found(model, version, "streamGenerateContent" if stream else "generateContent")
        contents = _validate_contents(data)
        if kind == "text":
            body = text_response(model, data, contents)
        else:
            spec = catalogue.MODELS[model]
            if spec.signs_parts:
                verify_signatures(contents, self.emulator.signature_bytes)
            body = image_response(image_job(spec, data, contents), self.emulator.signature_bytes)
        return sse_reply(body) if stream else json_reply(200, body)

    def _faulted(self, fault: str, version: str, model: str, stream: bool, data: dict) -> Reply:
        if fault in ("stall", "close"):
            return Reply(0, [], delivery=fault)
        if fault in ("truncated", "stall_body", "trickle"):
            reply = self._answer(version, model, stream, data)
            reply.delivery = fault
            return reply
        reply = status_fault(fault, model, self.emulator.retry_delay)
        if reply is not None:
            if fault == "malformed" and stream:
                return Reply(200, [b"data: " + reply.pieces[0] + b"\r\n\r\n"], SSE_TYPE, chunked=True)
            return reply
        contents = field_of(data, "contents")
        contents = [c for c in contents if isinstance(c, dict)] if isinstance(contents, list) else []
        body = content_fault(fault, model, data, contents)
        assert body is not None, fault  # every name in FAULTS is handled above
        return sse_reply(body) if stream else json_reply(200, body)

    # -- sending
    def _deliver(self, reply: Reply) -> None:
        try:
            self._send(reply)
        except OSError:
            self._abort()

    def _send(self, reply: Reply) -> None:
        if reply.delivery == "close":
            return self._abort()
        if reply.delivery == "stall":
            self.emulator._wait(self.emulator.stall_seconds)
            return self._abort()
        payload = b"".join(reply.pieces)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        if reply.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(payload)))
        self.send_header("Vary", "Origin, X-Origin, Referer")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        frame = _chunk if reply.chunked else (lambda b: b)
        if reply.delivery == "truncated":
            self.wfile.write(frame(payload[: len(payload) // 2]))
            return self._abort()
        if reply.delivery == "stall_body":
            self.wfile.write(frame(payload[:STALL_BODY_BYTES]))
            self.emulator._wait(self.emulator.stall_seconds)
            return self._abort()
        if reply.delivery == "trickle":
            return self._trickle(payload, frame)
        for piece in reply.pieces:
            self.wfile.write(frame(piece))
        if reply.chunked:
            self.wfile.write(b"0\r\n\r\n")

    def _trickle(self, payload: bytes, frame: Callable[[bytes], bytes]) -> None:
        for i in range(len(payload)):
            self.wfile.write(frame(payload[i:i + 1]))
            if self.emulator._wait(TRICKLE_INTERVAL_S):
                return self._abort()
        if frame is _chunk:
            self.wfile.write(b"0\r\n\r\n")

    def _abort(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data) if data else b""


def _prompt_latency(prompt: str) -> float:
    return sum(float(m) for m in _LATENCY_TOKEN.findall(prompt))


class Emulator:
    """The emulator server. ``with Emulator() as emu: httpx.post(emu.url + ...)``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, latency: float = 0.0, key: str | None = None,
                 faults: Iterable[str] = (), fault_count: int | None = None, retry_delay: float = 1.0,
                 signature_bytes: int = 4096, stall_seconds: float = 600.0) -> None:
        self.faults = list(faults)
        unknown = [f for f in self.faults if f not in FAULTS]
        if unknown:
            raise ValueError(f"Unknown emulator fault(s): {', '.join(unknown)}. Known: {', '.join(FAULTS)}.")
        self.host, self.port = host, port
        self.latency, self.key, self.fault_count = latency, key, fault_count
        self.retry_delay, self.stall_seconds = retry_delay, stall_seconds
        self.signature_bytes = max(1, signature_bytes)
        self.requests: list[dict] = []
        self.stopping = threading.Event()
        self.log: Callable[[str], None] | None = None
        self._lock = threading.Lock()
        self._served = 0  # generate requests that reached the server-wide fault step
        self._prompt_hits: dict[tuple[str, str], int] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle
    def bind(self) -> Emulator:
        if self._server is None:
            self._server = _Server((self.host, self.port), self)
            self.port = self._server.server_address[1]
        return self

    def start(self) -> Emulator:
        self.bind()
        assert self._server is not None
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"studio-emulator-{self.port}", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.bind()
        assert self._server is not None
        try:
            self._server.serve_forever(poll_interval=0.1)
        finally:
            self._close()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self) -> None:
        self.stopping.set()  # wakes stalled, trickling and sleeping handlers
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._close()

    def _close(self) -> None:
        self.stopping.set()
        server, self._server = self._server, None
        if server is None:
            return
        with server.connections_lock:
            open_connections = list(server.connections)
        for conn in open_connections:  # idle keep-alive handlers block in recv until their socket dies
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- used by handlers
    def _record(self, record: dict) -> None:
        with self._lock:
            self.requests.append(record)
            del self.requests[:-REQUEST_LOG_SIZE]

    def _log(self, line: str) -> None:
        if self.log is not None:
            self.log(line)

    def _wait(self, seconds: float) -> bool:
        """Sleep that stop() interrupts; True when stopping."""
        return self.stopping.wait(seconds) if seconds > 0 else self.stopping.is_set()

    def _pick_fault(self, header: str | None, prompt: str) -> str | None:
        if header and header.strip():
            return _known_fault(header.strip())
        match = _FAULT_TOKEN.search(prompt)
        if match:
            name, limit = _known_fault(match.group(1)), match.group(2)
            if limit is None:
                return name
            with self._lock:
                hits = self._prompt_hits[(name, prompt)] = self._prompt_hits.get((name, prompt), 0) + 1
            return name if hits <= int(limit) else None
        if not self.faults:
            return None
        with self._lock:
            n = self._served
            self._served += 1
        if self.fault_count is not None and n >= self.fault_count:
            return None
        return self.faults[n % len(self.faults)]


def _known_fault(name: str) -> str:
    if name not in FAULTS:
        raise Rejected(invalid(f"Unknown emulator fault {name!r}. Known faults: {', '.join(FAULTS)}."))
    return name


# ----------------------------------------------------------------------------------------------------
# CLI: `studio emulate`


def _help_epilog() -> str:
    width = max(map(len, FAULTS))
    faults = "\n".join(f"  {name:<{width}}  {text}" for name, text in FAULTS.items())
    return (
        "Images are rendered locally with Pillow; nothing is sent to Google.\n\n"
        "Fault names:\n" + faults + "\n\n"
        "Ways to inject a fault (first match wins):\n"
        "  1. request header   X-Emulator-Fault: NAME\n"
        "  2. prompt token     [[fault:NAME]] anywhere in the last user turn's text;\n"
        "                      [[fault:NAME*K]] fails only the first K requests with that exact prompt\n"
        "  3. server-wide      --fault NAME (repeatable, used in turn) on the first --fault-count\n"
        "                      generate requests, or on all of them without --fault-count\n"
        "Extra latency for one request: [[latency:SECONDS]] in the prompt.\n"
        "Multi-turn on Gemini 3 models checks thoughtSignature; the sentinel\n"
        f"  {SKIP_SIGNATURE} is accepted.\n"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = parser.description or (
        "Serve a local emulator of the Gemini generateContent endpoint (DEMO: images are rendered locally).")
    parser.epilog = _help_epilog()
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any)")
    parser.add_argument("--latency", type=float, default=0.0, metavar="SECONDS",
                        help="sleep before answering each generate call (concurrent calls overlap)")
    parser.add_argument("--key", default=None,
                        help="accept only this API key (default: any non-empty key is accepted)")
    parser.add_argument("--fault", action="append", default=[], choices=list(FAULTS), metavar="NAME",
                        help="server-wide fault, repeatable; names are listed below")
    parser.add_argument("--fault-count", type=int, default=None, metavar="N",
                        help="apply --fault only to the first N generate requests (default: all)")
    parser.add_argument("--retry-delay", type=float, default=1.0, metavar="S",
                        help="RetryInfo delay in the 429 fault (default 1)")
    parser.add_argument("--stall-seconds", type=float, default=600.0, metavar="S",
                        help="how long the stall and stall_body faults hold the connection (default 600)")
    parser.add_argument("--signature-bytes", type=int, default=4096, metavar="N",
                        help="size of each thoughtSignature on Gemini 3 models (real ones are ~1 MB)")


def run(args: argparse.Namespace) -> int:
    emulator = Emulator(args.host, args.port, latency=args.latency, key=args.key, faults=args.fault,
                        fault_count=args.fault_count, retry_delay=args.retry_delay,
                        signature_bytes=args.signature_bytes,
                        stall_seconds=getattr(args, "stall_seconds", 600.0))
    try:
        emulator.bind()
    except OSError as exc:
        print(f"Cannot listen on {args.host}:{args.port}: {exc.strerror or exc}. Try another --port.",
              file=sys.stderr)
        return 1
    key_hint = "<the --key you chose>" if args.key else "demo"
    print(f"Studio emulator (DEMO: images are rendered locally, nothing is sent to Google) on {emulator.url}"
          f" — set STUDIO_BASE_URL={emulator.url} STUDIO_API_KEY={key_hint}", flush=True)
    if args.fault:
        print(f"Server-wide faults: {', '.join(args.fault)}"
              f"{f' (first {args.fault_count} requests)' if args.fault_count is not None else ''}", flush=True)
    print("Press Ctrl-C to stop.", flush=True)
    emulator.log = lambda line: print(line, flush=True)
    try:
        emulator.serve_forever()
    except KeyboardInterrupt:
        print("Stopped.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="studio emulate")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
