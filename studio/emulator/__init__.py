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

from studio.emulator.cli import DEFAULT_PORT, add_arguments, main, run
from studio.emulator.faults import FAULTS, content_fault, status_fault
from studio.emulator.handler import MAX_BODY_BYTES, STALL_BODY_BYTES, TRICKLE_INTERVAL_S
from studio.emulator.protocol import (
    INPUT_MIME_TYPES,
    JSON_TYPE,
    MISSING_KEY_MESSAGE,
    SSE_TYPE,
    Rejected,
    Reply,
    b64decode,
    clean_prompt,
    field_of,
    google_error,
    invalid,
    json_reply,
    last_user_index,
    last_user_turn,
    missing_key,
    not_found,
    relay_error,
    turn_text,
    wrong_key,
)
from studio.emulator.render import render_image
from studio.emulator.responses import (
    ImageJob,
    candidate,
    envelope,
    image_job,
    image_response,
    model_info,
    model_kind,
    prompt_usage,
    sse_events,
    sse_reply,
    usage,
)
from studio.emulator.server import REQUEST_LOG_SIZE, Emulator
from studio.emulator.signatures import SKIP_SIGNATURE, signature_for, verify_signatures
from studio.emulator.textmodel import text_response

__all__ = [
    # the server, its faults and `studio emulate`
    "Emulator",
    "FAULTS",
    "SKIP_SIGNATURE",
    "add_arguments",
    "run",
    "main",
    # limits and constants
    "DEFAULT_PORT",
    "MAX_BODY_BYTES",
    "REQUEST_LOG_SIZE",
    "TRICKLE_INTERVAL_S",
    "STALL_BODY_BYTES",
    "JSON_TYPE",
    "SSE_TYPE",
    "INPUT_MIME_TYPES",
    "MISSING_KEY_MESSAGE",
    # protocol helpers, kept importable from here as before the split
    "Reply",
    "Rejected",
    "json_reply",
    "google_error",
    "relay_error",
    "invalid",
    "not_found",
    "missing_key",
    "wrong_key",
    "field_of",
    "b64decode",
    "last_user_index",
    "last_user_turn",
    "turn_text",
    "clean_prompt",
    "signature_for",
    "verify_signatures",
    "render_image",
    "prompt_usage",
    "usage",
    "envelope",
    "candidate",
    "ImageJob",
    "image_job",
    "image_response",
    "text_response",
    "sse_events",
    "sse_reply",
    "model_info",
    "model_kind",
    "status_fault",
    "content_fault",
]
