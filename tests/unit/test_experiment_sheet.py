"""The contact sheet and the Experiment page in words: axis labels, model names, and no missing-glyph box
in a rendered sheet (checked glyph by glyph against the font's .notdef box)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from studio.domain.axes import axis_label, value_label
from studio.domain.grid import Grid, GridCell
from studio.imaging import contact_sheet
from studio.imaging.contact_sheet import drawable, has_glyph


def test_axes_and_values_in_words() -> None:
    assert axis_label("var.animal") == "animal" and axis_label("var.art_style") == "art style"
    assert axis_label("ratio") == "Aspect ratio" and axis_label("model") == "Model"
    assert axis_label("size") == "Image size" and axis_label(None) == "—"
    assert value_label("model", "gemini-2.5-flash-image") == "Nano Banana (2.5 Flash Image)"
    assert value_label("ratio", "—") == "default" and value_label("ratio", "16:9") == "16:9"
    assert value_label("repeat", "0") == "repeat 1" and value_label("seed", "—") == "no seed"
    assert value_label("var.animal", "cat") == "cat"


def test_the_builtin_font_lacks_the_times_sign_and_it_is_spelled_instead() -> None:
    aileron = ImageFont.load_default(size=12)  # what the sheet used before: Pillow's built-in font
    assert not has_glyph(aileron, "×") and has_glyph(aileron, "x")  # the box the issue saw
    assert drawable("animal × Aspect ratio — café 猫", aileron) == "animal x Aspect ratio - cafe ?"


def _grid() -> Grid:
    cell = GridCell("k", {}, "failed", None)
    return Grid(
        "var.animal",
        "model",
        ["cat", "crème brûlée", "猫"],
        ["gemini-2.5-flash-image", "—"],
        {(r, c): [cell] for r in range(3) for c in range(2)},
    )


def test_a_rendered_sheet_draws_only_glyphs_its_font_has() -> None:
    data = contact_sheet.render(_grid(), side=96)
    with Image.open(io.BytesIO(data)) as sheet:
        assert sheet.format == "PNG" and sheet.width == contact_sheet.LABEL_W + 2 * (96 + 8) + 8
        header = sheet.crop((0, 0, sheet.width, contact_sheet.HEADER_H)).convert("L")
        assert header.getextrema()[0] < 120  # the header has ink: the labels were drawn
    font = contact_sheet._font(14)
    drawn = [
        "animal × Model",
        *(value_label("model", t) for t in _grid().col_labels),
        *_grid().row_labels,
        "failed",
        "…",
    ]
    for text in drawn:
        shown = drawable(text, font)
        assert all(has_glyph(font, ch) for ch in shown), (text, shown)
    if "DejaVu" in " ".join(font.getname()):  # the machine's DejaVu Sans: the words as written
        assert drawable("animal × Model — crème brûlée", font) == "animal × Model — crème brûlée"


@pytest.fixture
def builtin_font(monkeypatch: pytest.MonkeyPatch):
    """The sheet on Pillow's built-in font (no DejaVu): it lacks "×", "—", "é" and "猫"."""
    monkeypatch.setattr(contact_sheet, "FONT_FILES", ())
    monkeypatch.setattr(contact_sheet, "CJK_FILES", ())
    contact_sheet._font.cache_clear()
    contact_sheet._cjk.cache_clear()
    yield
    contact_sheet._font.cache_clear()
    contact_sheet._cjk.cache_clear()


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, object]]:
    """Every (text, font) the sheet hands to ImageDraw.text."""
    calls: list[tuple[str, object]] = []
    original = ImageDraw.ImageDraw.text

    def record(self, xy, text, *args, **kwargs):
        calls.append((text, kwargs.get("font")))
        return original(self, xy, text, *args, **kwargs)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", record)
    return calls


@pytest.mark.parametrize("font_files", ["builtin", "system"])
def test_every_text_drawn_on_a_sheet_has_glyphs_in_its_font(
    request: pytest.FixtureRequest, drawn: list[tuple[str, object]], font_files: str
) -> None:
    if font_files == "builtin":
        request.getfixturevalue("builtin_font")
    contact_sheet.render(_grid(), side=96)
    texts = [t for t, _ in drawn]
    assert len(drawn) >= 1 + 2 + 3 and all(font is not None for _, font in drawn)
    assert any("Model" in t for t in texts) and any("cr" in t for t in texts)  # the labels were drawn
    for text, font in drawn:
        missing = [ch for ch in text if not has_glyph(font, ch)]  # type: ignore[arg-type]
        assert missing == [], (text, missing)
    if font_files == "builtin":  # spelled, not boxed
        assert "animal x Model" in texts and any(t.startswith("creme br") for t in texts)


def test_decomposed_accents_are_drawn_as_letters_never_as_a_question_mark() -> None:
    aileron = ImageFont.load_default(size=12)
    decomposed = "cre\u0300me bru\u0302le\u0301e"  # "crème brûlée" as letters + combining marks (macOS)
    assert drawable(decomposed, aileron) == "creme brulee"
    assert drawable("q\u0301 x\u0323", aileron) == "q x"  # no precomposed form: the mark is left out
    dejavu = contact_sheet._font(14)
    if "DejaVu" in " ".join(dejavu.getname()):
        assert drawable(decomposed, dejavu) == "crème brûlée"  # NFC: one glyph each


def test_a_label_the_font_cannot_draw_uses_the_fallback_font(
    builtin_font: None, drawn: list[tuple[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    dejavu = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    if not Path(dejavu).exists():
        pytest.skip("needs DejaVu Sans to stand in for a CJK font")
    monkeypatch.setattr(contact_sheet, "CJK_FILES", (dejavu,))  # stands in for Noto Sans CJK
    contact_sheet._cjk.cache_clear()
    assert contact_sheet.font_for("cat", 14) is contact_sheet._font(14)  # the first font draws it all
    assert contact_sheet.font_for("crème", 14) is contact_sheet._cjk(14)
    contact_sheet.render(_grid(), side=96)
    assert "crème brûlée" in [t for t, _ in drawn]  # drawn whole in the fallback font, not spelled "creme"
    for text, font in drawn:
        assert [ch for ch in text if not has_glyph(font, ch)] == [], text  # type: ignore[arg-type]
