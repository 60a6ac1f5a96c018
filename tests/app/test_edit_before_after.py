"""The Edit page's before/after slider sends each image as a JPEG data URL at most SIDE px on its long side,
never the full PNG (a 4K original would be tens of MB of base64 in the page)."""

from __future__ import annotations

import base64
import io
import os

from PIL import Image

from studio.app.widgets import before_after
from studio.imaging import images
from tests.factories import make_image


def _noisy_png(width: int, height: int) -> bytes:
    """A PNG that does not compress: the worst case for the payload."""
    im = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def _payload(url: str) -> bytes:
    head, _, body = url.partition(",")
    assert head == "data:image/jpeg;base64", head[:40]
    return base64.b64decode(body)


def test_a_large_png_is_sent_as_a_jpeg_no_larger_than_side() -> None:
    big = _noisy_png(2600, 1700)
    url = before_after.jpeg_data_url(big)
    data = _payload(url)
    assert data[:3] == b"\xff\xd8\xff"  # JPEG
    mime, width, height = images.probe(data)
    assert mime == "image/jpeg" and max(width, height) == before_after.SIDE
    assert abs(width / height - 2600 / 1700) < 0.01
    assert len(url) < 2_000_000 and len(url) < len(big) / 4  # about a quarter or less of the PNG


def test_a_small_png_is_a_jpeg_too_and_keeps_its_size() -> None:
    url = before_after.jpeg_data_url(make_image(300, 200, color=(10, 200, 90)))
    mime, width, height = images.probe(_payload(url))
    assert (mime, width, height) == ("image/jpeg", 300, 200)
    assert len(url) < 40_000
