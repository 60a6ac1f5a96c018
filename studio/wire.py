"""The Gemini ``generateContent`` wire format: request bodies in, Outcomes and errors out. No IO.

Responses are read defensively: every level may be missing or of the wrong type (``content: {}``,
relays that put images in Markdown, snake_case ``inline_data``). A 200 that holds no image is an
Outcome, not an exception; ``refusal`` turns it into a designer's sentence. Shapes: see
../shared/reference/gemini-image-api.md sections 2-4.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import html
import json
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

from studio import catalogue
from studio.domain import GenerationRequest, ImagePart, Outcome
from studio.errors import (
    AuthError,
    BadResponse,
    Blocked,
    EndpointError,
    GenerationRefused,
    InputError,
    ModelNotFound,
    NoImage,
    QuotaError,
    RequestRejected,
    ServerError,
)
from studio.images import sniff as sniff_mime

MAX_VARIANTS = 8
#: How much of a server's own message we quote inside our sentence.
QUOTE_CHARS = 200
#: How much of a non-JSON body (an HTML error page) we keep in ``details``.
BODY_EXCERPT_CHARS = 300

# -- request ---------------------------------------------------------------------------------------


def build_body(req: GenerationRequest) -> dict[str, Any]:
    """The camelCase request body for one call (one variant)."""
    body: dict[str, Any] = {"contents": [*req.history, _user_turn(req)]}
    body["generationConfig"] = _generation_config(req)
    if req.system_instruction:
        body["systemInstruction"] = {"parts": [{"text": req.system_instruction}]}
    if req.google_search:
        search = {"searchTypes": {"webSearch": {}, "imageSearch": {}}} if req.image_search else {}
        body["tools"] = [{"googleSearch": search}]
    if req.safety_settings:
        body["safetySettings"] = [dict(s) for s in req.safety_settings]
    return body


def _user_turn(req: GenerationRequest) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"text": req.prompt}] if req.prompt else []
    for ref in req.references:
        data = base64.b64encode(ref.data).decode("ascii")
        parts.append({"inlineData": {"mimeType": ref.mime_type, "data": data}})
    return {"role": "user", "parts": parts}


def _generation_config(req: GenerationRequest) -> dict[str, Any]:
    config: dict[str, Any] = {"responseModalities": [m.upper() for m in req.modalities]}
    image: dict[str, Any] = {}
    if req.aspect_ratio:
        image["aspectRatio"] = req.aspect_ratio
    # 1K-only models (2.5 Flash Image, Flash-Lite) reject imageSize; unknown ids pass it through.
    if req.image_size and catalogue.lookup(req.model).sizes:
        image["imageSize"] = req.image_size
    if image:
        config["imageConfig"] = image
    for key, value in (("temperature", req.temperature), ("topP", req.top_p), ("seed", req.seed)):
        if value is not None:
            config[key] = value
    thinking: dict[str, Any] = {}
    if req.thinking_level:
        thinking["thinkingLevel"] = req.thinking_level
    if req.include_thoughts:
        thinking["includeThoughts"] = True
    if thinking:
        config["thinkingConfig"] = thinking
    return config


def build_text_body(prompt: str, *, system: str | None = None, json_mode: bool = False) -> dict[str, Any]:
    """A body for a text model (prompt enhancement)."""
    body: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": prompt}]}]}
    if system:
        body["systemInstruction"] = {"parts": [{"text": system}]}
    if json_mode:
        body["generationConfig"] = {"responseMimeType": "application/json"}
    return body


def validate(req: GenerationRequest) -> None:
    """Raise InputError for a request the model is documented not to accept."""
    spec = catalogue.lookup(req.model)
    if not req.prompt.strip() and not req.references:
        raise InputError("Write a prompt or add at least one reference image.")
    if not 1 <= req.variants <= MAX_VARIANTS:
        raise InputError(f"Ask for between 1 and {MAX_VARIANTS} variants (got {req.variants}).")
    if len(req.references) > spec.max_references:
        raise InputError(
            f"{spec.label} accepts at most {spec.max_references} reference images; "
            f"remove {len(req.references) - spec.max_references} of the {len(req.references)}."
        )
    if not catalogue.is_known(req.model):
        return
    if req.aspect_ratio and req.aspect_ratio not in spec.ratios:
        raise InputError(
            f"{spec.label} does not accept the aspect ratio {req.aspect_ratio}. "
            f"Choose one of {', '.join(spec.ratios)}."
        )
    if req.image_size and req.image_size not in (spec.sizes or ("1K",)):
        accepted = ", ".join(spec.sizes) if spec.sizes else "1K only"
        raise InputError(
            f"{spec.label} does not accept the image size {req.image_size} ({accepted}). "
            "Pick a listed size or another model."
        )


# -- success bodies --------------------------------------------------------------------------------

_MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*data:(image/[\w.+-]+);base64,([A-Za-z0-9+/=_\-\s]+?)\s*\)")


def parse_success(data: Any) -> Outcome:
    """Read a 2xx body. Raises an EndpointError for an ``error`` envelope, BadResponse for bad bytes."""
    if not isinstance(data, dict):
        raise BadResponse("The endpoint answered with JSON that is not an object. Check STUDIO_BASE_URL.")
    if "error" in data and data["error"]:
        raise _error_from_payload(200, data, "", {})
    outcome = Outcome(
        usage=_dict(data.get("usageMetadata")),
        model_version=_str(data.get("modelVersion")),
        response_id=_str(data.get("responseId")),
    )
    block = _str(_dict(data.get("promptFeedback")).get("blockReason"))
    if block:
        outcome.block_reason = block
        outcome.finish_message = _str(_dict(data.get("promptFeedback")).get("blockReasonMessage"))
        return outcome
    candidates = _list(data.get("candidates"))
    if not candidates:
        return outcome
    _read_candidate(_dict(candidates[0]), outcome)
    return outcome


def _read_candidate(cand: dict[str, Any], outcome: Outcome) -> None:
    outcome.finish_reason = _str(cand.get("finishReason"))
    outcome.finish_message = _str(cand.get("finishMessage"))
    grounding = cand.get("groundingMetadata")
    outcome.grounding = grounding if isinstance(grounding, dict) else None
    content = cand.get("content")
    outcome.model_content = content if isinstance(content, dict) else None
    texts: list[str] = []
    thoughts: list[str] = []
    for part in _list(_dict(content).get("parts")):
        if isinstance(part, dict):
            _read_part(part, outcome, texts, thoughts)
    outcome.text = "".join(texts)
    outcome.thoughts_text = "".join(thoughts)


def _read_part(part: dict[str, Any], outcome: Outcome, texts: list[str], thoughts: list[str]) -> None:
    thought = part.get("thought") is True
    signature = _str(part.get("thoughtSignature", part.get("thought_signature")))
    inline = part.get("inlineData", part.get("inline_data"))
    if isinstance(inline, dict):
        image = _image(inline, thought, signature)
        (outcome.thought_images if thought else outcome.images).append(image)
    text = part.get("text")
    if isinstance(text, str):
        if not thought:
            text = _extract_markdown_images(text, outcome, signature)
        (thoughts if thought else texts).append(text)


def _image(inline: dict[str, Any], thought: bool, signature: str | None) -> ImagePart:
    raw = inline.get("data")
    if not isinstance(raw, str) or not raw.strip():
        raise BadResponse("The endpoint sent an image part without any image data. Try again.")
    data = decode_base64(raw)
    if not data:
        raise BadResponse("The endpoint sent an image part without any image data. Try again.")
    declared = _str(inline.get("mimeType", inline.get("mime_type"))) or "application/octet-stream"
    return ImagePart(data=data, mime_type=sniff_mime(data) or declared, thought=thought, signature=signature)


def _extract_markdown_images(text: str, outcome: Outcome, signature: str | None) -> str:
    """Some relays return ``![image](data:image/png;base64,...)`` in a text part; lift those out."""
    if "data:image/" not in text:
        return text

    def lift(match: re.Match[str]) -> str:
        data = decode_base64(match.group(2))
        mime = sniff_mime(data) or match.group(1)
        outcome.images.append(ImagePart(data=data, mime_type=mime, signature=signature))
        return ""

    return _MARKDOWN_IMAGE.sub(lift, text).strip()


def decode_base64(text: str) -> bytes:
    """Standard or URL-safe, padded or not (proto3 JSON accepts all of them)."""
    cleaned = "".join(text.split()).replace("-", "+").replace("_", "/").rstrip("=")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadResponse("The endpoint sent image data that is not valid base64. Try again.") from exc


# -- streaming -------------------------------------------------------------------------------------


def parse_sse(text: str) -> list[Any]:
    """The JSON of each ``data:`` event (LF or CRLF). A body that is plain JSON is taken as is."""
    stripped = text.strip()
    if stripped.startswith(("{", "[")):  # not SSE: an error envelope or a JSON array of responses
        value = _loads(stripped)
        return value if isinstance(value, list) else [value]
    events, lines = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("data:"):
            lines.append(line[5:].lstrip(" "))
        elif not line.strip() and lines:
            events.append(_loads("\n".join(lines)))
            lines = []
    return events


def assemble_stream(events: Iterable[Any]) -> dict[str, Any]:
    """Merge stream events into one response: parts concatenated, last finishReason and usage."""
    merged: dict[str, Any] = {}
    candidate: dict[str, Any] = {}
    parts: list[Any] = []
    for event in events:
        if not isinstance(event, dict):
            raise BadResponse("The endpoint's stream held an event that is not a JSON object.")
        if event.get("error"):
            return event
        for key in ("usageMetadata", "promptFeedback", "modelVersion", "responseId"):
            if key in event:
                merged[key] = event[key]
        cands = _list(event.get("candidates"))
        if cands and isinstance(cands[0], dict):
            for key, value in cands[0].items():
                if key != "content":
                    candidate[key] = value
            parts.extend(_list(_dict(cands[0].get("content")).get("parts")))
    if candidate or parts:
        candidate["content"] = {"role": "model", "parts": parts}
        merged["candidates"] = [candidate]
    return merged


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise BadResponse(f"The endpoint sent malformed JSON ({exc.msg}). Try again.") from exc


# -- refusals --------------------------------------------------------------------------------------

_TEXT_FILTERS = {"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII"}
_IMAGE_FILTERS = {"IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT"}
_RECITATION = {"RECITATION", "IMAGE_RECITATION"}
BLOCK_FINISH_REASONS = frozenset(_TEXT_FILTERS | _IMAGE_FILTERS | _RECITATION)

_NO_IMAGE_SENTENCES = {
    "NO_IMAGE": "The model did not produce an image this time (NO_IMAGE). Rephrase the prompt or try again.",
    "IMAGE_OTHER": "Image generation stopped for an unspecified reason (IMAGE_OTHER). Try again; "
                   "a second attempt often works.",
    "MAX_TOKENS": "The model ran out of output tokens before it finished the image (MAX_TOKENS). "
                  "Try again with a shorter prompt or fewer references.",
    "MISSING_THOUGHT_SIGNATURE": "The conversation sent back to the model lost a thought signature "
                                 "(MISSING_THOUGHT_SIGNATURE). Start a new conversation from this image.",
    None: "The endpoint answered without any candidate or image. Try again.",
}


def refusal(outcome: Outcome) -> GenerationRefused | None:
    """A Blocked/NoImage error describing why ``outcome`` holds no final image, or None."""
    if outcome.images:
        return None
    reason = outcome.finish_reason
    if outcome.block_reason:
        sentence = (f"The prompt was blocked by the model's safety filters ({outcome.block_reason}). "
                    "Rephrase it and try again.")
        return Blocked(_with_server_words(sentence, outcome), outcome=outcome)
    if reason in BLOCK_FINISH_REASONS:
        return Blocked(_with_server_words(_blocked_sentence(reason), outcome), outcome=outcome)
    if reason == "STOP" and outcome.text.strip():
        sentence = (f"The model answered with text only and no image: “{_shorten(outcome.text)}”. "
                    "Ask explicitly for an image, or try again.")
        return NoImage(_with_server_words(sentence, outcome, quote_text=False), outcome=outcome)
    sentence = _NO_IMAGE_SENTENCES.get(reason) or (
        f"The model stopped without an image ({reason}). Rephrase the prompt or try again.")
    return NoImage(_with_server_words(sentence, outcome), outcome=outcome)


def _blocked_sentence(reason: str) -> str:
    if reason in _IMAGE_FILTERS:
        return (f"The generated image was filtered out by the model's safety checks ({reason}). "
                "Change the prompt (avoid real people, brands or sensitive subjects) and try again.")
    if reason in _RECITATION:
        return (f"The result was withheld because it may copy an existing work ({reason}). "
                "Describe something more original and try again.")
    return (f"The answer was blocked by the model's safety filters ({reason}). "
            "Rephrase the prompt and try again.")


def _with_server_words(sentence: str, outcome: Outcome, *, quote_text: bool = True) -> str:
    if outcome.finish_message:
        sentence += f" The model said: “{_shorten(outcome.finish_message)}”"
    elif quote_text and outcome.text.strip():
        sentence += f" The model replied: “{_shorten(outcome.text)}”"
    return sentence


# -- error bodies ----------------------------------------------------------------------------------

_GOOGLE_STATUS_HTTP = {
    "INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 400, "OUT_OF_RANGE": 400, "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403, "NOT_FOUND": 404, "ALREADY_EXISTS": 409, "ABORTED": 409,
    "RESOURCE_EXHAUSTED": 429, "CANCELLED": 499, "INTERNAL": 500, "UNKNOWN": 500,
    "UNIMPLEMENTED": 501, "UNAVAILABLE": 503, "DEADLINE_EXCEEDED": 504,
}
#: Relay (new-api / one-api) string codes that say which failure a 2xx envelope stands for.
_RELAY_CODE_HTTP = {"model_not_found": 404, "get_channel_failed": 404, "access_denied": 403,
                    "invalid_api_key": 401, "insufficient_user_quota": 402, "read_request_body_failed": 413}
_RETRY_IN = re.compile(r"retry in\s+([\d.]+)\s*s", re.IGNORECASE)
_AUTH_MESSAGE = re.compile(r"API key (not valid|expired)", re.IGNORECASE)
_AUTH_HINT = "Check STUDIO_API_KEY or .streamlit/secrets.toml, and STUDIO_AUTH (bearer, goog or query) for your endpoint."


def error_from_response(status: int, body: bytes, headers: Mapping[str, str] | None = None) -> EndpointError:
    """The EndpointError for a non-2xx answer (or an ``error`` envelope sent with a 2xx)."""
    text = body.decode("utf-8", errors="replace") if body else ""
    try:
        payload = json.loads(text) if text.strip() else None
    except ValueError:
        payload = None
    return _error_from_payload(status, payload, text, headers or {})


def _error_from_payload(status: int, payload: Any, text: str, headers: Mapping[str, str]) -> EndpointError:
    info = _ErrorInfo.read(payload, text)
    said = f"HTTP {status}"
    if not 400 <= status <= 599:  # an envelope inside a 2xx: trust the code it carries
        implied = info.implied_status()
        said = f"HTTP {status}, error code {implied}" if implied else f"HTTP {status} with an error"
        status = implied or (status if status >= 300 else 400)
    retry_after = info.retry_after(headers) if status == 429 and not info.per_day else None
    if info.message:
        said += f": {_shorten(info.message)}"
    cls, sentence = _classify(status, info, retry_after, said)
    return cls(sentence, status_code=status, retry_after=retry_after, server_message=info.message,
               google_status=info.status, reason=info.reason, error_type=info.type, error_code=info.code,
               body_excerpt=info.excerpt)


class _ErrorInfo:
    """What we could read from an error body, whichever envelope it used."""

    def __init__(self) -> None:
        self.message = ""
        self.status: str | None = None   # Google's status string
        self.type: str | None = None     # relay (OpenAI-shaped) type
        self.code: int | str | None = None
        self.reason: str | None = None   # ErrorInfo.reason
        self.retry_delay: float | None = None
        self.per_day = False
        self.excerpt = ""

    @classmethod
    def read(cls, payload: Any, text: str) -> _ErrorInfo:
        info = cls()
        err = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(err, dict):
            info._read_envelope(err)
        elif isinstance(err, str):
            info.message = err
        elif isinstance(payload, dict) and isinstance(payload.get("message"), str):
            info.message = payload["message"]
        elif payload is None:
            info.excerpt = _strip_tags(text)[:BODY_EXCERPT_CHARS]
            info.message = info.excerpt
        info.message = redact(info.message)
        info.excerpt = redact(info.excerpt)
        if re.search(r"limit:\s*0\b|PerDay", info.message):
            info.per_day = True
        return info

    def _read_envelope(self, err: dict[str, Any]) -> None:
        self.message = _str(err.get("message")) or ""
        self.status = _str(err.get("status"))
        self.type = _str(err.get("type"))
        code = err.get("code")
        self.code = code if isinstance(code, (int, str)) and not isinstance(code, bool) else None
        for detail in _list(err.get("details")):
            self._read_detail(_dict(detail))

    def _read_detail(self, detail: dict[str, Any]) -> None:
        kind = str(detail.get("@type", ""))
        if kind.endswith("RetryInfo"):
            self.retry_delay = parse_duration(detail.get("retryDelay"))
        elif kind.endswith("ErrorInfo"):
            self.reason = _str(detail.get("reason"))
        elif kind.endswith("QuotaFailure"):
            for violation in _list(detail.get("violations")):
                if "PerDay" in str(_dict(violation).get("quotaId", "")):
                    self.per_day = True

    def implied_status(self) -> int | None:
        code = self.code
        if isinstance(code, str) and code.isascii() and code.isdigit():
            code = int(code)
        if isinstance(code, int) and 400 <= code <= 599:
            return code
        if code in _RELAY_CODE_HTTP:
            return _RELAY_CODE_HTTP[code]
        return _GOOGLE_STATUS_HTTP.get(self.status or "")

    def retry_after(self, headers: Mapping[str, str]) -> float | None:
        """Best first: RetryInfo.retryDelay, the Retry-After header, "retry in Ns" in the message."""
        if self.retry_delay is not None:
            return self.retry_delay
        header = _header(headers, "retry-after")
        if header:
            seconds = _retry_after_header(header)
            if seconds is not None:
                return seconds
        match = _RETRY_IN.search(self.message)
        if match:
            return _float(match.group(1))
        return None


def _classify(status: int, info: _ErrorInfo, retry_after: float | None,
              said: str) -> tuple[type[EndpointError], str]:
    if status in (401, 403) or (status == 400 and _is_key_problem(info)):
        return AuthError, f"The endpoint rejected the API key ({said}). {_AUTH_HINT}"
    if status == 402:
        return QuotaError, (f"The endpoint says the account's credits are used up ({said}). "
                            "Top up the account behind STUDIO_API_KEY, then try again.")
    if status == 429:
        return QuotaError, _quota_sentence(said, info, retry_after)
    if status == 404:
        return ModelNotFound, (f"The endpoint does not know this model ({said}). "
                               "Pick another model, or check STUDIO_BASE_URL.")
    if status == 413 or "payload size exceeds" in info.message.lower():
        return RequestRejected, (f"The request was too large for the endpoint ({said}). Use fewer or smaller "
                                 "reference images, or start a shorter conversation (STUDIO_MAX_REQUEST_MB).")
    if 400 <= status <= 499:
        return RequestRejected, (f"The endpoint rejected the request ({said}). Check the model's settings "
                                 "(ratio, size, thinking level) and references; retrying unchanged will not help.")
    if status >= 500:
        return ServerError, _server_sentence(status, said)
    return EndpointError, f"The endpoint gave an unexpected answer ({said}). Check STUDIO_BASE_URL."


def _is_key_problem(info: _ErrorInfo) -> bool:
    return info.reason in ("API_KEY_INVALID", "API_KEY_EXPIRED") or bool(_AUTH_MESSAGE.search(info.message))


def _quota_sentence(said: str, info: _ErrorInfo, retry_after: float | None) -> str:
    if info.per_day:
        return (f"The daily quota (or the free tier) for this model is used up ({said}); waiting a few "
                "minutes will not help. Enable billing or raise the quota for this key, or use another model.")
    if retry_after is not None:
        return f"The endpoint's rate limit was reached ({said}). Try again in {retry_after:.0f} s."
    return f"The endpoint's rate limit or quota was reached ({said}). Wait a minute and try again."


def _server_sentence(status: int, said: str) -> str:
    if status == 503:
        return f"The model is overloaded ({said}). Try again in a minute."
    if status == 504:
        return (f"The endpoint gave up waiting for the model ({said}). It may still have generated (and billed) "
                "the image; retry from History if you want another try.")
    if status in (502, 520, 521, 522, 523, 524):
        return f"A gateway in front of the model failed ({said}). Try again in a minute."
    return (f"The endpoint had an internal error ({said}). Try again; a very long prompt or many references "
            "can cause this.")


def parse_duration(value: Any) -> float | None:
    """A protobuf Duration string such as "47s" or "34.4s"."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value.strip().endswith("s"):
        return _float(value.strip()[:-1])
    return None


def _retry_after_header(value: str) -> float | None:
    seconds = _float(value.strip())
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


# -- redaction -------------------------------------------------------------------------------------

_REDACTIONS = (
    (re.compile(r"(?i)(key=)[^&\s\"']+"), r"\1REDACTED"),
    (re.compile(r"(?i)(bearer\s+)[^\s\"',;]+"), r"\1REDACTED"),
    (re.compile(r"(?i)(x-goog-api-key[\"']?\s*[:=]\s*[\"']?)[^\s\"',;}]+"), r"\1REDACTED"),
    (re.compile(r"AIza[0-9A-Za-z_\-]{35}"), "REDACTED"),
)


def redact(text: str) -> str:
    """Remove API keys and bearer tokens from any text before it reaches a message or a log."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


# -- small readers ---------------------------------------------------------------------------------


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value >= 0 and value == value and value != float("inf") else None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _strip_tags(text: str) -> str:
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", text)
    text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    return " ".join(text.split())


def _shorten(text: str, limit: int = QUOTE_CHARS) -> str:
    text = " ".join(redact(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
