"""The fault table and the replies that inject them: error envelopes, content-level refusals, and the
``[[fault:NAME]]`` / ``[[latency:S]]`` prompt tokens."""

from __future__ import annotations

import re

from studio.emulator.protocol import (
    Rejected,
    Reply,
    clean_prompt,
    google_error,
    invalid,
    json_reply,
    last_user_turn,
    not_found,
    relay_error,
    turn_text,
)
from studio.emulator.responses import candidate, count_tokens, envelope, prompt_usage, shorten, usage

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


FAULT_TOKEN = re.compile(r"\[\[fault:([\w.-]+)(?:\*(\d+))?\]\]")
_LATENCY_TOKEN = re.compile(r"\[\[latency:(\d+(?:\.\d+)?)\]\]")


def _seconds(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".") or "0"


def _quota_error(model: str, retry_delay: float | None) -> Reply:
    per = "Minute" if retry_delay is not None else "Day"
    limit = 10 if retry_delay is not None else 100
    message = (
        "You exceeded your current quota, please check your plan and billing details. For more "
        "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. \n"
        "* Quota exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, "
        f"limit: {limit}, model: {model}"
    )
    details: list[dict] = [
        {
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [
                {
                    "description": "Learn more about Gemini API quotas",
                    "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                }
            ],
        },
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [
                {
                    "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                    "quotaId": f"GenerateRequestsPer{per}PerProjectPerModel-FreeTier",
                    "quotaDimensions": {"location": "global", "model": model},
                    "quotaValue": str(limit),
                }
            ],
        },
    ]
    if retry_delay is not None:
        message += f"\nPlease retry in {_seconds(retry_delay)}s."
        details.append(
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{_seconds(retry_delay)}s"}
        )
    return google_error(429, "RESOURCE_EXHAUSTED", message, details)


_CONTENT_FINISH = {
    "image_safety": (
        "IMAGE_SAFETY",
        "Unable to show the generated image. The image was filtered out because it violated "
        "Google's Generative AI Prohibited Use policy. You will not be charged for blocked "
        "images. Try rephrasing the prompt. If you think this was an error, send feedback. "
        "Support code: 11030041.",
    ),
    "image_prohibited": (
        "IMAGE_PROHIBITED_CONTENT",
        "Unable to show the generated image due to interests of third-party content "
        "providers. Please edit your prompt and try again. If you think this was an "
        "error, send feedback. Support code: 35561575.",
    ),
}


def status_fault(name: str, model: str, retry_delay: float) -> Reply | None:
    """Faults that are a fixed error reply, or None."""
    simple = {
        "400": lambda: invalid("Request contains an invalid argument."),
        "401": lambda: google_error(
            401,
            "UNAUTHENTICATED",
            (
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
                "other valid authentication credential."
            ),
        ),
        "403": lambda: google_error(403, "PERMISSION_DENIED", "The caller does not have permission"),
        "404": lambda: not_found(model),
        "413": lambda: relay_error(413, "request body too large", "read_request_body_failed"),
        "429": lambda: _quota_error(model, retry_delay),
        "429-daily": lambda: _quota_error(model, None),
        "500": lambda: google_error(
            500,
            "INTERNAL",
            (
                "An internal error has occurred. Please retry or report in "
                "https://developers.generativeai.google/guide/troubleshooting"
            ),
        ),
        "502": lambda: Reply(502, [b"<html><body>502 Bad Gateway</body></html>"], "text/html; charset=UTF-8"),
        "503": lambda: google_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
        "relay_401": lambda: relay_error(401, "invalid token", ""),
        "relay_error_200": lambda: relay_error(
            200, f"no available channel for model {model} under group default", "get_channel_failed"
        ),
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
        text = "I can't create that image, but here is a description of what it could look like: " + (
            shorten(clean_prompt(turn_text(last_user_turn(contents))), 200) or "a quiet still life"
        )
        return envelope(model, [candidate([{"text": text}])], usage(prompt, text_tokens=count_tokens(text)))
    if name == "max_tokens":
        return envelope(model, [candidate(None, "MAX_TOKENS")], usage(prompt, thoughts=4096))
    return None


def prompt_latency(prompt: str) -> float:
    return sum(float(m) for m in _LATENCY_TOKEN.findall(prompt))


def known_fault(name: str) -> str:
    if name not in FAULTS:
        raise Rejected(invalid(f"Unknown emulator fault {name!r}. Known faults: {', '.join(FAULTS)}."))
    return name
