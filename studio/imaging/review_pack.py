"""Review images: a collection's review pack (a PDF contact sheet: each image with its decision badge and
its comments, several A4-landscape pages) and the annotation reference for "Make the next version" (the
source image with the comment's pin drawn on it, numbered as in the lightbox).

Text is drawn with the contact sheet's fonts (``contact_sheet.font_for``/``drawable``: never a
missing-glyph box).
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageOps

from studio.domain.review import PackItem, Pin, decision_label
from studio.imaging.contact_sheet import drawable, font_for

#: A4 landscape at 100 dpi
PAGE_W, PAGE_H = 1169, 827
COLS, ROWS = 3, 2
MARGIN = 40
HEADER = 64
GAP = 24
PAPER = (255, 255, 255)
INK = (40, 40, 48)
MUTED = (120, 120, 130)
BADGES = {
    "approved": (34, 139, 84),
    "changes": (214, 130, 20),
    "rejected": (200, 50, 50),
    "open": (120, 120, 130),
}
MARKER = (230, 40, 90)


def _open(data: bytes | None) -> Image.Image | None:
    if not data:
        return None
    try:
        im = Image.open(io.BytesIO(data))
        im.load()
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    return ImageOps.exif_transpose(im).convert("RGB")


def _text(
    draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, size: int, fill: tuple[int, ...]
) -> None:
    font = font_for(text, size)
    draw.text(xy, drawable(text, font), font=font, fill=fill)


def _fit(text: str, size: int, width: int, draw: ImageDraw.ImageDraw) -> str:
    font = font_for(text, size)
    text = drawable(text, font)
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def _badge(draw: ImageDraw.ImageDraw, x: int, y: int, status: str | None) -> int:
    """Draw the decision badge; returns its width."""
    label = decision_label(status)
    font = font_for(label, 15)
    w = int(draw.textlength(label, font=font)) + 16
    draw.rounded_rectangle((x, y, x + w, y + 24), radius=6, fill=BADGES.get(status or "open", MUTED))
    draw.text((x + 8, y + 3), drawable(label, font), font=font, fill=(255, 255, 255))
    return w


def _markers(im: Image.Image, pins: Sequence[tuple[int, Pin]]) -> None:
    """The pinned comments' numbered markers on a tile's image, as the lightbox draws them."""
    draw = ImageDraw.Draw(im)
    for number, pin in pins:
        left, top, right, bottom = pin.pixels(im.width, im.height)
        if pin.is_box:
            draw.rectangle((left, top, right, bottom), outline=MARKER, width=2)
        label = str(number)
        font = font_for(label, 12)
        r = 9
        cx, cy = min(max(left, r), im.width - r), min(max(top, r), im.height - r)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=MARKER, outline=(255, 255, 255))
        w = draw.textlength(label, font=font)
        draw.text((cx - w / 2, cy - 8), label, font=font, fill=(255, 255, 255))


def _cell(page: Image.Image, item: PackItem, box: tuple[int, int, int, int]) -> None:
    draw = ImageDraw.Draw(page)
    left, top, right, bottom = box
    width = right - left
    image_h = int((bottom - top) * 0.58)
    im = _open(item.image)
    if im is not None:
        im.thumbnail((width, image_h))
        _markers(im, item.pins)
        page.paste(im, (left + (width - im.width) // 2, top + (image_h - im.height) // 2))
    else:
        draw.rectangle((left, top, right, top + image_h), outline=MUTED)
        _text(draw, (left + 8, top + 8), "(image not available)", 14, MUTED)
    y = top + image_h + 8
    badge = _badge(draw, left, y, item.status) + 10
    _text(draw, (left + badge, y + 4), _fit(item.caption, 14, width - badge, draw), 14, INK)
    y += 32
    for line in item.comments:
        for part in textwrap.wrap(line, width=max(20, width // 8))[:3] or [""]:
            if y + 18 > bottom:
                return
            _text(draw, (left, y), _fit(part, 13, width, draw), 13, INK)
            y += 18


def render_pack(title: str, items: Sequence[PackItem], *, subtitle: str = "") -> bytes:
    """The review pack as PDF bytes: ``COLS`` x ``ROWS`` images a page (at least one page)."""
    pages = pack_pages(title, items, subtitle=subtitle)
    out = io.BytesIO()
    pages[0].save(out, "PDF", resolution=100.0, save_all=True, append_images=pages[1:])
    return out.getvalue()


def pack_pages(title: str, items: Sequence[PackItem], *, subtitle: str = "") -> list[Image.Image]:
    """The review pack's pages as images."""
    per_page = COLS * ROWS
    pages: list[Image.Image] = []
    chunks = [items[i : i + per_page] for i in range(0, len(items), per_page)] or [[]]
    cell_w = (PAGE_W - 2 * MARGIN - (COLS - 1) * GAP) // COLS
    cell_h = (PAGE_H - 2 * MARGIN - HEADER - (ROWS - 1) * GAP) // ROWS
    for number, chunk in enumerate(chunks, start=1):
        page = Image.new("RGB", (PAGE_W, PAGE_H), PAPER)
        draw = ImageDraw.Draw(page)
        _text(draw, (MARGIN, MARGIN - 8), _fit(title, 26, PAGE_W - 2 * MARGIN - 120, draw), 26, INK)
        if subtitle:
            _text(draw, (MARGIN, MARGIN + 26), _fit(subtitle, 15, PAGE_W - 2 * MARGIN, draw), 15, MUTED)
        _text(draw, (PAGE_W - MARGIN - 100, MARGIN - 4), f"page {number} of {len(chunks)}", 14, MUTED)
        if not chunk:
            _text(draw, (MARGIN, MARGIN + HEADER), "This collection has no images.", 16, MUTED)
        for i, item in enumerate(chunk):
            row, col = divmod(i, COLS)
            left = MARGIN + col * (cell_w + GAP)
            top = MARGIN + HEADER + row * (cell_h + GAP)
            _cell(page, item, (left, top, left + cell_w, top + cell_h))
        pages.append(page)
    return pages


