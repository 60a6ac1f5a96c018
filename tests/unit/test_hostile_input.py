"""A generated corpus of hostile uploads through ``sanitize_upload`` (goal R11).

Malformed, truncated, bit-flipped, decompression bombs, polyglots (PNG+ZIP, JPEG+HTML, GIFAR), other
formats renamed ``.png``, and images full of metadata: 0 crashes (only ImageRejected or a clean
Reference), 0 hangs (the whole loop runs under an overall timeout), a sentence for every rejection,
and no metadata left in what is accepted.
"""

from __future__ import annotations

import io
import random
import struct
import threading
import zipfile
import zlib

from PIL import Image, PngImagePlugin

from studio.domain.errors import ImageRejected
from studio.imaging.images import sanitize_upload

SECRET = b"GPS-SECRET-LOCATION"


def _image(mode: str, size=(48, 32), fmt="PNG", **save) -> bytes:
    im = Image.new(mode, size)
    im.putdata(
        [
            (i * 7) % 256
            if mode in ("L", "P", "1")
            else tuple((i * k) % 256 for k in (3, 5, 7, 11)[: len(mode)])
            for i in range(size[0] * size[1])
        ]
    )
    buf = io.BytesIO()
    im.save(buf, fmt, **save)
    return buf.getvalue()


def _bases() -> dict[str, bytes]:
    return {
        "png-rgb": _image("RGB"),
        "png-rgba": _image("RGBA"),
        "png-l": _image("L"),
        "png-p": _image("P"),
        "jpeg": _image("RGB", fmt="JPEG", quality=80),
        "jpeg-progressive": _image("RGB", fmt="JPEG", progressive=True),
        "webp": _image("RGB", fmt="WEBP"),
        "webp-lossless": _image("RGBA", fmt="WEBP", lossless=True),
    }


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_header_only(width: int, height: int, idat: bytes = b"") -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(idat))
        + _chunk(b"IEND", b"")
    )


