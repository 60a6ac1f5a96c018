"""Error answers of the Gemini endpoint as EndpointErrors with a designer's sentence. No IO.

Reads Google's ``error`` envelope (status, RetryInfo, ErrorInfo, QuotaFailure), relay (OpenAI-shaped)
envelopes, bare messages and HTML error pages; every quoted server word is redacted first. Shapes and the
status table: docs/gemini-wire.md §4. ``studio.gemini.wire`` re-exports the public names.
"""

from __future__ import annotations

import email.utils
import html
import json
import re
import time
from collections.abc import Mapping
from typing import Any

from studio.domain.errors import (
    AuthError,
    EndpointError,
    ModelNotFound,
    QuotaError,
    RequestRejected,
    ServerError,
    ServerReply,
)
from studio.gemini.fields import as_dict, as_list, as_str

#: How much of a server's own message we quote inside our sentence.
QUOTE_CHARS = 200
#: How much of a non-JSON body (an HTML error page) we keep in ``reply.body_excerpt``.
BODY_EXCERPT_CHARS = 300

# -- error bodies ----------------------------------------------------------------------------------

_GOOGLE_STATUS_HTTP = {
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "ABORTED": 409,
    "RESOURCE_EXHAUSTED": 429,
    "CANCELLED": 499,
    "INTERNAL": 500,
    "UNKNOWN": 500,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}
#: Relay (new-api / one-api) string codes that say which failure a 2xx envelope stands for.
_RELAY_CODE_HTTP = {
    "model_not_found": 404,
    "get_channel_failed": 404,
    "access_denied": 403,
    "invalid_api_key": 401,
    "insufficient_user_quota": 402,
    "read_request_body_failed": 413,
}
_RETRY_IN = re.compile(r"retry in\s+([\d.]+)\s*s", re.IGNORECASE)
_AUTH_MESSAGE = re.compile(r"API key (not valid|expired)", re.IGNORECASE)
_AUTH_HINT = "Check STUDIO_API_KEY or .streamlit/secrets.toml, and STUDIO_AUTH (bearer, goog or query) for your endpoint."


def error_from_response(
    status: int, body: bytes | bytearray, headers: Mapping[str, str] | None = None
) -> EndpointError:
    """The EndpointError for a non-2xx answer (or an ``error`` envelope sent with a 2xx)."""
    text = body.decode("utf-8", errors="replace") if body else ""
    try:
        payload = json.loads(text) if text.strip() else None
    except ValueError:
        payload = None
    return error_from_payload(status, payload, text, headers or {})


def error_from_payload(status: int, payload: Any, text: str, headers: Mapping[str, str]) -> EndpointError:
    """The EndpointError for a decoded body (``payload`` None: not JSON, ``text`` is the raw body)."""
    info = _ErrorInfo.read(payload, text)
    said = f"HTTP {status}"
    if not 400 <= status <= 599:  # an envelope inside a 2xx: trust the code it carries
        implied = info.implied_status()
        said = f"HTTP {status}, error code {implied}" if implied else f"HTTP {status} with an error"
        status = implied or (status if status >= 300 else 400)
    retry_after = info.retry_after(headers) if status == 429 and not info.per_day else None
    if info.message:
        said += f": {shorten(info.message)}"
    cls, sentence = _classify(status, info, retry_after, said)
    reply = ServerReply(
        message=info.message,
        google_status=info.status,
        reason=info.reason,
        error_type=info.type,
        error_code=info.code,
        body_excerpt=info.excerpt,
    )
    return cls(sentence, status_code=status, retry_after=retry_after, reply=reply)


