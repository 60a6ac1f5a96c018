"""Test images shared by every kind of test (made with Pillow, in memory)."""

from __future__ import annotations

import io

from PIL import Image


def make_image(width: int = 64, height: int = 48, fmt: str = "PNG", color=(200, 80, 40), **save) -> bytes:
    """An image with some structure, so encoders do real work."""
    im = Image.new("RGB", (width, height), color)
    for x in range(0, width, 8):
        im.paste((x * 3 % 256, 120, 200), (x, 0, min(width, x + 4), height))
    buf = io.BytesIO()
    im.save(buf, fmt, **save)
    return buf.getvalue()


def solid_image(
    color: tuple[int, int, int] = (200, 80, 40), size: tuple[int, int] = (64, 48), fmt: str = "PNG"
) -> bytes:
    """One flat colour: two calls with different colours give two different images (and hashes)."""
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt)
    return buf.getvalue()


def png(color: tuple[int, int, int] = (200, 80, 40), size: tuple[int, int] = (64, 48)) -> bytes:
    return solid_image(color, size, "PNG")
