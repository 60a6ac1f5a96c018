"""The History gallery in Debian's Chromium: search, favourite, compare two, export a ZIP.

The history is made by the real service in demo mode (the emulator renders the images), then the app
is started on it. Screenshots go to docs/screenshots/ only when STUDIO_SCREENSHOTS is set.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from studio.domain.requests import GenerationRequest
from studio.storage import Store
from tests.browser.browser import chromium_page, seed_history, settle, studio_server

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
TAKE_SHOTS = bool(os.environ.get("STUDIO_SCREENSHOTS"))  # read at import: isolated_env clears STUDIO_*
SEED = [
    ("a paper crane on a desk, morning light", "gemini-2.5-flash-image", "1:1", None),
    ("a lighthouse at dusk, long exposure", "gemini-3-pro-image", "16:9", "1K"),
    ("a paper lantern festival, night market", "gemini-3.1-flash-image", "3:4", "512"),
    ("a ceramic teapot, studio product shot", "gemini-2.5-flash-image", "4:3", None),
    ("[[fault:blocked]] a forbidden door", "gemini-2.5-flash-image", "1:1", None),
    ("a fox in a snowy forest, watercolour", "gemini-3-pro-image", "2:3", "1K"),
]


@pytest.fixture
def data_dir(tmp_path) -> Path:
    path = tmp_path / "data"
    ids = seed_history(
        path,
        [
            GenerationRequest(prompt=prompt, model=model, aspect_ratio=ratio, image_size=size)
            for prompt, model, ratio, size in SEED
        ],
    )
    store = Store(path)
    try:
        store.organise.set_rating(ids[1:2], 4)
        store.organise.add_tags(ids[:3], ["series-a"])
    finally:
        store.close()
    return path


@pytest.fixture
def server(tmp_path, data_dir) -> Iterator[str]:
    with studio_server(data_dir, tmp_path) as url:
        yield url


@pytest.fixture
def page(server):
    with chromium_page(f"{server}/history", height=1100, accept_downloads=True) as tab:
        yield tab


def _shot(page, name: str, height: int = 1100) -> None:
    if TAKE_SHOTS:
        page.set_viewport_size({"width": 1440, "height": height})  # Streamlit scrolls inside its main
        page.wait_for_timeout(400)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _cards(main):
    return main.locator("[class*='st-key-hist_card_']")


def test_search_favourite_compare_and_export(page, data_dir):
    main = page.locator("[data-testid='stMain']")
    main.get_by_text("a paper crane on a desk, morning light").wait_for(timeout=30_000)
    main.locator("[data-testid='stImage'] img").nth(4).wait_for(timeout=15_000)  # stored thumbnails
    expect(_cards(main)).to_have_count(len(SEED), timeout=15_000)
    page.wait_for_timeout(500)
    _shot(page, "history")

    search = main.get_by_label("Search prompts and replies")
    search.fill("paper")
    search.press("Enter")
    main.get_by_text("a lighthouse at dusk, long exposure").wait_for(state="detached", timeout=15_000)
    expect(_cards(main)).to_have_count(2, timeout=15_000)
    settle(page)

    main.locator(".st-key-hist_star_1 button").first.click()  # the crane (generation #1)
    store = Store(data_dir)
    try:
        for _ in range(50):  # the click reaches the server asynchronously
            if store.generations.get(1).favourite:
                break
            page.wait_for_timeout(100)
        assert store.generations.get(1).favourite
    finally:
        store.close()

    for n, gen_id in enumerate((1, 3), start=1):
        main.locator(f".st-key-hist_card_{gen_id} [class*='st-key-hist_sel_'] label").first.click()
        main.get_by_text(f"{n} selected", exact=True).wait_for(timeout=10_000)
    main.get_by_role("button", name="Compare").click()
    main.get_by_text("Comparing 2 generations").wait_for(timeout=15_000)
    main.locator("[data-testid='stDataFrame']").wait_for(timeout=15_000)
    main.locator("[data-testid='stImage'] img").nth(1).wait_for(timeout=15_000)
    page.wait_for_timeout(500)
    _shot(page, "compare", 1500)
    page.set_viewport_size({"width": 1440, "height": 1100})

    main.get_by_role("button", name="Back").click()
    export = main.locator(".st-key-hist_export_sel button")
    export.wait_for(timeout=15_000)
    settle(
        page
    )  # a deferred download pressed mid-run can be dropped by Streamlit; a person sees the page settle
    expect(main.get_by_label("Search prompts and replies")).to_have_value("paper")  # kept through compare
    expect(_cards(main)).to_have_count(2)
    with page.expect_download(timeout=30_000) as info:
        export.click()
    with zipfile.ZipFile(io.BytesIO(Path(info.value.path()).read_bytes())) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        assert sorted(g["prompt"] for g in manifest["generations"]) == sorted([SEED[0][0], SEED[2][0]])
        assert all(g["images"][0]["path"] in zf.namelist() for g in manifest["generations"])

    main.locator(".st-key-hist_open_3 button").first.click()
    main.get_by_text("Generation #3").wait_for(timeout=15_000)
    main.locator("[data-testid='stCode']").get_by_text(SEED[2][0]).wait_for(timeout=15_000)
    main.locator("[data-testid='stImage'] img").first.wait_for(timeout=15_000)
    page.wait_for_timeout(500)
    _shot(page, "detail", 1500)


def test_clear_filters_empties_every_widget_and_the_tag_stays_gone(page):
    """As a person does it: a tag filter and a search, Clear filters, then another change. The widgets show
    no filter and the old tag does not come back (the browser keeps a widget's value unless told otherwise)."""
    main, sidebar = page.locator("[data-testid='stMain']"), page.locator("[data-testid='stSidebar']")
    expect(_cards(main)).to_have_count(len(SEED), timeout=30_000)
    settle(page)
    tag = sidebar.get_by_role("combobox", name="Tag", exact=True)
    tag.fill("series-a")  # typing opens the list (a click can land while the sidebar redraws and be lost)
    page.get_by_role("option", name="series-a (3)").click()
    expect(_cards(main)).to_have_count(3, timeout=15_000)
    settle(page)
    search = main.get_by_label("Search prompts and replies")
    search.fill("paper")
    search.press("Enter")
    expect(_cards(main)).to_have_count(2, timeout=15_000)
    settle(page)

    page.set_viewport_size({"width": 1440, "height": 900})
    sidebar.get_by_role("button", name="Clear filters").click()
    expect(_cards(main)).to_have_count(len(SEED), timeout=15_000)
    settle(page)
    expect(tag).to_have_value("Any tag")
    expect(search).to_have_value("")
    page.screenshot(path="/tmp/history_after_clear_filters.png")

    search.fill("fox")  # not tagged series-a: with the old tag back, nothing would match
    search.press("Enter")
    expect(main.get_by_text("a lighthouse at dusk, long exposure")).to_have_count(0, timeout=15_000)
    expect(_cards(main)).to_have_count(1, timeout=15_000)
    settle(page)
    expect(main.get_by_text("a fox in a snowy forest, watercolour")).to_be_visible()
    expect(tag).to_have_value("Any tag")
