"""Reading a dropped file's embedded prompt and settings back: exact for the studio's own files, bounded and
silent (None, never an exception) for anything else, however hostile."""

from __future__ import annotations

import io
import json
import struct
import zlib

import pytest

from studio.imaging import metadata
from tests.factories import make_image

PROMPT = 'A "quiet" fox & <owl> at dawn — 猫 🦊'
PARAMS = {
    "model": "gemini-2.5-flash-image",
    "settings": {"aspect_ratio": "4:3", "image_size": "1K", "seed": 7, "temperature": 0.4},
    "generation_id": 12,
    "created_at": "2026-01-01T00:00:00+00:00",
}


def _png(entries: dict[str, str]) -> bytes:
    return metadata.png_with_text(make_image(), entries)


def _studio_png(prompt: str = PROMPT, params: dict | None = None) -> bytes:
    return _png({"prompt": prompt, "parameters": json.dumps(params or PARAMS), "studio:generation_id": "12"})


def _chunk(kind: bytes, body: bytes, length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    return struct.pack(">I", size) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _with_chunks(*chunks: bytes) -> bytes:
    """make_image()'s PNG with ``chunks`` inserted before IEND."""
    data = make_image()
    return data[:-12] + b"".join(chunks) + data[-12:]


def test_png_written_by_embed_reads_back() -> None:
    found = metadata.read_embedded(_studio_png())
    assert found == {
        "prompt": PROMPT,
        "model": "gemini-2.5-flash-image",
        "settings": PARAMS["settings"],
        "generation_id": 12,
    }


def test_jpeg_xmp_written_by_embed_reads_back() -> None:
    packet = metadata.xmp_packet(PROMPT, json.dumps(PARAMS), 12)
    data = metadata.jpeg_with_xmp(make_image(fmt="JPEG"), packet)
    found = metadata.read_embedded(data)
    assert found is not None
    assert (found["prompt"], found["model"], found["settings"], found["generation_id"]) == (
        PROMPT,
        "gemini-2.5-flash-image",
        PARAMS["settings"],
        12,
    )


def test_compressed_text_chunks_are_read() -> None:
    body = b"parameters\x00\x00" + zlib.compress(json.dumps(PARAMS).encode())
    found = metadata.read_embedded(_with_chunks(_chunk(b"zTXt", body)))
    assert found is not None and found["settings"]["seed"] == 7


def test_secret_looking_settings_are_dropped_on_read() -> None:
    params = {**PARAMS, "settings": {"seed": 1, "api_key": "AIzaCANARY"}}
    found = metadata.read_embedded(_studio_png(params=params))
    assert found is not None and found["settings"] == {"seed": 1}


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x89PNG\r\n\x1a\n",
        b"\xff\xd8",
        b"GIF89a" + b"\x00" * 100,
        make_image(),  # a plain PNG: no recipe
        make_image(fmt="JPEG"),
        make_image(fmt="WEBP"),
    ],
)
def test_files_without_a_recipe_give_none(data: bytes) -> None:
    assert metadata.read_embedded(data) is None


def test_hostile_pngs_give_none_never_an_exception() -> None:
    bomb = zlib.compress(b"{" * (64 * 2**20), 9)  # 64 MB of text in a few dozen KB
    cases = [
        _with_chunks(_chunk(b"zTXt", b"parameters\x00\x00" + bomb)),  # a decompression bomb
        _with_chunks(_chunk(b"iTXt", b"parameters\x00\x01\x00\x00\x00" + bomb)),
        _with_chunks(_chunk(b"tEXt", b"parameters\x00" + b"x" * (3 * metadata.READ_MAX_TEXT))),  # huge
        _with_chunks(_chunk(b"tEXt", b"parameters\x00not json")),
        _with_chunks(_chunk(b"tEXt", b"parameters\x00[1, 2, 3]")),
        _with_chunks(_chunk(b"tEXt", b'parameters\x00{"model": 5, "settings": []}')),
        _with_chunks(_chunk(b"iTXt", b"parameters\x00\x00")),  # truncated iTXt header
        _with_chunks(_chunk(b"zTXt", b"parameters\x00\x00garbage-not-zlib")),
        _with_chunks(_chunk(b"tEXt", b"x" * 200)),  # no keyword separator
        _with_chunks(_chunk(b"tEXt", b"parameters\x00{}", length=2**31)),  # a length past the end
        _with_chunks(*[_chunk(b"tEXt", b"junk\x00x")] * 10_000),  # more chunks than are ever read
        b"\x89PNG\r\n\x1a\n" + b"\xff" * 5000,
    ]
    for data in cases:
        assert metadata.read_embedded(data) is None


def test_garbage_xmp_gives_none() -> None:
    jpeg = make_image(fmt="JPEG")
    cases = [
        b"<studio:settings>" + b"\xff\xfe" * 1000 + b"</studio:settings>",
        b"<studio:settings>{&quot;model&quot;: &quot;x</studio:settings>",
        b"<studio:settings>" + b"{" * 60_000 + b"</studio:settings>",
        b"<x:xmpmeta><studio:generation_id>99999999999999999999999</studio:generation_id>",
        b"no xml at all \x00\x01\x02",
    ]
    for packet in cases:
        assert metadata.read_embedded(metadata.jpeg_with_xmp(jpeg, packet)) is None
    assert metadata.read_embedded(b"\xff\xd8\xff\xe1\xff\xff" + metadata.XMP_HEADER + b"cut short") is None


