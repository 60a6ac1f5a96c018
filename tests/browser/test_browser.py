"""The real studio in Debian's Chromium: generate in demo mode, then find the result in History.

Screenshots go to tests/browser/screenshots/ only when STUDIO_SCREENSHOTS is set (the README uses them).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.browser import chromium_page, studio_server

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).parent / "screenshots"
# read at import: the autouse isolated_env fixture removes every STUDIO_* variable before each test
TAKE_SHOTS = bool(os.environ.get("STUDIO_SCREENSHOTS"))


@pytest.fixture
def studio_url(tmp_path) -> Iterator[str]:
    with studio_server(tmp_path / "data", tmp_path) as url:
        yield url


@pytest.fixture
def page(studio_url):
    with chromium_page(studio_url) as tab:
        yield tab


def _shot(page, name: str) -> None:
    if TAKE_SHOTS:
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_generate_then_find_it_in_history(page):
    main = page.locator("[data-testid='stMain']")
    prompt = page.get_by_label("Prompt", exact=True)
    prompt.wait_for(timeout=30_000)
    expect(page.get_by_text("DEMO — images are rendered locally by the emulator").first).to_be_visible()
    prompt.fill("A paper crane on a desk, morning light")
    prompt.press("Tab")  # blur commits the text area before the button is pressed (Ctrl+Enter would generate)
    page.get_by_role("button", name="Generate").click()
    main.locator("[data-testid='stImage'] img").first.wait_for(timeout=30_000)
    _shot(page, "generate")

    page.locator("[data-testid='stSidebarNav']").get_by_text("History").click()
    tile = main.get_by_role(
        "img", name="A paper crane on a desk, morning light"
    ).first  # the grid's thumbnail
    tile.wait_for(timeout=15_000)
    _shot(page, "history")

    tile.click()  # a click on the image opens it
    main.get_by_text("Generation #1").wait_for(timeout=15_000)
    main.locator("[data-testid='stCode']").get_by_text("A paper crane on a desk, morning light").wait_for(
        timeout=15_000
    )
    main.locator("[data-testid='stDataFrame']").first.wait_for(timeout=15_000)
    _shot(page, "detail")
