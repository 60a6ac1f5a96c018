"""The wire protocol as the emulator reads and answers it: replies, Google/relay error envelopes, auth,
and reading request bodies (Google accepts camelCase and snake_case field names, even mixed)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import re
import time
from dataclasses import dataclass
from email.message import Message
from typing import Any

from PIL import Image

JSON_TYPE = "application/json; charset=UTF-8"
SSE_TYPE = "text/event-stream"
INPUT_MIME_TYPES = ("image/png", "image/jpeg", "image/webp", "image/heic", "image/heif")
_ANY_TOKEN = re.compile(r"\[\[(?:fault|latency):[^\]]*\]\]")  # emulator controls, not part of the prompt


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
    envelope = {
        "message": f"{message} (request id: {request_id})",
        "type": "new_api_error",
        "param": "",
        "code": code,
    }
    return json_reply(status, {"error": envelope})


def invalid(message: str) -> Reply:
    return google_error(400, "INVALID_ARGUMENT", message)


def not_found(model: str, version: str = "v1beta", method: str = "generateContent") -> Reply:
    return google_error(
        404,
        "NOT_FOUND",
        (
            f"models/{model} is not found for API version {version}, or is not supported for {method}. "
            "Call ModelService.ListModels to see the list of available models and their supported methods."
        ),
    )


MISSING_KEY_MESSAGE = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)


def missing_key() -> Reply:
    return google_error(403, "PERMISSION_DENIED", MISSING_KEY_MESSAGE)


def wrong_key() -> Reply:
    return google_error(
        400,
        "INVALID_ARGUMENT",
        "API key not valid. Please pass a valid API key.",
        [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            },
            {
                "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                "locale": "en-US",
                "message": "API key not valid. Please pass a valid API key.",
            },
        ],
    )


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


def b64encode(data: bytes) -> str:
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


def parts_of(turn: Any) -> list[dict]:
    parts = field_of(turn, "parts")
    return [p for p in parts if isinstance(p, dict)] if isinstance(parts, list) else []


def turn_text(turn: Any) -> str:
    return "\n".join(
        p["text"] for p in parts_of(turn) if isinstance(p.get("text"), str) and not p.get("thought")
    )


def clean_prompt(text: str) -> str:
    return " ".join(_ANY_TOKEN.sub(" ", text).split())


def validate_contents(data: dict) -> list[dict]:
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
            raise Rejected(
                invalid(f"* GenerateContentRequest.contents[{i}].parts: contents.parts must not be empty.\n")
            )
    return contents


def inline_blob(part: dict) -> dict | None:
    blob = field_of(part, "inlineData")
    return blob if isinstance(blob, dict) else None


def reference_bytes(turn: dict, index: int) -> tuple[bytes, ...]:
    """Decoded inline images of the last user turn; 400 for what Google would refuse."""
    images = []
    for blob in filter(None, map(inline_blob, parts_of(turn))):
        mime = str(field_of(blob, "mimeType") or "")
        if mime not in INPUT_MIME_TYPES:
            raise Rejected(invalid(f"Unsupported MIME type: {mime or '(none)'}"))
        try:
            raw = b64decode(str(field_of(blob, "data") or ""))
            with Image.open(io.BytesIO(raw)) as im:
                im.size  # noqa: B018 - the header parse is the check
        except (binascii.Error, ValueError, OSError, Image.DecompressionBombError):
            raise Rejected(
                invalid(
                    f"Unable to process input image at contents[{index}]. Please retry or report in "
                    "https://developers.generativeai.google/guide/troubleshooting"
                )
            ) from None
        images.append(raw)
    return tuple(images)


def count_input_images(contents: list[dict]) -> int:
    return sum(1 for c in contents for p in parts_of(c) if inline_blob(p))


def all_text(data: dict, contents: list[dict]) -> str:
    system = field_of(data, "systemInstruction")
    texts = [turn_text(c) for c in contents]
    if isinstance(system, dict):
        texts.append(turn_text(system))
    return "".join(texts)


def credentials(headers: Message, query: dict[str, str]) -> tuple[str, str]:
    """(auth mode, key) in Google's order of precedence; 403 like Google when there is no key at all."""
    bearer = headers.get("Authorization") or ""
    if headers.get("x-goog-api-key"):
        return "goog", headers["x-goog-api-key"]
    if bearer.lower().startswith("bearer ") and bearer[7:].strip():
        return "bearer", bearer[7:].strip()
    if query.get("key"):
        return "query", query["key"]
    raise Rejected(missing_key())
