"""Deterministic demo images drawn with Pillow: a gradient, shapes, the prompt as a caption, and thumbnails
of the reference images."""

from __future__ import annotations

import functools
import hashlib
import io
import math
import textwrap
from typing import Any

from PIL import Image, ImageDraw, ImageFont


@functools.lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, ValueError, TypeError):  # no FreeType: the small bitmap font still works
        return ImageFont.load_default()


def _colour(seed: bytes, i: int) -> tuple[int, int, int]:
    return seed[i % 32], seed[(i + 1) % 32], seed[(i + 2) % 32]


def _background(size: tuple[int, int], digest: bytes) -> Image.Image:
    # A 2x2 image of corner colours scaled up is a smooth four-way gradient in one fast C call.
    corners = Image.new("RGB", (2, 2))
    corners.putdata([_colour(digest, 0), _colour(digest, 3), _colour(digest, 6), _colour(digest, 9)])
    return corners.resize(size, Image.Resampling.BILINEAR)


def _shapes(canvas: Image.Image, digest: bytes) -> Image.Image:
    overlay = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    w, h = canvas.size
    for i in range(6):
        b = digest[(i * 5) % 27 : (i * 5) % 27 + 5]
        x, y, r = b[0] * w // 255, b[1] * h // 255, max(8, b[2] * min(w, h) // 600)
        box = (x - r, y - r, x + r, y + r)
        fill = (*_colour(digest, 12 + i), 110)
        (draw.ellipse if b[3] % 2 else draw.rectangle)(box, fill=fill)
    return Image.alpha_composite(canvas.convert("RGBA"), overlay).convert("RGB")


def _wrap(text: str, font: Any, width: int, max_lines: int) -> list[str]:
    chars = max(8, int(width / max(1.0, font.getlength("n"))))
    lines = textwrap.wrap(text, chars) or ["(no prompt)"]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: max(0, chars - 1)] + "…"
    return lines


def _caption(canvas: Image.Image, prompt: str, footer: str) -> None:
    draw = ImageDraw.Draw(canvas, "RGBA")  # RGBA mode blends the translucent panels
    w, h = canvas.size
    unit = max(8, min(int(math.sqrt(w * h) / 28), h // 7))
    label_font, text_font, small = _font(unit), _font(max(8, unit * 3 // 4)), _font(max(7, unit // 2))
    draw.rectangle((0, 0, w, unit * 2), fill=(0, 0, 0, 190))
    draw.text((unit // 2, unit // 2), "STUDIO EMULATOR · DEMO", font=label_font, fill=(255, 236, 120, 255))
    lines = _wrap(prompt, text_font, w - unit * 2, max_lines=max(1, (h - unit * 5) // (unit + 2)))
    top = max(unit * 3, (h - len(lines) * (unit + 2)) // 2)
    draw.rectangle(
        (unit // 2, top - unit // 2, w - unit // 2, top + len(lines) * (unit + 2) + unit // 2),
        fill=(0, 0, 0, 120),
    )
    for n, line in enumerate(lines):
        draw.text((unit, top + n * (unit + 2)), line, font=text_font, fill=(255, 255, 255, 255))
    draw.text((unit // 2, h - unit), footer, font=small, fill=(255, 255, 255, 230))


def _paste_references(canvas: Image.Image, references: tuple[bytes, ...]) -> None:
    w, h = canvas.size
    side = max(16, min(w, h) // 6)
    x = side // 4
    for raw in references:
        if x + side > w:
            break
        try:
            with Image.open(io.BytesIO(raw)) as im:
                im.draft("RGB", (side, side))
                thumb = im.convert("RGB")
            thumb.thumbnail((side, side))
        except (OSError, ValueError, Image.DecompressionBombError):
            thumb = Image.new("RGB", (side, side), (90, 90, 90))
        y = h - side - side // 2
        ImageDraw.Draw(canvas).rectangle(
            (x - 2, y - 2, x + thumb.width + 1, y + thumb.height + 1), fill=(255, 255, 255, 255)
        )
        canvas.paste(thumb, (x, y))
        x += side + side // 4


@functools.lru_cache(maxsize=16)
def render_image(
    width: int,
    height: int,
    mime: str,
    prompt: str,
    seed: int | None,
    footer: str,
    references: tuple[bytes, ...] = (),
) -> bytes:
    """Deterministic image of exactly width x height from the prompt and seed, encoded as ``mime``.

    Drawn small and scaled up so a 4K image costs a resize and an encode, not a 4K drawing.
    """
    digest = hashlib.sha256(f"{seed}|{prompt}".encode()).digest()
    scale = min(1.0, max(1024 / max(width, height), 320 / min(width, height)))
    small = (max(1, round(width * scale)), max(1, round(height * scale)))
    canvas = _shapes(_background(small, digest), digest)
    _caption(canvas, prompt, footer)
    _paste_references(canvas, references)
    image = canvas
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    if mime == "image/jpeg":
        image.save(out, "JPEG", quality=90)
    else:
        image.save(out, "PNG", compress_level=1)
    return out.getvalue()
