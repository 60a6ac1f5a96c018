"""studio.images: sniffing, probing, sanitising hostile uploads, resizing and thumbnails."""

from __future__ import annotations

import io
import random
import struct
import tracemalloc
import zlib

import pytest
from PIL import Image, ImageCms, PngImagePlugin

from studio.domain.errors import ImageRejected
from studio.domain.requests import Reference
from studio.imaging import images


def encode(im: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **params)
    return buf.getvalue()


def gradient(w: int = 64, h: int = 48, mode: str = "RGB") -> Image.Image:
    ramp = Image.linear_gradient("L")
    bands = [ramp.rotate(90).resize((w, h)), ramp.resize((w, h)), Image.new("L", (w, h), 128)]
    return Image.merge("RGB", bands).convert(mode)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_with_header(width: int, height: int) -> bytes:
    """A structurally valid PNG whose IHDR claims ``width`` x ``height`` but carries one tiny IDAT."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    )


def exif_with_gps(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[0x0131] = "secret-editor"  # Software
    if orientation:
        exif[0x0112] = orientation
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)}  # GPS IFD
    return exif


XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description author="Jane Secret"/></rdf:RDF></x:xmpmeta>'
ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


# -- sniff / probe / sha -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp"), ("GIF", "image/gif")],
)
def test_sniff_and_probe_known_formats(fmt: str, mime: str) -> None:
    data = encode(gradient(70, 30), fmt)
    assert images.sniff(data) == mime
    assert images.probe(data) == (mime, 70, 30)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello",
        b"BM" + b"\x00" * 60,
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        b"RIFF\x00\x00\x00\x00WAVE",
    ],
    ids=["empty", "text", "bmp", "svg", "riff-wave"],
)
def test_sniff_unknown_is_none(data: bytes) -> None:
    assert images.sniff(data) is None


@pytest.mark.parametrize("data", [b"", b"not an image", encode(gradient(), "BMP"), b"\x89PNG\r\n\x1a\n"])
def test_probe_rejects_unreadable(data: bytes) -> None:
    with pytest.raises(ImageRejected):
        images.probe(data)


def test_probe_does_not_reencode_or_decode_a_huge_header() -> None:
    # A generated image is only measured; a header claiming 20k x 20k must not be decoded.
    assert images.probe(png_with_header(9000, 9000)) == ("image/png", 9000, 9000)


def test_sha256_hex() -> None:
    assert images.sha256_hex(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


# -- sanitize_upload: accepted formats --------------------------------------------------------


def test_png_stays_png_and_lossless() -> None:
    src = gradient(40, 30, "RGBA")
    ref = images.sanitize_upload(encode(src, "PNG"), "a.png", role="character")
    assert isinstance(ref, Reference)
    assert (ref.mime_type, ref.width, ref.height, ref.role, ref.name) == (
        "image/png",
        40,
        30,
        "character",
        "a.png",
    )
    assert ref.sha256 == images.sha256_hex(ref.data)
    with Image.open(io.BytesIO(ref.data)) as out:
        assert out.format == "PNG"
        assert list(out.convert("RGBA").getdata()) == list(src.getdata())


def test_jpeg_stays_jpeg() -> None:
    ref = images.sanitize_upload(encode(gradient(50, 20), "JPEG", quality=90), "p.jpg")
    assert (ref.mime_type, ref.width, ref.height) == ("image/jpeg", 50, 20)
    with Image.open(io.BytesIO(ref.data)) as out:
        assert out.format == "JPEG"


def test_webp_becomes_png() -> None:
    ref = images.sanitize_upload(encode(gradient(33, 22, "RGBA"), "WEBP", lossless=True), "w.webp")
    assert (ref.mime_type, ref.width, ref.height) == ("image/png", 33, 22)
    assert images.sniff(ref.data) == "image/png"


@pytest.mark.parametrize("mode", ["P", "L", "LA", "1", "I;16", "CMYK"])
def test_unusual_modes_are_accepted(mode: str) -> None:
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    ref = images.sanitize_upload(encode(gradient(16, 16, mode), fmt), f"m.{fmt.lower()}")
    assert (ref.width, ref.height) == (16, 16)
    with Image.open(io.BytesIO(ref.data)) as out:
        out.load()


def test_exif_orientation_is_applied() -> None:
    data = encode(gradient(40, 20), "JPEG", exif=exif_with_gps(orientation=6))
    with Image.open(io.BytesIO(data)) as raw:
        assert raw.size == (40, 20)
    ref = images.sanitize_upload(data, "rotated.jpg")
    assert (ref.width, ref.height) == (20, 40)
    with Image.open(io.BytesIO(ref.data)) as out:
        assert out.size == (20, 40)
        assert 0x0112 not in out.getexif()


def test_jpeg_metadata_is_stripped() -> None:
    data = encode(gradient(), "JPEG", exif=exif_with_gps(), xmp=XMP, comment=b"shot at home", icc_profile=ICC)
    with Image.open(io.BytesIO(data)) as raw:  # the fixture really carries all of it
        assert raw.getexif() and "xmp" in raw.info and "comment" in raw.info and "icc_profile" in raw.info
    ref = images.sanitize_upload(data, "meta.jpg")
    with Image.open(io.BytesIO(ref.data)) as out:
        assert not out.getexif()
        assert not out.getexif().get_ifd(0x8825)
        for key in ("exif", "xmp", "comment", "icc_profile"):
            assert key not in out.info
        markers = {marker for marker, _ in out.applist}
        assert not markers & {"APP1", "APP2", "COM"}
    assert b"SpyCam" not in ref.data and b"Jane Secret" not in ref.data and b"shot at home" not in ref.data


def test_png_metadata_is_stripped() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jane Secret")
    info.add_text("Comment", "compressed secret", zip=True)
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    data = encode(gradient(), "PNG", pnginfo=info, exif=exif_with_gps(), icc_profile=ICC)
    with Image.open(io.BytesIO(data)) as raw:
        assert raw.text and raw.getexif() and "icc_profile" in raw.info
    ref = images.sanitize_upload(data, "meta.png")
    with Image.open(io.BytesIO(ref.data)) as out:
        out.load()
        assert out.text == {}
        assert not out.getexif()
        assert "icc_profile" not in out.info and "exif" not in out.info
    assert b"Jane Secret" not in ref.data and b"SpyCam" not in ref.data


# -- sanitize_upload: rejections ----------------------------------------------------------------


def test_gif_rejected_with_a_sentence() -> None:
    with pytest.raises(ImageRejected) as info:
        images.sanitize_upload(encode(gradient(), "GIF"), "photo.gif")
    assert (
        str(info.value) == "“photo.gif” is not a PNG, JPEG or WebP image (GIF). Convert it and upload again."
    )
    assert info.value.kind == "bad_image"


HOSTILE = {
    "bmp": encode(gradient(), "BMP"),
    "tiff": encode(gradient(), "TIFF"),
    "gif-renamed-png": encode(gradient(), "GIF"),
    "svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    "html": b"<!DOCTYPE html><html><script>alert(1)</script></html>",
    "empty": b"",
    "truncated-png": encode(gradient(200, 200), "PNG")[:300],
    "truncated-jpeg": encode(gradient(200, 200), "JPEG")[:400],
    "png-signature-only": b"\x89PNG\r\n\x1a\n",
    "jpeg-soi-only": b"\xff\xd8\xff\xe0",
    "zero-width": png_with_header(0, 10),
    "bad-idat": png_with_header(64, 64),
    "pdf": b"%PDF-1.4\n%\xe2\xe3\n",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_files_rejected(name: str) -> None:
    with pytest.raises(ImageRejected) as info:
        images.sanitize_upload(HOSTILE[name], "photo.png")
    assert info.value.message.endswith(".")


def test_too_many_bytes() -> None:
    data = encode(gradient(), "PNG")
    with pytest.raises(ImageRejected, match="limit"):
        images.sanitize_upload(data, "big.png", max_bytes=len(data) - 1)


def test_max_pixels_is_an_error() -> None:
    with pytest.raises(ImageRejected, match="megapixels"):
        images.sanitize_upload(encode(gradient(20, 20), "PNG"), "x.png", max_pixels=399)
    assert images.sanitize_upload(encode(gradient(20, 20), "PNG"), "x.png", max_pixels=400).width == 20


@pytest.mark.parametrize("side", [100_000, 8_000, 10_000])
def test_decompression_bomb_rejected_without_allocating(side: int) -> None:
    # 100k^2 trips Pillow's own error, 10k^2 its warning (escalated), 8k^2 only our 50 MP cap.
    data = png_with_header(side, side)
    tracemalloc.start()
    try:
        with pytest.raises(ImageRejected, match="pixels"):
            images.sanitize_upload(data, "bomb.png")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * 2**20


def test_fuzzed_bytes_never_escape_as_other_exceptions() -> None:
    rng = random.Random(1234)
    seeds = [encode(gradient(32, 24), fmt) for fmt in ("PNG", "JPEG", "WEBP")]
    for _ in range(300):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[: rng.randrange(1, len(data))]
        try:
            ref = images.sanitize_upload(bytes(data), "fuzz.png")
        except ImageRejected:
            continue
        assert ref.width > 0 and images.sniff(ref.data) in ("image/png", "image/jpeg")


# -- downscale_reference / make_thumbnail -------------------------------------------------------


def test_downscale_keeps_aspect() -> None:
    ref = images.sanitize_upload(encode(gradient(3000, 1000), "JPEG"), "wide.jpg", role="character")
    small = images.downscale_reference(ref, max_side=2048)
    assert (small.width, small.height) == (2048, 683)
    assert (small.mime_type, small.role, small.name) == ("image/jpeg", "character", "wide.jpg")
    assert small.sha256 == images.sha256_hex(small.data)
    with Image.open(io.BytesIO(small.data)) as out:
        assert out.size == (2048, 683)


def test_downscale_returns_small_reference_unchanged() -> None:
    ref = images.sanitize_upload(encode(gradient(100, 50), "PNG"), "s.png")
    assert images.downscale_reference(ref) is ref


@pytest.mark.parametrize(
    ("fmt", "mode", "size"),
    [
        ("PNG", "RGBA", (1000, 500)),
        ("JPEG", "RGB", (2000, 3000)),
        ("WEBP", "RGB", (400, 400)),
        ("GIF", "P", (500, 100)),
        ("PNG", "L", (100, 80)),
    ],
)
def test_thumbnail_is_small_jpeg(fmt: str, mode: str, size: tuple[int, int]) -> None:
    thumb = images.make_thumbnail(encode(gradient(*size, mode), fmt))
    with Image.open(io.BytesIO(thumb)) as out:
        assert out.format == "JPEG" and out.mode == "RGB"
        assert max(out.size) <= 384
        assert abs(out.size[0] / out.size[1] - size[0] / size[1]) < 0.05


def test_thumbnail_matches_a_full_lanczos_resize_of_a_detailed_image() -> None:
    """The thumbnail box-reduces before Lanczos (for speed): on high-frequency detail it must still look the
    same as Lanczos all the way down."""
    rng = random.Random(7)
    noisy = Image.frombytes("RGB", (1024, 1024), rng.randbytes(1024 * 1024 * 3))
    detailed = Image.blend(noisy, gradient(1024, 1024), 0.5)
    thumb = images.make_thumbnail(encode(detailed, "PNG"))
    fair = detailed.resize((384, 384), Image.Resampling.LANCZOS)
    with (
        Image.open(io.BytesIO(thumb)) as out,
        Image.open(io.BytesIO(encode(fair, "JPEG", quality=85))) as same,
    ):
        # noise is the worst case for a box filter: it may add < 1 (of 255, mean) to what JPEG itself loses
        assert _mean_difference(out, fair) < _mean_difference(same, fair) + 1.0


def _mean_difference(a: Image.Image, b: Image.Image) -> float:
    diff = [abs(x - y) for x, y in zip(a.convert("L").tobytes(), b.convert("L").tobytes(), strict=True)]
    return sum(diff) / len(diff)


def test_thumbnail_composites_transparency_on_white() -> None:
    thumb = images.make_thumbnail(encode(Image.new("RGBA", (50, 50), (255, 0, 0, 0)), "PNG"))
    with Image.open(io.BytesIO(thumb)) as out:
        r, g, b = out.getpixel((25, 25))
        assert min(r, g, b) > 240


def test_thumbnail_of_garbage_is_rejected() -> None:
    with pytest.raises(ImageRejected):
        images.make_thumbnail(b"definitely not an image")
