"""A run's grid as one labelled image (a contact sheet), and the whole run as a ZIP.

Thumbnails are the store's 384 px JPEGs (the originals when a thumbnail is missing); labels are
drawn with Pillow's built-in font, so nothing depends on fonts installed on the machine.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from studio.services import runs
from studio.storage import Store

BACKGROUND = (248, 248, 250)
INK = (40, 40, 48)
MUTED = (150, 150, 160)
LABEL_W = 160
HEADER_H = 36
PAD = 8
_EXT = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


_Font = ImageFont.ImageFont | ImageFont.FreeTypeFont


def _font(size: int) -> _Font:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()


def _fit(draw: ImageDraw.ImageDraw, text: str, font: _Font, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def _thumb(cell: runs.GridCell, side: int) -> Image.Image | None:
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


def render(grid: runs.Grid, *, side: int = 256, fmt: str = "PNG") -> bytes:
    """The grid as one PNG (or JPEG) with row and column labels; each grid cell shows its first image."""
    n_rows, n_cols = len(grid.row_labels), len(grid.col_labels)
    width = LABEL_W + n_cols * (side + PAD) + PAD
    height = HEADER_H + n_rows * (side + PAD) + PAD
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font, small = _font(14), _font(12)
    corner = " × ".join(a for a in (grid.rows, grid.cols) if a)
    draw.text((PAD, PAD), _fit(draw, corner, small, LABEL_W - PAD), fill=MUTED, font=small)
    for c, text in enumerate(grid.col_labels):
        x = LABEL_W + c * (side + PAD)
        draw.text((x, PAD + 4), _fit(draw, text, font, side), fill=INK, font=font)
    for r, text in enumerate(grid.row_labels):
        y = HEADER_H + r * (side + PAD)
        draw.text((PAD, y + side // 2 - 8), _fit(draw, text, font, LABEL_W - 2 * PAD), fill=INK, font=font)
        for c in range(n_cols):
            _draw_cell(sheet, draw, grid.at(r, c), LABEL_W + c * (side + PAD), y, side, small)
    buf = io.BytesIO()
    sheet.save(buf, "JPEG" if fmt.upper() in ("JPG", "JPEG") else "PNG", quality=90)
    return buf.getvalue()


def _draw_cell(
    sheet: Image.Image,
    draw: ImageDraw.ImageDraw,
    cells: list[runs.GridCell],
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
        draw.text((x + PAD, y + side // 2 - 6), status, fill=MUTED, font=font)
    if len(cells) > 1:
        draw.text((x + PAD, y + side - 20), f"+{len(cells) - 1} more", fill=INK, font=font)


def export_zip(store: Store, run_id: int, *, rows: str | None = None, cols: str | None = None) -> bytes:
    """manifest.json (run, spec, every cell and its generation), the images, and contact-sheet.png."""
    run = store.runs.get(run_id)
    if run is None:
        from studio.domain.errors import InputError

        raise InputError(f"Run {run_id} is not in the history.")
    grid = runs.grid(store, run_id, rows, cols)
    buf = io.BytesIO()
    manifest_cells = []
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for cell in (c for cells in grid.cells.values() for c in cells):
            entry: dict[str, Any] = {
                "cell_key": cell.key,
                "values": cell.values,
                "status": cell.status,
                "generation": None,
                "images": [],
            }
            if cell.record is not None:
                entry["generation"] = cell.record.id
                entry["prompt"] = cell.record.prompt
                entry["settings"] = cell.record.settings
                for image in cell.record.images:
                    name = f"images/{cell.record.id}-{image.sha256[:12]}.{_EXT.get(image.mime_type, 'bin')}"
                    zf.write(image.path, name, compress_type=zipfile.ZIP_STORED)  # already compressed
                    entry["images"].append(name)
            manifest_cells.append(entry)
        manifest = {
            "run": {
                "id": run.id,
                "kind": run.kind,
                "name": run.name,
                "status": run.status,
                "created_at": run.created_at.isoformat(),
                "spec": run.spec,
            },
            "cells": manifest_cells,
        }
        zf.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2, default=str))
        zf.writestr("contact-sheet.png", render(grid, side=192))
    return buf.getvalue()