def _jpeg_with_size(width: int, height: int) -> bytes:
    data = bytearray(_image("RGB", fmt="JPEG"))
    at = data.find(b"\xff\xc0")
    data[at + 5 : at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("payload.class", b"\xca\xfe\xba\xbe" + b"x" * 100)
    return buf.getvalue()


def _bombs() -> list[tuple[str, bytes]]:
    out = [
        (f"png {w}x{h}", _png_header_only(w, h))
        for w, h in [
            (100_000, 100_000),
            (65_535, 65_535),
            (2**31 - 1, 1),
            (1, 2**31 - 1),
            (8000, 6251),
            (7072, 7072),
            (0, 10),
            (10, 0),
            (50_000_001, 1),
        ]
    ]
    out += [(f"jpeg {w}x{h}", _jpeg_with_size(w, h)) for w, h in [(65_500, 65_500), (60_000, 1000), (0, 0)]]
    real = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(real, "PNG")  # 100 Mpx in a few kilobytes
    out.append(("real 1-bit bomb", real.getvalue()))
    gif = io.BytesIO()
    Image.new("P", (4000, 4000)).save(gif, "GIF")
    out.append(("gif bomb", gif.getvalue()))
    return out


def _renamed() -> list[tuple[str, bytes]]:
    out = []
    for fmt in ("GIF", "TIFF", "BMP", "ICO", "PCX", "TGA", "PPM", "EPS", "PDF", "SGI", "IM"):
        buf = io.BytesIO()
        try:
            Image.new("RGB", (16, 16), (9, 9, 9)).save(buf, fmt)
        except (OSError, KeyError, ValueError):
            continue  # a writer this Pillow build lacks
        out.append((fmt, buf.getvalue()))
    out += [
        ("SVG", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
        ("SVG with xml prolog", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>'),
        ("HTML", b"<!doctype html><html><img src=x onerror=alert(1)></html>"),
        ("PDF by hand", b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"),
        ("PSD", b"8BPS\x00\x01" + b"\x00" * 60),
        ("HEIC", b"\x00\x00\x00\x18ftypheic" + b"\x00" * 40),
        ("ELF", b"\x7fELF" + b"\x00" * 60),
        ("empty", b""),
        ("one byte", b"\x89"),
        ("PNG signature only", b"\x89PNG\r\n\x1a\n"),
        ("JPEG SOI only", b"\xff\xd8\xff"),
        ("RIFF WEBP header only", b"RIFF\x10\x00\x00\x00WEBPVP8 "),
    ]
    return out


def _polyglots(bases: dict[str, bytes]) -> list[tuple[str, bytes, bool]]:
    """(name, bytes, may_be_accepted): accepted ones must come out without the smuggled payload."""
    gif = io.BytesIO()
    Image.new("P", (8, 8)).save(gif, "GIF")
    html = b"<html><script>steal()</script></html>"
    png_text = bases["png-rgb"][:-12] + _chunk(b"tEXt", b"Comment\x00" + html) + bases["png-rgb"][-12:]
    return [
        ("PNG+ZIP", bases["png-rgb"] + _zip(), True),
        ("JPEG+HTML", bases["jpeg"] + html, True),
        (
            "JPEG with HTML comment",
            bases["jpeg"][:2] + b"\xff\xfe" + struct.pack(">H", len(html) + 2) + html + bases["jpeg"][2:],
            True,
        ),
        ("PNG with HTML text chunk", png_text, True),
        ("WebP+ZIP", bases["webp"] + _zip(), True),
        ("GIFAR", gif.getvalue() + _zip(), False),
        ("HTML+PNG", html + bases["png-rgb"], False),
        ("ZIP+PNG", _zip() + bases["png-rgb"], False),
        ("PDF+JPEG", b"%PDF-1.4\n" + bases["jpeg"], False),
    ]


def _metadata_images() -> list[tuple[str, bytes]]:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° when shown
    exif[0x010E] = SECRET.decode()  # ImageDescription
    exif[0x8825] = {1: "N", 2: (1.0, 2.0, 3.0)}  # GPS IFD
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">' + SECRET + b"</x:xmpmeta>"
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", SECRET.decode())
    info.add_itxt("XML:com.adobe.xmp", SECRET.decode(), zip=True)
    icc = b"\x00" * 128
    im = Image.new("RGB", (40, 20), (200, 30, 30))
    out = []
    for name, fmt, kw in [
        ("jpeg exif+xmp+comment", "JPEG", {"exif": exif, "xmp": xmp, "comment": SECRET}),
        ("jpeg icc", "JPEG", {"exif": exif, "icc_profile": icc}),
        ("png text+exif", "PNG", {"pnginfo": info, "exif": exif}),
        ("webp exif+xmp", "WEBP", {"exif": exif, "xmp": xmp}),
    ]:
        buf = io.BytesIO()
        im.save(buf, fmt, **kw)
        out.append((name, buf.getvalue()))
    return out


def corpus() -> list[tuple[str, bytes, bool]]:
    rnd = random.Random(3)
    bases = _bases()
    items: list[tuple[str, bytes, bool]] = [(f"base {k}", v, True) for k, v in bases.items()]
    for key, data in bases.items():
        for cut in sorted(
            {
                1,
                8,
                16,
                33,
                60,
                len(data) // 4,
                len(data) // 2,
                len(data) - 20,
                len(data) - 1,
                *(rnd.randrange(1, len(data)) for _ in range(8)),
            }
        ):
            items.append((f"{key} truncated at {cut}", data[:cut], True))
        for n in range(35):
            mangled = bytearray(data)
            for _ in range(rnd.choice((1, 3, 10))):
                mangled[rnd.randrange(len(mangled))] = rnd.randrange(256)
            items.append((f"{key} corrupted #{n}", bytes(mangled), True))
    for n in range(60):
        prefix = rnd.choice([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"RIFF\x00\x00\x00\x00WEBPVP8L"])
        items.append((f"junk #{n}", prefix + rnd.randbytes(rnd.choice((0, 10, 500, 5000))), True))
    items += [(f"bomb {name}", data, False) for name, data in _bombs()]
    items += [(f"renamed {name}", data, False) for name, data in _renamed()]
    items += _polyglots(bases)
    items += [(f"metadata {name}", data, True) for name, data in _metadata_images()]
    return items


NAMES = [
    "upload.png",
    "x.png:Zone.Identifier",
    "../../etc/passwd.png",
    "a\x00b\x1b[31m.png",
    "<img src=x>.png",
]


def _check(name: str, data: bytes, may_accept: bool, upload_name: str) -> str:
    try:
        ref = sanitize_upload(data, upload_name)
    except ImageRejected as exc:
        msg = exc.message
        assert msg.endswith(".") and 20 < len(msg) < 300 and "Traceback" not in msg, (name, msg)
        assert "\x00" not in msg and "\x1b" not in msg, (name, msg)
        return "rejected"
    assert may_accept, f"{name} was accepted"
    with Image.open(io.BytesIO(ref.data)) as out:
        assert out.format in ("PNG", "JPEG")
        assert not out.getexif() and not {"exif", "xmp", "comment", "icc_profile", "Comment"} & set(out.info)
        assert not getattr(out, "text", {}), name
    for payload in (SECRET, b"<script", b"PK\x03\x04", b"\xca\xfe\xba\xbe", b"Exif\x00"):
        assert payload not in ref.data, (name, payload)
    return "accepted"


def test_hostile_corpus_gives_no_crash_no_hang_and_a_sentence_per_rejection():
    items = corpus()
    assert len(items) >= 500
    results: dict[str, str] = {}
    failures: list[BaseException] = []

    def run() -> None:
        for i, (name, data, may_accept) in enumerate(items):
            try:
                results[name] = _check(name, data, may_accept, NAMES[i % len(NAMES)])
            except BaseException as exc:  # a crash: anything but ImageRejected, or a failed check
                failures.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=120)
    assert not worker.is_alive(), f"hung after {len(results)} of {len(items)} files"
    assert not failures, failures[:3]
    assert len(results) == len(items)
    rejected = sum(v == "rejected" for v in results.values())
    assert rejected >= 300 and all(results[f"base {k}"] == "accepted" for k in _bases())
    assert all(results[name] == "rejected" for name, _, ok in items if not ok)


def test_exif_orientation_is_applied_and_metadata_stripped():
    for name, data in _metadata_images():
        ref = sanitize_upload(data, f"{name}.img")
        assert (ref.width, ref.height) == (20, 40), name  # rotated upright, then the tag dropped
