"""The review pack and the annotation image (Pillow, in memory, real images from tests/factories.py)."""

from __future__ import annotations

import io

import pytest
from PIL import Image, PdfParser

from studio.domain.review import PackItem, Pin
from studio.imaging.review_pack import MARKER, annotate, pack_pages, render_pack
from tests.factories import make_image


def test_pack_pages_hold_six_tiles_and_an_empty_collection_still_makes_a_page():
    items = [
        PackItem(make_image(300, 200), f"#{i} · a teapot", "approved" if i % 2 else None) for i in range(13)
    ]
    pdf = render_pack("Teapots", items, subtitle="7 approved · 6 open")
    assert len(PdfParser.PdfParser(buf=pdf).pages) == 3
    assert len(PdfParser.PdfParser(buf=render_pack("Empty", [])).pages) == 1
    # an unreadable image is a labelled empty tile, never an error; odd text is drawn, not boxed
    [page] = pack_pages(
        "Broken — ✓ 茶", [PackItem(b"not an image", "#1 · 茶壶 ×", "changes", ("Ada (guest): é",))]
    )
    assert page.size == (1169, 827)


def test_annotation_draws_the_pin_and_its_number_on_the_source():
    source = make_image(400, 300)
    box = Pin(0.25, 0.25, 0.5, 0.5)
    drawn = Image.open(io.BytesIO(annotate(source, box, 3))).convert("RGB")
    assert drawn.size == (400, 300)
    left, top, right, bottom = box.pixels(400, 300)
    assert drawn.getpixel((right - 1, (top + bottom) // 2)) == MARKER
    assert drawn.getpixel(((left + right) // 2, (top + bottom) // 2)) == Image.open(
        io.BytesIO(source)
    ).convert("RGB").getpixel(
        ((left + right) // 2, (top + bottom) // 2)
    )  # inside the box, the image is untouched
    point = Image.open(io.BytesIO(annotate(source, Pin(0.5, 0.5)))).convert("RGB")
    assert MARKER in {point.getpixel((x, 150)) for x in range(150, 260)}  # the ring around the point
    big = Image.open(io.BytesIO(annotate(make_image(4000, 1000), box))).size
    assert max(big) == 2048  # sent as a reference: never larger than the studio sends
    with pytest.raises(ValueError):
        annotate(b"not an image", box)
