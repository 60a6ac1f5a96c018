"""Nothing lost on a reload or a restart, in Debian's Chromium: the composer's prompt, model, variants and
reference tray come back after a reload and after the studio process is stopped (SIGTERM) and started again
on the same data directory; a reload on /history, /edit or /experiment stays there; an image the studio
made, dropped on the tray's uploader, offers to restore its prompt and settings, and any other image does not.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from studio.domain.requests import GenerationRequest
from studio.imaging import metadata
from studio.storage import Store
from tests.browser.browser import chromium_page, seed_history, settle, studio_server
from tests.factories import make_image

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).parent / "screenshots"
TIMEOUT = 30_000
PRO = "Nano Banana Pro (3 Pro Image)"


# a real DragEvent whose DataTransfer holds a File, dispatched on the paste zone (as in test_browser_tray)
_DROP = """(zone, [name, type, b64]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const dt = new DataTransfer();
  dt.items.add(new File([bytes], name, { type }));
  for (const kind of ["dragenter", "dragover", "drop"]) {
    zone.dispatchEvent(new DragEvent(kind, { dataTransfer: dt, bubbles: true, cancelable: true }));
  }
}"""


def _main(page):
    main = page.locator("[data-testid='stMain']")
    main.get_by_text("Write the prompt as").wait_for(timeout=TIMEOUT)
    settle(page)
    return main


def _upload(page, name: str, data: bytes) -> None:
    uploader = page.locator("[class*='st-key-gen_uploads'] input[type='file']")
    uploader.set_input_files([{"name": name, "mimeType": "image/png", "buffer": data}])


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def _model_box(main):
    return main.get_by_role("combobox", name="Model", exact=True)


def _assert_draft(page) -> None:
    main = _main(page)
    expect(page.locator(".st-key-gen_prompt textarea")).to_have_value(
        "a lighthouse keeper's cat", timeout=TIMEOUT
    )
    expect(_model_box(main)).to_have_value(PRO, timeout=TIMEOUT)
    expect(main.locator(".st-key-gen_variants input")).to_have_value("3", timeout=TIMEOUT)
    expect(main.get_by_text("1 in the tray")).to_be_visible(timeout=TIMEOUT)
    expect(main.get_by_text("1. cat.png")).to_be_visible(timeout=TIMEOUT)


def test_the_draft_survives_a_reload_and_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with studio_server(data_dir, tmp_path) as url, chromium_page(url, width=1440, height=1600) as page:
        main = _main(page)
        prompt = page.locator(".st-key-gen_prompt textarea")
        prompt.fill("a lighthouse keeper's cat")
        prompt.press("Tab")  # blur commits the text area
        settle(page)
        _model_box(main).click()
        page.get_by_role("option", name=PRO).click()
        expect(main.locator(".st-key-gen_size")).to_be_visible(
            timeout=TIMEOUT
        )  # Pro has sizes: the rerun drew
        expect(main.locator(".st-key-gen_variants input")).to_have_count(1, timeout=TIMEOUT)
        settle(page)
        variants = main.locator(".st-key-gen_variants input")
        variants.fill("3")
        variants.press("Tab")
        settle(page)
        _upload(page, "cat.png", make_image(80, 60, color=(200, 120, 40)))
        expect(main.get_by_text("1 in the tray")).to_be_visible(timeout=TIMEOUT)
        settle(page)

        page.reload()
        _assert_draft(page)
        _shot(page, "drafts-after-reload")

    # the first server got SIGTERM on leaving the block; a new process on the same data directory
    with studio_server(data_dir, tmp_path) as url, chromium_page(url, width=1440, height=1600) as page:
        _assert_draft(page)  # a fresh browser (new context, no cookies or storage) gets the draft too
        main = page.locator("[data-testid='stMain']")
        main.get_by_role("button", name="Generate", exact=True).click()
        views = main.get_by_role("button", name="View")
        expect(views).to_have_count(3, timeout=60_000)  # the three variants, finished
        settle(page)
        page.reload()
        _main(page)
        expect(views).to_have_count(3, timeout=TIMEOUT)  # the results the session showed come back too


def test_a_reload_stays_on_the_page(tmp_path: Path) -> None:
    with (
        studio_server(tmp_path / "data", tmp_path) as url,
        chromium_page(url, width=1440, height=900) as page,
    ):
        _main(page)
        for path, heading in (("history", "History"), ("edit", "Edit"), ("experiment", "Experiment")):
            page.goto(f"{url}/{path}")
            title = page.locator("[data-testid='stMain'] h1", has_text=heading)
            expect(title).to_be_visible(timeout=TIMEOUT)
            settle(page)
            page.reload()
            expect(title).to_be_visible(timeout=TIMEOUT)
            assert page.url.rstrip("/").endswith(f"/{path}")


def test_dropping_a_studio_image_restores_its_prompt_and_settings(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    [gen_id] = seed_history(
        data_dir,
        [
            GenerationRequest(
                prompt="a paper crane on a windowsill",
                model="gemini-3-pro-image",
                aspect_ratio="21:9",
                seed=4242,
            )
        ],
        workers=1,
    )
    store = Store(data_dir)
    try:
        record = store.generations.get(gen_id)
        stored = record.images[0].path.read_bytes()  # the original, as saved: no metadata in it
        downloaded, download_name, _ = metadata.embed(record, record.images[0])  # History's download
    finally:
        store.close()

    with studio_server(data_dir, tmp_path) as url, chromium_page(url, width=1440, height=1600) as page:
        main = _main(page)
        offer = main.get_by_text("This image was made by Studio.")

        _upload(page, "someone-else.png", make_image(50, 50, color=(20, 60, 200)))
        expect(main.get_by_text("1 in the tray")).to_be_visible(timeout=TIMEOUT)
        settle(page)
        expect(offer).to_have_count(0)  # any other image is only a reference

        _upload(page, f"studio-{gen_id}.png", stored)
        expect(offer).to_be_visible(timeout=TIMEOUT)
        expect(main.get_by_text("a paper crane on a windowsill")).to_be_visible()
        _shot(page, "drafts-restore-offer")
        main.get_by_role("button", name="Restore", exact=True).click()
        expect(page.locator(".st-key-gen_prompt textarea")).to_have_value(
            "a paper crane on a windowsill", timeout=TIMEOUT
        )
        expect(_model_box(main)).to_have_value(PRO, timeout=TIMEOUT)
        expect(main.get_by_role("combobox", name="Ratio", exact=True)).to_have_value("21:9")
        expect(offer).to_have_count(0)
        main.get_by_text("Advanced", exact=True).click()
        expect(main.locator(".st-key-gen_adv_seed input")).to_have_value("4242", timeout=TIMEOUT)
        _shot(page, "drafts-restored")

        # a download (with its embedded metadata) dragged onto the paste zone: the same offer
        main.locator(".zone").evaluate(
            _DROP, [download_name, "image/png", base64.b64encode(downloaded).decode()]
        )
        expect(offer).to_be_visible(timeout=TIMEOUT)
        main.get_by_role("button", name="Dismiss", exact=True).click()
        expect(offer).to_have_count(0, timeout=TIMEOUT)
        expect(main.get_by_text("1 in the tray")).to_be_visible(timeout=TIMEOUT)  # kept as a reference


def test_a_reload_the_moment_a_generation_is_sent_keeps_its_run_in_the_feed(tmp_path: Path) -> None:
    """A designer clicks Generate and reloads at once (a habit, or a slow-looking page). Streamlit stops the
    old run at its next read of session state, so the run's own save in ``finally`` never happens; the batch
    is saved as it is sent instead, and the reloaded page shows the run in flight, then its image."""
    data = tmp_path / "data"
    with studio_server(data, tmp_path) as url, chromium_page(url, width=1440, height=900) as page:
        _main(page)
        box = page.get_by_label("Prompt", exact=True)
        box.fill("a heron in the reeds [[latency:3]]")
        box.press("Tab")
        settle(page)
        page.locator(".st-key-gen_submit").get_by_role("button", name="Generate").click()
        db = data / "studio.db"
        deadline = time.monotonic() + 20
        while not _generation_ids(db):  # the moment the row is written, before the run has drawn anything
            assert time.monotonic() < deadline, "the click never reached the studio"
            time.sleep(0.005)
        page.reload()
        _main(page)
        runs = page.locator("[class*='st-key-gen_feedrun_']")
        expect(runs).to_have_count(1, timeout=TIMEOUT)
        expect(runs.first.get_by_text("a heron in the reeds")).to_be_visible(timeout=TIMEOUT)
        expect(runs.first.locator("img")).to_have_count(1, timeout=TIMEOUT)  # and its image, once made
        assert _generation_ids(db) == [1]  # one paid image, sent once


def _generation_ids(db: Path) -> list[int]:
    import sqlite3

    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return [row[0] for row in con.execute("SELECT id FROM generation ORDER BY id")]
    except sqlite3.OperationalError:  # the schema is still being made
        return []
    finally:
        con.close()