class _ErrorInfo:
    """What we could read from an error body, whichever envelope it used."""

    def __init__(self) -> None:
        self.message = ""
        self.status: str | None = None  # Google's status string
        self.type: str | None = None  # relay (OpenAI-shaped) type
        self.code: int | str | None = None
        self.reason: str | None = None  # ErrorInfo.reason
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
        self.message = as_str(err.get("message")) or ""
        self.status = as_str(err.get("status"))
        self.type = as_str(err.get("type"))
        code = err.get("code")
        self.code = code if isinstance(code, (int, str)) and not isinstance(code, bool) else None
        for detail in as_list(err.get("details")):
            self._read_detail(as_dict(detail))

    def _read_detail(self, detail: dict[str, Any]) -> None:
        kind = str(detail.get("@type", ""))
        if kind.endswith("RetryInfo"):
            self.retry_delay = parse_duration(detail.get("retryDelay"))
        elif kind.endswith("ErrorInfo"):
            self.reason = as_str(detail.get("reason"))
        elif kind.endswith("QuotaFailure"):
            for violation in as_list(detail.get("violations")):
                if "PerDay" in str(as_dict(violation).get("quotaId", "")):
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


def _classify(
    status: int, info: _ErrorInfo, retry_after: float | None, said: str
) -> tuple[type[EndpointError], str]:
    if status in (401, 403) or (status == 400 and _is_key_problem(info)):
        return AuthError, f"The endpoint rejected the API key ({said}). {_AUTH_HINT}"
    if status == 402:
        return QuotaError, (
            f"The endpoint says the account's credits are used up ({said}). "
            "Top up the account behind STUDIO_API_KEY, then try again."
        )
    if status == 429:
        return QuotaError, _quota_sentence(said, info, retry_after)
    if status == 404:
        return ModelNotFound, (
            f"The endpoint does not know this model ({said}). Pick another model, or check STUDIO_BASE_URL."
        )
    if status == 413 or "payload size exceeds" in info.message.lower():
        return RequestRejected, (
            f"The request was too large for the endpoint ({said}). Use fewer or smaller "
            "reference images, or start a shorter conversation (STUDIO_MAX_REQUEST_MB)."
        )
    if 400 <= status <= 499:
        return RequestRejected, (
            f"The endpoint rejected the request ({said}). Check the model's settings "
            "(ratio, size, thinking level) and references; retrying unchanged will not help."
        )
    if status >= 500:
        return ServerError, _server_sentence(status, said)
    return EndpointError, f"The endpoint gave an unexpected answer ({said}). Check STUDIO_BASE_URL."


def _is_key_problem(info: _ErrorInfo) -> bool:
    return info.reason in ("API_KEY_INVALID", "API_KEY_EXPIRED") or bool(_AUTH_MESSAGE.search(info.message))


def _quota_sentence(said: str, info: _ErrorInfo, retry_after: float | None) -> str:
    if info.per_day:
        return (
            f"The daily quota (or the free tier) for this model is used up ({said}); waiting a few "
            "minutes will not help. Enable billing or raise the quota for this key, or use another model."
        )
    if retry_after is not None:
        return f"The endpoint's rate limit was reached ({said}). Try again in {retry_after:.0f} s."
    return f"The endpoint's rate limit or quota was reached ({said}). Wait a minute and try again."


def _server_sentence(status: int, said: str) -> str:
    if status == 503:
        return f"The model is overloaded ({said}). Try again in a minute."
    if status == 504:
        return (
            f"The endpoint gave up waiting for the model ({said}). It may still have generated (and billed) "
            "the image; retry from History if you want another try."
        )
    if status in (502, 520, 521, 522, 523, 524):
        return f"A gateway in front of the model failed ({said}). Try again in a minute."
    return (
        f"The endpoint had an internal error ({said}). Try again; a very long prompt or many references "
        "can cause this."
    )


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
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}"), "sk-REDACTED"),  # relay (new-api / one-api) tokens
)


def redact(text: str) -> str:
    """Remove API keys and bearer tokens from any text before it reaches a message or a log."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


# -- small readers ---------------------------------------------------------------------------------


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


def shorten(text: str, limit: int = QUOTE_CHARS) -> str:
    """A server's words for a sentence: redacted, on one line, at most ``limit`` characters."""
    text = " ".join(redact(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
