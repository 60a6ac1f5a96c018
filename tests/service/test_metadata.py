"""Downloads with the prompt and settings embedded: PNG iTXt and JPEG XMP, pixels untouched."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import pytest
from PIL import Image

from studio.domain.requests import ImagePart, Outcome
from studio.imaging import metadata
from studio.storage import Store

PROMPT = 'A "quiet" fox & <owl> at dawn — 猫 \x07 🦊'
CANARY = "AIzaCANARY-key-never-embed-0123456789"


def picture(fmt: str, size=(40, 30), **save) -> bytes:
    im = Image.new("RGB", size, (10, 20, 30))
    for x in range(0, size[0], 5):
        im.paste((x * 6 % 256, 200, 90), (x, 0, x + 2, size[1]))
    buf = io.BytesIO()
    im.save(buf, fmt, **save)
    return buf.getvalue()


@pytest.fixture
def store(tmp_path: Path):
    s = Store(tmp_path / "data")
    yield s
    s.close()


def generation(store: Store, data: bytes, prompt: str = PROMPT, mime: str = "image/png"):
    settings = {
        "aspect_ratio": "4:3",
        "image_size": "1K",
        "seed": 7,
        "temperature": 0.4,
        "api_key": CANARY,
        "x-goog-api-key": CANARY,
    }  # secret-looking keys never leave the studio
    gen = store.generations.create_pending(
        prompt=prompt, model="gemini-2.5-flash-image", settings=settings, owner="t"
    )
    record = store.generations.save_success(
        gen, Outcome(images=[ImagePart(data, mime)], finish_reason="STOP"), latency_ms=1, cost_usd=0.04
    )
    return record, record.images[0]


def idat(data: bytes) -> bytes:
    return b"".join(body for kind, body in metadata.png_chunks(data) if kind == b"IDAT")


def test_png_gets_itxt_chunks_without_reencoding(store: Store) -> None:
    original = picture("PNG", pnginfo=None)
    record, image = generation(store, original)
    out, name, mime = metadata.embed(record, image)
    assert mime == "image/png" and name == f"studio-{record.id}-{image.sha256[:12]}.png"
    assert idat(out) == idat(original)  # the compressed pixel stream is copied byte for byte
    with Image.open(io.BytesIO(out)) as im:
        im.load()
        assert im.text["prompt"] == PROMPT
        params = json.loads(im.text["parameters"])
        assert im.text["studio:generation_id"] == str(record.id)
        with Image.open(io.BytesIO(original)) as before:
            assert im.tobytes() == before.tobytes()
    assert params["model"] == "gemini-2.5-flash-image" and params["generation_id"] == record.id
    assert params["settings"]["seed"] == 7 and params["settings"]["aspect_ratio"] == "4:3"
    assert CANARY.encode() not in out and "api_key" not in params["settings"]
    assert image.path.read_bytes() == original  # the stored original is never changed


def test_png_replaces_older_chunks_of_the_same_keywords(store: Store) -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("prompt", "stale prompt")
    info.add_text("Software", "another tool")
    record, image = generation(store, picture("PNG", pnginfo=info))
    out, _, _ = metadata.embed(record, image)
    with Image.open(io.BytesIO(out)) as im:
        assert im.text["prompt"] == PROMPT and im.text["Software"] == "another tool"
    assert b"stale prompt" not in out
    assert [k for k, _ in metadata.png_chunks(out)][-1] == b"IEND"


def test_jpeg_gets_xmp_without_reencoding(store: Store) -> None:
    original = picture("JPEG", quality=90)
    record, image = generation(store, original, mime="image/jpeg")
    out, name, mime = metadata.embed(record, image)
    assert mime == "image/jpeg" and name.endswith(".jpg") and name.startswith(f"studio-{record.id}-")
    sos = original.index(b"\xff\xda")
    assert out.endswith(original[sos:])  # scan data untouched
    assert out[2:4] == b"\xff\xe0"  # JFIF APP0 stays first
    with Image.open(io.BytesIO(out)) as im:
        xmp = im.info["xmp"]
        with Image.open(io.BytesIO(original)) as before:
            assert im.tobytes() == before.tobytes()
    import xml.etree.ElementTree as ET

    root = ET.fromstring(xmp.decode("utf-8").split("?>", 1)[1].rsplit("<?xpacket", 1)[0])
    ns = {
        "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
        "dc": "http://purl.org/dc/elements/1.1/",
        "studio": metadata.STUDIO_NS,
    }
    desc = root.find(".//dc:description/rdf:Alt/rdf:li", ns)
    assert desc is not None and desc.text == PROMPT.replace("\x07", "")  # XML cannot carry control characters
    settings = json.loads(root.find(".//studio:settings", ns).text)
    assert settings["settings"]["temperature"] == 0.4 and settings["model"] == "gemini-2.5-flash-image"
    assert CANARY.encode() not in out


def test_huge_prompt_still_fits_one_xmp_segment(store: Store) -> None:
    record, image = generation(store, picture("JPEG"), prompt="<&> " * 40_000, mime="image/jpeg")
    out, _, _ = metadata.embed(record, image)
    (length,) = struct.unpack(">H", out[out.index(b"\xff\xe1") + 2 :][:2])
    assert length <= 65535
    with Image.open(io.BytesIO(out)) as im:
        assert b"truncated" in im.info["xmp"]
        im.load()


def test_webp_is_handed_out_as_stored(store: Store) -> None:
    original = picture("WEBP")
    record, image = generation(store, original, mime="image/webp")
    out, name, mime = metadata.embed(record, image)
    assert (out, mime) == (original, "image/webp") and name.endswith(".webp")


def test_filename_never_uses_user_text(store: Store) -> None:
    record, image = generation(store, picture("PNG"), prompt="../../etc/passwd\\x.png")
    _, name, _ = metadata.embed(record, image)
    assert "/" not in name and "\\" not in name and ".." not in name and "passwd" not in name
