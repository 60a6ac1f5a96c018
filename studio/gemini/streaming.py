"""Streaming (``streamGenerateContent?alt=sse``) bodies: SSE events in, one merged response out. No IO."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from studio.domain.errors import BadResponse
from studio.gemini.fields import as_dict, as_list


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
        cands = as_list(event.get("candidates"))
        if cands and isinstance(cands[0], dict):
            for key, value in cands[0].items():
                if key != "content":
                    candidate[key] = value
            parts.extend(as_list(as_dict(cands[0].get("content")).get("parts")))
    if candidate or parts:
        candidate["content"] = {"role": "model", "parts": parts}
        merged["candidates"] = [candidate]
    return merged


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadResponse(f"The endpoint sent malformed JSON ({exc.msg}). Try again.") from exc
