"""Stored model turns keep no second copy of their images, and read back exactly as received."""

from __future__ import annotations

import base64

import pytest

from studio.domain.requests import GenerationRequest
from studio.storage import files, turns
from tests.stores import db_execute, stored_bytes

pytestmark = pytest.mark.usefixtures("backend")


def test_turn_file_holds_hashes_and_reads_back_verbatim(studio):
    req = GenerationRequest(
        prompt="a lamp",
        model="gemini-3-pro-image",
        image_size="2K",
        modalities=("TEXT", "IMAGE"),
        include_thoughts=True,
    )
    [record] = studio.generate(req, timeout=30)
    raw = stored_bytes(studio._store, files.turn_relpath(_turn_sha(studio, record.id))).decode()
    assert turns.BLOB in raw and len(raw) < 64 * 1024  # signatures only, not MBs of base64
    content = studio._store.generations.model_content(record.id)
    images = [p for p in content["parts"] if "inlineData" in p]
    assert len(images) == 2 and all("thoughtSignature" in p for p in images if not p.get("thought"))
    final = [p for p in images if not p.get("thought")][0]
    assert base64.b64decode(final["inlineData"]["data"]) == record.images[0].read()


def _turn_sha(studio, gen_id: int) -> str:
    return str(
        db_execute(studio._store, "SELECT model_content_sha FROM generation WHERE id = ?", (gen_id,))[0][0]
    )


def test_slim_keeps_the_turn_when_parts_and_files_do_not_line_up():
    content = {"role": "model", "parts": [{"inlineData": {"mimeType": "image/png", "data": "AAAA"}}]}
    assert turns.slim(content, [], []) is content
    slim = turns.slim(content, ["ab" * 32], [])
    assert slim["parts"][0]["inlineData"] == {"mimeType": "image/png", turns.BLOB: "ab" * 32}
    assert content["parts"][0]["inlineData"]["data"] == "AAAA"  # the original is not mutated
    assert turns.restore(slim, lambda sha: b"\x00\x00\x00")["parts"][0]["inlineData"]["data"] == "AAAA"
