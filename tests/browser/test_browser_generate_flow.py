"""The Generate page in Debian's Chromium at 1440×900, as a designer uses it: the Generate button stays in view
(default, with Advanced open, scrolled to the bottom of a long feed, the prompt as a form); a click is answered right under the
button before any image arrives; runs stack in the session feed, newest on top; an image's actions work
(favourite, use as reference, open → download with the prompt and settings embedded).

Screenshots go to docs/screenshots/ only when STUDIO_SCREENSHOTS is set (the README uses them).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from studio.imaging import metadata
from studio.storage import Store
from tests.browser.browser import chromium_page, settle, studio_server

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 1440, 900
SHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
TAKE_SHOTS = bool(os.environ.get("STUDIO_SCREENSHOTS"))
_SCROLL_MAIN = (
    "y => { const m = document.querySelector('[data-testid=stMain]'); m.scrollTo(0, y); return m.scrollTop; }"
)


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def page(tmp_path, data_dir) -> Iterator:
    with studio_server(data_dir, tmp_path) as url, chromium_page(url, width=WIDTH, height=HEIGHT) as tab:
        tab.get_by_label("Prompt", exact=True).wait_for(timeout=30_000)
        settle(tab)
        yield tab


def _generate_button(page):
    return page.locator(".st-key-gen_submit").get_by_role("button", name="Generate")


def _assert_generate_in_view(page, when: str) -> None:
    box = _generate_button(page).bounding_box()
    assert box is not None, when
    assert box["y"] >= 0 and box["y"] + box["height"] <= HEIGHT, f"{when}: Generate at {box}"


def _generate(page, prompt: str, *, variants: int | None = None) -> None:
    box = page.get_by_label("Prompt", exact=True)
    box.fill(prompt)
    box.press("Tab")  # blur commits the text area before the click (Ctrl+Enter would generate)
    if variants is not None:
        field = page.get_by_label("Variants", exact=True)
        field.fill(str(variants))
        field.press("Tab")
    settle(page)
    _generate_button(page).click()


def _runs(page):
    return page.locator("[class*='st-key-gen_feedrun_']")


def _shot(page, name: str) -> None:
    if TAKE_SHOTS:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"))


def test_generate_stays_in_view_default_with_advanced_and_scrolled_to_the_bottom(page):
    _assert_generate_in_view(page, "default")
    composer = page.locator(".st-key-gen_composer")
    composer.get_by_text("Advanced", exact=True).click()
    expect(composer.get_by_label("System instruction", exact=True)).to_be_attached(timeout=15_000)
    _assert_generate_in_view(page, "Advanced open")

    _generate(page, "a row of coloured beach huts", variants=8)  # a feed taller than the window
    expect(page.locator("[class*='st-key-gen_view_']")).to_have_count(8, timeout=60_000)
    settle(page)
    # the tiles' images load after their buttons: wait until the feed is taller than the window
    page.wait_for_function(
        "h => { const m = document.querySelector('[data-testid=stMain]'); return m.scrollHeight - m.clientHeight > h; }",
        arg=HEIGHT / 2,
        timeout=30_000,
    )
    scrolled = page.evaluate(_SCROLL_MAIN, 100_000)
    assert scrolled > HEIGHT / 2, "the feed is long enough to scroll"
    page.wait_for_timeout(300)  # let the scroll land (no assertion is timed)
    _assert_generate_in_view(page, "scrolled to the bottom")
    expect(_generate_button(page)).to_be_enabled()

    page.evaluate(_SCROLL_MAIN, 0)
    composer.get_by_text("Form", exact=True).click()  # ten structured fields instead of one text area
    expect(composer.get_by_label("Subject", exact=True)).to_be_attached(timeout=15_000)
    settle(page)
    _assert_generate_in_view(page, "the prompt written as a form")


def test_a_click_is_answered_under_the_button_before_the_images_arrive(page):
    _generate(page, "[[latency:4]] a slow lighthouse beam", variants=2)
    status = page.locator(".st-key-gen_composer .st-key-gen_status")
    expect(status).to_contain_text(re.compile(r"(Sending|Generating) 2 variants…"), timeout=15_000)
    # the placeholders are at the top of the feed while the status says so; no image yet
    expect(page.locator("[class*='st-key-gen_pending_']")).to_have_count(2)
    assert page.locator("[class*='st-key-gen_feedrun_'] [data-testid='stImage']").count() == 0
    status_box, button_box = status.bounding_box(), _generate_button(page).bounding_box()
    assert status_box and button_box and 0 <= status_box["y"] - button_box["y"] < 120  # right under it
    expect(status).to_contain_text("2 images ·", timeout=30_000)
    expect(page.locator("[class*='st-key-gen_view_']")).to_have_count(2)


def test_the_feed_keeps_the_previous_run_newest_on_top(page):
    _generate(page, "a red kite over the dunes")
    expect(page.locator(".st-key-gen_status")).to_contain_text("1 image ·", timeout=30_000)
    settle(page)
    _generate(page, "a blue kite over the sea", variants=2)
    expect(_runs(page)).to_have_count(2, timeout=30_000)
    expect(page.locator("[class*='st-key-gen_view_']")).to_have_count(3, timeout=30_000)
    settle(page)
    expect(_runs(page).nth(0)).to_contain_text("a blue kite over the sea")
    expect(_runs(page).nth(1)).to_contain_text("a red kite over the dunes")
    top, below = (_runs(page).nth(i).bounding_box() for i in (0, 1))
    assert top and below and top["y"] < below["y"]
    _shot(page, "generate")


def test_favourite_reference_and_the_viewer_download_with_metadata(page, data_dir):
    _generate(page, "a brass compass on a map")
    star = page.locator(".st-key-gen_fav_1").get_by_role("button")
    star.wait_for(timeout=30_000)
    expect(star).to_have_attribute("kind", "tertiary")
    star.click()
    expect(page.locator(".st-key-gen_fav_1").get_by_role("button")).to_have_attribute(
        "kind", "primary", timeout=15_000
    )
    store = Store(data_dir)
    try:
        assert store.generations.get(1).favourite
    finally:
        store.close()

    settle(page)
    page.locator(".st-key-gen_ref_1").get_by_role("button").click()
    expect(page.locator(".st-key-gen_composer").get_by_text("1 in the tray")).to_be_attached(timeout=15_000)

    settle(page)
    page.locator(".st-key-gen_view_1").get_by_role("button").click()
    dialog = page.get_by_role("dialog")
    dialog.locator("img.pic").wait_for(timeout=15_000)
    with page.expect_download(timeout=30_000) as info:
        dialog.get_by_role("button", name="Download").click()
    data = Path(info.value.path()).read_bytes()
    if data.startswith(metadata.PNG_SIGNATURE):
        texts = [body for kind, body in metadata.png_chunks(data) if kind == b"iTXt"]
        assert any(b"a brass compass on a map" in body for body in texts)
    else:
        assert data.startswith(b"\xff\xd8") and metadata.XMP_HEADER in data
        assert b"a brass compass on a map" in data
    assert info.value.suggested_filename.startswith("studio-1-")


_RECORD_STATUS = """() => {
  const box = document.querySelector('.st-key-gen_status_box');
  const visible = () => {  // the text a designer can see (innerText keeps visibility:hidden text)
    const walk = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
    const parts = [];
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
      if (n.parentElement.checkVisibility({visibilityProperty: true})) parts.push(n.textContent);
    }
    return parts.join(' ').trim();
  };
  // what the line shows when it changes: a mutation that leaves the visible text as it was shows nothing new
  window.__statusTexts = [];
  let last = visible();
  new MutationObserver(() => { const v = visible(); if (v !== last) { window.__statusTexts.push(v); last = v; } }).observe(
    box, {subtree: true, childList: true, attributes: true, characterData: true});
}"""


def test_after_a_click_the_line_under_generate_never_shows_the_previous_outcome(page):
    _generate(page, "a red kite over the dunes")
    status = page.locator(".st-key-gen_composer .st-key-gen_status")
    expect(status).to_contain_text("1 image ·", timeout=30_000)
    settle(page)
    box = page.get_by_label("Prompt", exact=True)
    box.fill("a blue kite over the sea")
    box.press("Tab")
    page.get_by_label("Variants", exact=True).fill("2")
    page.get_by_label("Variants", exact=True).press("Tab")
    # The Tab's rerun has drawn the form with 2 variants: settle() alone can look before that rerun has begun
    # (until the server answers, the page does not know one was asked for), and under load the answer can come
    # after the click, when that run redraws the previous outcome, fresh. Then settle() waits for its end.
    expect(page.locator(".st-key-gen_estimate_details").first).to_contain_text("· 2 images ·", timeout=30_000)
    settle(page)
    # Kept from before: a click within about half a second of that run's end can show the previous outcome again
    # before "Sending…" (2 of 5 idle without this pause). Not understood yet; it may be the product: see the TODO.
    # TODO: find why the line shows the previous outcome after an early click, then drop this pause.
    page.wait_for_timeout(500)
    settle(page)
    expect(page.locator(".st-key-gen_status_box")).to_contain_text("1 image ·")
    page.evaluate(_RECORD_STATUS)  # every text the line shows, from now on
    _generate_button(page).click()
    expect(status).to_contain_text("2 images ·", timeout=30_000)
    seen = [text for text in page.evaluate("window.__statusTexts") if text]
    assert seen, "the line changed after the click"
    assert "1 image ·" not in seen[0], f"the first thing the line showed after the click: {seen!r}"
