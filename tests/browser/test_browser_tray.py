"""The reference tray and the result viewer in Debian's Chromium: an image pasted (Ctrl+V) or dropped on
the zone joins the tray, a non-image is refused with its reason, and ← → step through two variants.

The paste and drop are real DOM events (a ``ClipboardEvent`` / ``DragEvent`` whose ``DataTransfer`` holds
a ``File`` built from Pillow bytes), so ``paste.js`` reads them exactly as it reads a user's.
"""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.browser import chromium_page, settle, studio_server
from tests.factories import make_image

pytestmark = pytest.mark.browser

# A File in a DataTransfer, handed to paste.js as the user's browser would: on the document for a
# paste (paste.js listens there), on the drop zone for a drag (the zone lives in the component's shadow
# root, so it is reached through a Playwright locator, which pierces it, not document.querySelector).
_PASTE = """([name, type, b64]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const dt = new DataTransfer();
  dt.items.add(new File([bytes], name, { type }));
  const event = new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true });
  document.dispatchEvent(event);
  return event.defaultPrevented;
}"""

_DROP = """(zone, [name, type, b64]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const dt = new DataTransfer();
  dt.items.add(new File([bytes], name, { type }));
  const fire = (kind) => {
    const event = new DragEvent(kind, { dataTransfer: dt, bubbles: true, cancelable: true });
    zone.dispatchEvent(event);
    return event.defaultPrevented;
  };
  fire("dragenter");
  const over = fire("dragover");
  const lit = zone.classList.contains("over");  // the zone shows it will take the drop
  return { over, lit, drop: fire("drop"), after: zone.classList.contains("over") };
}"""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """One studio for the module; each test opens its own tab, i.e. its own session and empty tray."""
    root = tmp_path_factory.mktemp("tray")
    with studio_server(root / "data", root) as url:
        yield url, root / "data"


@pytest.fixture
def page(server):
    url, data_dir = server
    if (data_dir / "studio.db").exists():  # the saved draft would bring the last test's tray back
        with sqlite3.connect(data_dir / "studio.db") as db:
            db.execute("DELETE FROM draft")
    with chromium_page(url, height=2000) as tab:
        yield tab


@pytest.fixture
def main(page):
    """The Generate page's main area, once the paste component is mounted and listening."""
    area = page.locator("[data-testid='stMain']")
    area.get_by_text("0 in the tray").wait_for(timeout=30_000)
    settle(page)  # the first run has finished: no replaced zone is still on the page beside the new one
    area.locator(".zone").wait_for(timeout=15_000)
    page.wait_for_function("() => typeof window.__studioPaste === 'function'", timeout=15_000)
    return area


def test_pasted_png_joins_the_tray(page, main):
    png = make_image(40, 30, color=(30, 140, 90))
    assert page.evaluate(_PASTE, ["pasted.png", "image/png", _b64(png)]) is True  # paste.js took it
    main.get_by_text("1 in the tray").wait_for(timeout=15_000)
    main.get_by_text("1. pasted.png").wait_for(timeout=15_000)
    main.get_by_text("40 × 30 px").wait_for(timeout=15_000)
    main.get_by_text("Added 1 reference image.").wait_for(timeout=15_000)


def test_dropped_pngs_join_the_tray_in_order(page, main):
    zone = main.locator(".zone")
    first = zone.evaluate(_DROP, ["first.png", "image/png", _b64(make_image(32, 32, color=(10, 10, 200)))])
    assert first == {"over": True, "lit": True, "drop": True, "after": False}
    main.get_by_text("1. first.png").wait_for(timeout=15_000)
    # The drop's run draws the tray row well before it ends, and the paste zone after it: until the run has
    # finished, the zone it replaced is still on the page (faded) beside the new one, as a person sees before
    # dropping the next file. The row on screen means the run has begun, so settle() waits for that run.
    settle(page)
    zone.evaluate(_DROP, ["second.png", "image/png", _b64(make_image(48, 24, color=(200, 10, 10)))])
    main.get_by_text("2 in the tray").wait_for(timeout=15_000)
    main.get_by_text("2. second.png").wait_for(timeout=15_000)
    settle(page)
    assert main.get_by_text("1. first.png").is_visible()
    expect(main.locator("[class*='st-key-gen_tray_item_']")).to_have_count(2)


@pytest.mark.parametrize("how", ["paste", "drop"])
def test_a_text_file_is_refused_with_its_reason(page, main, how):
    text = ["hello.txt", "text/plain", _b64(b"hello, this is not a picture\n")]
    if how == "paste":
        page.evaluate(_PASTE, text)
    else:
        main.locator(".zone").evaluate(_DROP, text)
    reason = main.get_by_text("“hello.txt” is not a PNG, JPEG or WebP image")
    reason.wait_for(timeout=15_000)
    assert reason.is_visible()
    assert main.get_by_text("0 in the tray").is_visible()
    expect(main.locator("[class*='st-key-gen_tray_item_']")).to_have_count(0)


def test_plain_text_paste_is_left_to_the_page(page, main):
    """A clipboard with text but no file is not the tray's: paste.js lets the browser handle it."""
    taken = page.evaluate("""() => {
      const dt = new DataTransfer();
      dt.setData("text/plain", "just words");
      const event = new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true });
      document.dispatchEvent(event);
      return event.defaultPrevented;
    }""")
    assert taken is False
    assert main.get_by_text("0 in the tray").is_visible()


def test_arrow_keys_step_through_two_variants(page, main):
    variants = main.get_by_label("Variants", exact=True)
    variants.fill("2")
    variants.press("Tab")
    prompt = page.get_by_label("Prompt", exact=True)
    prompt.fill("two teal teapots")
    prompt.press("Tab")  # blur commits the text area before the click
    main.get_by_role("button", name="Generate").click()
    views = main.get_by_role("button", name="View")
    views.nth(1).wait_for(timeout=30_000)  # both variants finished, each with its own View button

    views.first.click()
    dialog = page.get_by_role("dialog")
    dialog.locator("img.pic").wait_for(timeout=15_000)
    dialog.get_by_text("1 of 2").wait_for(timeout=15_000)
    first_id = _shown_id(dialog)

    page.keyboard.press("ArrowRight")
    dialog.get_by_text("2 of 2").wait_for(timeout=15_000)
    assert _shown_id(dialog) != first_id  # the other variant's generation, not the same one re-labelled

    page.keyboard.press("ArrowLeft")
    dialog.get_by_text("1 of 2").wait_for(timeout=15_000)
    assert _shown_id(dialog) == first_id

    page.keyboard.press("ArrowLeft")  # wraps around from the first to the last
    dialog.get_by_text("2 of 2").wait_for(timeout=15_000)


def _shown_id(dialog) -> str:
    """The '#N' of the generation the viewer's title line names (``1 of 2 · #N · W × H px``)."""
    title = dialog.locator("[data-testid='stMarkdownContainer'] p", has_text=" of 2").first.inner_text()
    return next(part.strip() for part in title.split("·") if part.strip().startswith("#"))
