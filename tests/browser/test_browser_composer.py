"""The composer in Debian's Chromium: a structured prompt, a reference from history, a sketch on the
canvas, Ctrl+Enter, the result, the full-screen viewer; then what was stored with the generation.

Screenshots go to docs/screenshots/ only when STUDIO_SCREENSHOTS is set (the README uses them).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from studio.domain.requests import GenerationRequest
from studio.storage import Store
from tests.browser.browser import chromium_page, seed_history, studio_server

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
TAKE_SHOTS = bool(os.environ.get("STUDIO_SCREENSHOTS"))


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """A history with one image in it, made by the real service against the demo emulator."""
    path = tmp_path / "data"
    seed_history(
        path, [GenerationRequest(prompt="a teal armchair", model="gemini-2.5-flash-image")], workers=1
    )
    return path


@pytest.fixture
def server(tmp_path, data_dir) -> Iterator[str]:
    with studio_server(data_dir, tmp_path) as url:
        yield url


@pytest.fixture
def page(server):
    with chromium_page(server, height=2300) as tab:
        yield tab


def _shot(page, name: str, *, full: bool = True) -> None:
    if TAKE_SHOTS:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full)


def _field(main, label: str, value: str) -> None:
    box = main.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")  # a text input commits on Enter


def test_structured_prompt_history_reference_sketch_and_ctrl_enter(page, data_dir):
    main = page.locator("[data-testid='stMain']")
    main.get_by_text("Write the prompt as").wait_for(timeout=30_000)
    main.get_by_text("Form", exact=True).click()
    main.get_by_label("Subject", exact=True).wait_for(timeout=15_000)
    _field(main, "Subject", "a reading lamp on a walnut desk")
    _field(main, "Style", "isometric 3D render")
    _field(main, "Lighting", "warm evening light")

    main.get_by_role("button", name="From history").click()
    page.locator("[class*='st-key-gen_hist_add_1'] button").click()
    main.get_by_text("1. history-1.png").wait_for(timeout=15_000)

    main.get_by_text("Sketch and annotate").click()
    canvas = main.locator("canvas.board")
    canvas.wait_for(timeout=15_000)
    canvas.scroll_into_view_if_needed()
    canvas.hover()  # waits until the canvas is stable (the expander has finished opening)
    box = canvas.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
    page.mouse.down()
    for step in range(1, 12):
        page.mouse.move(
            box["x"] + box["width"] * (0.3 + step * 0.03), box["y"] + box["height"] * (0.3 + step * 0.02)
        )
    page.mouse.up()
    main.locator("input.instruction").fill("replace what is circled in red with a lamp")
    main.get_by_role("button", name="Add to references").click()
    main.get_by_text("2. sketch-1.png").wait_for(timeout=15_000)
    _shot(page, "composer")

    main.get_by_label("Subject", exact=True).click()
    page.keyboard.press("Control+Enter")
    main.get_by_role("button", name="View").wait_for(timeout=30_000)
    main.locator("[data-testid='stImage'] img").first.wait_for(timeout=15_000)
    _shot(page, "composer-result")

    main.get_by_role("button", name="View").click()
    dialog = page.get_by_role("dialog")
    dialog.locator("img.pic").wait_for(timeout=15_000)
    dialog.get_by_text("1 of 1").wait_for(timeout=15_000)
    _shot(page, "composer-viewer", full=False)

    store = Store(data_dir)
    try:
        record = store.generations.get(2)
    finally:
        store.close()
    assert record is not None and record.status == "succeeded"
    assert "Subject: a reading lamp on a walnut desk" in record.prompt
    assert "replace what is circled in red with a lamp" in record.prompt
    assert record.composition["mode"] == "form"
    assert record.composition["fields"]["style"] == "isometric 3D render"
    assert record.composition["sketches"][0]["instruction"] == "replace what is circled in red with a lamp"
    assert [ref.name for ref in record.references] == ["history-1.png", "sketch-1.png"]