def annotate(data: bytes, pin: Pin, number: int | None = None, *, max_side: int = 2048) -> bytes:
    """The image with ``pin`` drawn on it (a box outlined, or a point ringed) and its marker number, as
    PNG bytes: the annotation reference sent with the next version's instruction."""
    im = _open(data)
    if im is None:
        raise ValueError("the source image cannot be read")
    im.thumbnail((max_side, max_side))
    draw = ImageDraw.Draw(im)
    stroke = max(4, round(min(im.size) / 100))
    left, top, right, bottom = pin.pixels(im.width, im.height)
    halo = (255, 255, 255)  # a white edge either side of the marker's colour: visible on any image
    if pin.is_box:
        draw.rectangle((left - 1, top - 1, right + 1, bottom + 1), outline=halo, width=stroke + 2)
        draw.rectangle((left, top, right, bottom), outline=MARKER, width=stroke)
        cx, cy = left, top
    else:
        r = max(14, round(min(im.size) / 20))
        draw.ellipse((left - r - 1, top - r - 1, left + r + 1, top + r + 1), outline=halo, width=stroke + 2)
        draw.ellipse((left - r, top - r, left + r, top + r), outline=MARKER, width=stroke)
        cx, cy = left + r, top - r
    if number is not None:
        label = str(number)
        size = max(14, round(min(im.size) / 22))
        font = font_for(label, size)
        r = size
        cx = min(max(cx, r), im.width - r)
        cy = min(max(cy, r), im.height - r)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=MARKER, outline=halo, width=2)
        w = draw.textlength(label, font=font)
        draw.text((cx - w / 2, cy - size * 0.6), label, font=font, fill=halo)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()
