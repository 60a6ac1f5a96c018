"""A run's grid as one labelled image (a contact sheet); ``services.runs.export_zip`` zips a whole run.

Thumbnails are the store's 384 px JPEGs (the originals when a thumbnail is missing). Labels are drawn in
DejaVu Sans when the machine has it (Linux distributions ship it), else in Pillow's built-in font. Either way a
character the font has no glyph for is never drawn as a missing-glyph box: it is spelled with glyphs the
font has ("×" as "x", "é" as "e") or shown as "?". Pillow's built-in font (Aileron) lacks "×", "—" and "é".
Text is NFC-normalised first ("e" + a combining acute is "é"); a combining mark the font still lacks is
left out rather than shown as "?". A label with characters the font lacks (Chinese, Japanese, Korean) is
drawn in a CJK font when the machine has one (Noto Sans CJK, WenQuanYi, Droid Sans Fallback).
"""

from __future__ import annotations

import io
import unicodedata
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from studio.domain.axes import axis_label, value_label
from studio.domain.grid import Grid, GridCell

BACKGROUND = (248, 248, 250)
INK = (40, 40, 48)
MUTED = (150, 150, 160)
LABEL_W = 160
HEADER_H = 36
PAD = 8


_Font = ImageFont.ImageFont | ImageFont.FreeTypeFont


#: fonts with every glyph the sheet draws in its own words, tried in order
FONT_FILES = (
    "DejaVuSans.ttf",  # found on the system font path by name
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
)
#: fonts for labels the first font cannot draw (CJK), tried in order
CJK_FILES = (
    "NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)
#: spellings for characters a font may lack, in glyphs every Latin font has
PLAIN = {"×": "x", "—": "-", "–": "-", "…": "...", "·": "-", "“": '"', "”": '"', "‘": "'", "’": "'"}


@cache
def _font(size: int) -> _Font:
    for name in FONT_FILES:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()


@cache
def _cjk(size: int) -> _Font | None:
    for name in CJK_FILES:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return None


def font_for(text: str, size: int) -> _Font:
    """The sheet's font at ``size``, or the CJK font when the text has characters only that one draws."""
    font = _font(size)
    lacking = [ch for ch in unicodedata.normalize("NFC", text) if not has_glyph(font, ch)]
    other = _cjk(size) if lacking else None
    if other is not None and any(has_glyph(other, ch) for ch in lacking):
        return other
    return font


def _glyph(font: _Font, ch: str) -> tuple[tuple[int, int], bytes]:
    mask = font.getmask(ch)
    return mask.size, bytes(mask)


@cache
def has_glyph(font: _Font, ch: str) -> bool:
    """True when ``font`` draws ``ch`` as something other than its missing-glyph box (.notdef)."""
    if ch.isspace():
        return True
    return _glyph(font, ch) != _glyph(font, "\ue000")  # a private-use point: no font maps it


def drawable(text: str, font: _Font) -> str:
    """``text`` (NFC) with every character ``font`` lacks spelled in glyphs it has (or "?"); a combining
    mark it lacks is left out."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        if has_glyph(font, ch):
            out.append(ch)
            continue
        if unicodedata.combining(ch):  # an accent with no precomposed form: the letter alone
            continue
        plain = PLAIN.get(ch) or unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
        out.append(plain if plain and all(has_glyph(font, c) for c in plain) else "?")
    return "".join(out)


def _fit(draw: ImageDraw.ImageDraw, text: str, font: _Font, width: int) -> str:
    text = drawable(text, font)
    if draw.textlength(text, font=font) <= width:
        return text
    ellipsis = drawable("…", font)
    while text and draw.textlength(text + ellipsis, font=font) > width:
        text = text[:-1]
    return text + ellipsis


def _label(
    draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str, size: int, width: int, fill: tuple[int, ...]
) -> None:
    font = font_for(text, size)
    draw.text(xy, _fit(draw, text, font, width), fill=fill, font=font)


def _thumb(cell: GridCell, side: int) -> Image.Image | None:
    record = cell.record
    if record is None or not record.images:
        return None
    image = record.images[0]
    path = image.thumb_path if image.thumb_path and Path(image.thumb_path).exists() else image.path
    try:
        with Image.open(path) as im:
            im.thumbnail((side, side))
            return im.convert("RGB")
    except OSError:
        return None


def render(grid: Grid, *, side: int = 256, fmt: str = "PNG") -> bytes:
    """The grid as one PNG (or JPEG) with row and column labels; each grid cell shows its first image."""
    n_rows, n_cols = len(grid.row_labels), len(grid.col_labels)
    width = LABEL_W + n_cols * (side + PAD) + PAD
    height = HEADER_H + n_rows * (side + PAD) + PAD
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    small = _font(12)
    corner = " × ".join(axis_label(a) for a in (grid.rows, grid.cols) if a)  # rows × columns, in words
    _label(draw, (PAD, PAD), corner, 12, LABEL_W - PAD, MUTED)
    for c, text in enumerate(grid.col_labels):
        x = LABEL_W + c * (side + PAD)
        _label(draw, (x, PAD + 4), value_label(grid.cols, text) if grid.cols else text, 14, side, INK)
    for r, text in enumerate(grid.row_labels):
        y = HEADER_H + r * (side + PAD)
        label = value_label(grid.rows, text) if grid.rows else text
        _label(draw, (PAD, y + side // 2 - 8), label, 14, LABEL_W - 2 * PAD, INK)
        for c in range(n_cols):
            _draw_cell(sheet, draw, grid.at(r, c), LABEL_W + c * (side + PAD), y, side, small)
    buf = io.BytesIO()
    sheet.save(buf, "JPEG" if fmt.upper() in ("JPG", "JPEG") else "PNG", quality=90)
    return buf.getvalue()


def _draw_cell(
    sheet: Image.Image,
    draw: ImageDraw.ImageDraw,
    cells: list[GridCell],
    x: int,
    y: int,
    side: int,
    font: _Font,
) -> None:
    draw.rectangle((x, y, x + side - 1, y + side - 1), outline=(220, 220, 228), fill=(236, 236, 240))
    shown = next((t for t in (_thumb(c, side) for c in cells) if t is not None), None)
    if shown is not None:
        sheet.paste(shown, (x + (side - shown.width) // 2, y + (side - shown.height) // 2))
    else:
        status = cells[0].status if cells else "empty"
        draw.text((x + PAD, y + side // 2 - 6), drawable(status, font), fill=MUTED, font=font)
    if len(cells) > 1:
        draw.text((x + PAD, y + side - 20), f"+{len(cells) - 1} more", fill=INK, font=font)