def test_the_truncated_packet_of_a_huge_prompt_restores_nothing() -> None:
    """embed cuts a huge JPEG prompt and names no settings: there is nothing to restore, and no error."""
    packet = metadata.xmp_packet("word " * 40_000, json.dumps(PARAMS), 12)
    assert metadata.read_embedded(metadata.jpeg_with_xmp(make_image(fmt="JPEG"), packet)) is None


# -- the bounds themselves: what the parse looked at, reported by ``ReadStats`` -------------------------


def test_a_decompression_bomb_is_inflated_no_further_than_the_cap() -> None:
    bomb = zlib.compress(b"{" * (64 * 2**20), 9)
    for chunk in (
        _chunk(b"zTXt", b"parameters\x00\x00" + bomb),
        _chunk(b"iTXt", b"parameters\x00\x01\x00\x00\x00" + bomb),
    ):
        stats = metadata.ReadStats()
        assert metadata.read_embedded(_with_chunks(chunk), stats) is None
        assert 0 < stats.inflated <= metadata.READ_MAX_TEXT + 1


def test_text_chunks_past_the_cap_are_not_read() -> None:
    real = _chunk(b"tEXt", b"parameters\x00" + json.dumps(PARAMS).encode())
    stats = metadata.ReadStats()
    data = _with_chunks(*[_chunk(b"tEXt", b"junk\x00x")] * 5_000, real)
    assert metadata.read_embedded(data, stats) is None  # the real keyword sits past the cap: never reached
    assert stats.steps == metadata.READ_MAX_CHUNKS
    assert metadata.read_embedded(_with_chunks(*[_chunk(b"tEXt", b"junk\x00x")] * 100, real)) is not None


def test_a_real_png_of_thousands_of_idat_chunks_keeps_its_recipe() -> None:
    """IDAT chunks are skipped without counting toward the text-chunk cap (a valid encoder may split
    the pixels into thousands of them)."""
    from PIL import Image

    base = _studio_png()
    chunks = metadata.png_chunks(base)
    row = b"\x00" + bytes([9, 9, 9]) * 600  # filter type 0, then the row's RGB bytes
    pixels = zlib.compress(row * 600, 0)  # stored, not deflated: enough bytes for thousands of chunks
    size = max(1, len(pixels) // 5_011)
    idats = [pixels[i : i + size] for i in range(0, len(pixels), size)]
    assert len(idats) > metadata.READ_MAX_CHUNKS
    ihdr = struct.pack(">IIBBBBB", 600, 600, 8, 2, 0, 0, 0)
    out = [metadata.PNG_SIGNATURE, _chunk(b"IHDR", ihdr)]
    out += [_chunk(b"IDAT", part) for part in idats]
    out += [_chunk(kind, body) for kind, body in chunks if kind in (b"iTXt", b"IEND")]
    data = b"".join(out)
    with Image.open(io.BytesIO(data)) as im:
        im.load()  # a valid PNG
        assert im.size == (600, 600)
    stats = metadata.ReadStats()
    found = metadata.read_embedded(data, stats)
    assert found is not None and found["settings"] == PARAMS["settings"]
    assert stats.steps < 10  # IHDR and the text chunks; the IDAT chunks are stepped over


def _jpeg_with(segments: bytes) -> bytes:
    """A JPEG: SOI, ``segments``, then the rest of a real JPEG's headers and scan."""
    real = make_image(fmt="JPEG")
    return real[:2] + segments + real[2:]


def test_a_jpeg_of_millions_of_tiny_segments_is_walked_only_to_the_cap() -> None:
    studio_xmp = metadata.jpeg_with_xmp(
        make_image(fmt="JPEG"), metadata.xmp_packet(PROMPT, json.dumps(PARAMS), 12)
    )
    tiny = b"\xff\xe2\x00\x02" * (5 * 2**20 // 4)  # 5 MB of empty APP2 segments, then the studio's XMP
    stats = metadata.ReadStats()
    assert metadata.read_embedded(studio_xmp[:2] + tiny + studio_xmp[2:], stats) is None
    assert stats.steps == metadata.READ_MAX_CHUNKS


def test_a_jpeg_of_fill_bytes_is_walked_only_to_the_cap() -> None:
    stats = metadata.ReadStats()
    assert metadata.read_embedded(_jpeg_with(b"\xff" * (5 * 2**20)), stats) is None
    assert stats.steps == metadata.READ_MAX_CHUNKS


def test_xmp_of_repeated_open_tags_is_searched_once() -> None:
    """64 KB of ``<studio:settings>`` with no closing tag: each field is looked for once, front to back."""
    packet = b"<x:xmpmeta>" + b"<studio:settings>" * 3_700 + b"<dc:description><rdf:Alt><rdf:li" * 50
    stats = metadata.ReadStats()
    assert metadata.read_embedded(metadata.jpeg_with_xmp(make_image(fmt="JPEG"), packet), stats) is None
    assert stats.examined <= 4 * len(packet)  # a few linear passes, not one per opening tag


def test_only_the_first_studio_xmp_block_is_read() -> None:
    first = metadata.xmp_packet(PROMPT, json.dumps(PARAMS), 12)
    second = metadata.xmp_packet("other", json.dumps({**PARAMS, "model": "x"}), 13)
    app1 = [
        b"\xff\xe1" + struct.pack(">H", 2 + len(metadata.XMP_HEADER) + len(p)) + metadata.XMP_HEADER + p
        for p in (first, second)
    ]
    found = metadata.read_embedded(_jpeg_with(b"".join(app1)))
    assert found is not None and found["prompt"] == PROMPT and found["generation_id"] == 12
