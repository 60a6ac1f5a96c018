"""A contact sheet of a real run (emulator images): its header and labels are in words, drawn only with
glyphs the sheet's font has."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw

from studio.domain import catalogue
from studio.domain.axes import axis_label, value_label
from studio.imaging import contact_sheet
from studio.imaging.contact_sheet import drawable, has_glyph
from studio.services import runs
from studio.storage.filter_sql import EVERYTHING


@pytest.mark.parametrize("font_files", [None, ()], ids=["system font", "built-in font"])
def test_a_real_runs_sheet_has_words_and_no_missing_glyph(studio, monkeypatch, font_files):
    drawn: list[tuple[str, object]] = []  # every (text, font) handed to ImageDraw.text
    original = ImageDraw.ImageDraw.text

    def record(self, xy, text, *args, **kwargs):
        drawn.append((text, kwargs.get("font")))
        return original(self, xy, text, *args, **kwargs)

    if font_files is not None:  # Pillow's built-in font: no "×", "—" or "é"
        monkeypatch.setattr(contact_sheet, "FONT_FILES", font_files)
    contact_sheet._font.cache_clear()
    spec = runs.RunSpec(
        template="a {animal} at dusk",
        variables={"animal": ["cat", "crème brûlée"]},
        models=["gemini-2.5-flash-image", "gemini-3-pro-image"],
    )
    run_id = runs.start(studio, spec, concurrency=4)
    runs.wait(studio, run_id, timeout=60)
    grid = runs.grid(studio._store, run_id, rows="var.animal", cols="model", visibility=EVERYTHING)
    monkeypatch.setattr(ImageDraw.ImageDraw, "text", record)  # from here on: the sheet's text only
    data = studio.runs.contact_sheet(run_id, "var.animal", "model")
    monkeypatch.setattr(ImageDraw.ImageDraw, "text", original)
    with Image.open(io.BytesIO(data)) as sheet:
        assert sheet.format == "PNG"
        assert sheet.width == contact_sheet.LABEL_W + 2 * (256 + contact_sheet.PAD) + contact_sheet.PAD
        # every cell shows an image: its middle is not the empty cell's flat grey
        x0, y0 = contact_sheet.LABEL_W + 128, contact_sheet.HEADER_H + 128
        assert sheet.convert("RGB").getpixel((x0, y0)) != (236, 236, 240)
    font = contact_sheet._font(14)
    header = [
        f"{axis_label(grid.rows)} × {axis_label(grid.cols)}",
        *(value_label(grid.cols, t) for t in grid.col_labels),
        *(value_label(grid.rows, t) for t in grid.row_labels),
    ]
    assert header[0] == "animal × Model"
    assert header[1:3] == ["Nano Banana (2.5 Flash Image)", catalogue.display_label("gemini-3-pro-image")]
    for text in header:
        assert all(has_glyph(font, ch) for ch in drawable(text, font)), text
    assert len(drawn) >= 5 and any("Model" in t for t, _ in drawn)
    for text, used in drawn:  # what was actually drawn, in the font it was drawn with
        assert [ch for ch in text if not has_glyph(used, ch)] == [], text  # type: ignore[arg-type]
    contact_sheet._font.cache_clear()
