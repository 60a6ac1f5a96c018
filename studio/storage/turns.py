"""Model turns (kept verbatim for conversational editing) stored without a second copy of their images.

A turn's ``inlineData.data`` is the base64 of an image the store already keeps under its sha256, so the
turn file records ``{"studioSha256": sha}`` instead and the base64 is rebuilt from the file when the turn
is read. A 4K turn shrinks from ~26 MB to its signatures, and saving it no longer re-serialises the image.
Google's responses use standard padded base64, so the rebuilt string is the one received.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable, Sequence
from typing import Any

BLOB = "studioSha256"


def _image_parts(content: dict[str, Any]) -> list[dict[str, Any]]:
    parts = content.get("parts") if isinstance(content, dict) else None
    return (
        [p for p in parts if isinstance(p, dict) and isinstance(p.get("inlineData"), dict)]
        if isinstance(parts, list)
        else []
    )


def slim(content: dict[str, Any], finals: Sequence[str], thoughts: Sequence[str]) -> dict[str, Any]:
    """``content`` with each image's data replaced by its stored hash, matched in parse order.

    ``finals``/``thoughts`` are the hashes of the images the store saved, in the order ``wire`` parsed them.
    When the counts do not line up (a relay put an image in a text part, or a part could not be decoded),
    the turn is returned unchanged: correctness first, disk space second.
    """
    parts = _image_parts(content)
    is_thought = [p.get("thought") is True for p in parts]
    if is_thought.count(False) != len(finals) or is_thought.count(True) != len(thoughts):
        return content
    queues = {False: list(finals), True: list(thoughts)}
    out = copy.copy(content)
    out["parts"] = []
    for part in content["parts"]:
        if isinstance(part, dict) and isinstance(part.get("inlineData"), dict):
            sha = queues[part.get("thought") is True].pop(0)
            inline = {k: v for k, v in part["inlineData"].items() if k != "data"} | {BLOB: sha}
            part = {**part, "inlineData": inline}
        out["parts"].append(part)
    return out


def restore(content: dict[str, Any], read_blob: Callable[[str], bytes]) -> dict[str, Any]:
    """The turn as received: every ``studioSha256`` replaced by the base64 of that stored file."""
    for part in _image_parts(content):
        inline = part["inlineData"]
        sha = inline.pop(BLOB, None)
        if isinstance(sha, str):
            inline["data"] = base64.b64encode(read_blob(sha)).decode("ascii")
    return content
