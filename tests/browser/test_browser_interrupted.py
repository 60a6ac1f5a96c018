"""In Chromium: after a studio was killed mid-generation, the next `studio run` says so on Generate, and
Retry brings the image.

Screenshots go to tests/browser/screenshots/ only when STUDIO_SCREENSHOTS is set.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from studio.storage import Store
from tests.browser.browser import chromium_page, settle, studio_server
from tests.stopped import kill_mid_generation

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).parent / "screenshots"
TAKE_SHOTS = bool(os.environ.get("STUDIO_SCREENSHOTS"))  # read at import, before isolated_env clears it


def test_generate_after_a_kill_offers_retry_and_shows_the_new_image(tmp_path, studio_env):
    data_dir = tmp_path / "data"
    prompt = f"a copper kettle on a stove {uuid.uuid4().hex[:8]} [[latency:2]]"
    kill_mid_generation(studio_env, prompt)  # the studio that was running: SIGKILL with the call in flight

    with studio_server(data_dir, tmp_path) as url, chromium_page(url, width=1440, height=900) as page:
        main = page.locator("[data-testid='stMain']")
        notice = main.get_by_text("1 generation was interrupted when the studio stopped.")
        expect(notice).to_be_visible(timeout=30_000)
        settle(page)
        expect(page.get_by_label("Prompt", exact=True)).to_be_visible()  # the form is not pushed away
        if TAKE_SHOTS:
            SHOTS.mkdir(exist_ok=True)
            page.screenshot(path=str(SHOTS / "interrupted-notice.png"))

        main.get_by_role("button", name="Retry", exact=True).click()
        expect(page.get_by_text("Retrying 1 generation.")).to_be_visible(timeout=15_000)
        expect(main.locator("[data-testid='stImage'] img").first).to_be_visible(timeout=30_000)
        expect(notice).to_have_count(0)
        page.reload()
        settle(page)
        expect(page.get_by_label("Prompt", exact=True)).to_be_visible(timeout=30_000)
        expect(main.get_by_text("interrupted when the studio stopped")).to_have_count(0)

    store = Store(data_dir)
    try:
        rows = [r for r in store.gallery.page(limit=10) if r.prompt == prompt]
        assert sorted(r.status for r in rows) == ["interrupted", "succeeded"]
        assert all(image.path.is_file() for r in rows for image in r.images)
    finally:
        store.close()
