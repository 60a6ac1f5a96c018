"""Thought signatures (Gemini 3): deterministic bytes bound to each part's content, checked on replay."""

from __future__ import annotations

import binascii
import hashlib

from studio.emulator.protocol import Rejected, b64decode, field_of, inline_blob, invalid, parts_of

SKIP_SIGNATURE = "skip_thought_signature_validator"


def signature_for(kind: str, content: bytes, size: int) -> bytes:
    digest = hashlib.sha256(b"studio-emulator:" + kind.encode() + b":" + content).digest()
    return (digest * (size // len(digest) + 1))[:size]


def _part_signature(part: dict, size: int) -> bytes | None:
    blob = inline_blob(part)
    if blob is not None:
        try:
            return signature_for("image", b64decode(str(field_of(blob, "data") or "")), size)
        except (binascii.Error, ValueError):
            return None
    return signature_for("text", str(part.get("text", "")).encode("utf-8"), size)


def _signed_indexes(parts: list[dict]) -> list[int]:
    """Parts that must carry a signature: every image part and the first non-thought text part."""
    first_text = next((i for i, p in enumerate(parts) if "text" in p and not p.get("thought")), None)
    return [i for i, p in enumerate(parts) if inline_blob(p) is not None or i == first_text]


def verify_signatures(contents: list[dict], size: int) -> None:
    for index, content in enumerate(contents):
        if field_of(content, "role") != "model":
            continue
        parts = parts_of(content)
        for i in _signed_indexes(parts):
            given = field_of(parts[i], "thoughtSignature")
            if given == SKIP_SIGNATURE:
                continue
            if not isinstance(given, str) or not _signature_matches(given, parts[i], size):
                raise Rejected(
                    invalid(
                        "Unable to submit request because it has an invalid thought signature for content "
                        f"at index {index}"
                    )
                )


def _signature_matches(given: str, part: dict, size: int) -> bool:
    try:
        return b64decode(given) == _part_signature(part, size)
    except (binascii.Error, ValueError):
        return False
