"""Provenance in Debian's Chromium (issue 10, item 2): each generation records the composition its form held
when it was submitted — an Enhance proposal or a Library template stops being recorded once the prompt is
replaced. Read back through `studio history --json`, as anyone checking provenance from outside would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from studio.services.access import Access
from studio.services.templates import TemplateService
from studio.storage import Store
from tests.browser.browser import chromium_page, settle, studio_server

pytestmark = pytest.mark.browser


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """An empty history with one Library template and one style preset."""
    path = tmp_path / "data"
    store = Store(path)
    try:
        library = TemplateService(store, Access.local())
        library.save("Animal", "a {animal} reading a map", kind="template")
        library.save("Warm", "warm golden-hour light", kind="preset")
    finally:
        store.close()
    return path


@pytest.fixture
def page(tmp_path, data_dir) -> Iterator:
    with studio_server(data_dir, tmp_path) as url, chromium_page(url, height=2000) as tab:
        yield tab


def _history(data_dir: Path) -> dict[int, dict]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")} | {
        "STUDIO_DATA_DIR": str(data_dir)
    }
    done = subprocess.run(
        [sys.executable, "-m", "studio", "history", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    return {row["id"]: row for row in map(json.loads, done.stdout.splitlines())}


def _generate_fresh(page, prompt_box, text: str, gen_id: int) -> None:
    """Replace the prompt with freshly typed text and press Ctrl+Enter, as a designer does."""
    prompt_box.fill(text)
    prompt_box.press("Control+Enter")
    _appears(page.locator(f".st-key-gen_view_{gen_id}"), 60_000)
    settle(page)


def _appears(locator, timeout: float = 30_000) -> None:
    """Wait for ``locator`` on the page. While a rerun draws, an element it replaces can still be there (faded)
    beside the new one, and Playwright's strict ``wait_for`` would refuse the pair."""
    expect(locator.first).to_be_attached(timeout=timeout)


def _click_once(locator) -> None:
    """Click ``locator`` as a person would, once. ``settle()`` can return before the rerun a previous action
    asked for has begun, and while that rerun draws, the element it replaces is still on the page (faded)
    beside the new one: both are the same widget, so the first is clicked rather than refusing the pair."""
    expect(locator.first).to_be_visible(timeout=30_000)
    locator.first.click()


def test_a_replaced_prompt_records_neither_the_used_proposal_nor_the_sent_template(page, data_dir):
    main = page.locator("[data-testid='stMain']")
    prompt_box = main.get_by_label("Prompt", exact=True)
    prompt_box.wait_for(timeout=30_000)

    # Enhance → "Use this" → Generate (#1 came from the proposal)
    prompt_box.fill("a lighthouse")
    prompt_box.press("Tab")  # commits the text area
    settle(page)
    _click_once(main.get_by_role("button", name="Enhance"))
    proposal_box = main.get_by_label("Proposal 2", exact=True)
    _appears(proposal_box)
    settle(page)
    proposal = proposal_box.first.input_value()
    _click_once(page.locator(".st-key-gen_use_1 button"))
    expect(prompt_box).to_have_value(proposal, timeout=15_000)
    settle(page)
    _click_once(main.get_by_role("button", name="Generate", exact=True))
    _appears(page.locator(".st-key-gen_view_1"), 60_000)
    settle(page)
    # fresh text → Generate (#2 did not come from any proposal)
    _generate_fresh(page, prompt_box, "a red bicycle leaning on a fence", 2)

    # Library → Send to Generate → Generate (#3 came from the template) → fresh text (#4 did not)
    _click_once(page.locator("[data-testid='stSidebarNav']").get_by_text("Library", exact=True))
    settle(page)  # the Library's first run has drawn its forms before a person fills one in
    _click_once(main.get_by_text("Animal", exact=True))
    animal = main.get_by_label("{animal}", exact=True)
    expect(animal).to_have_count(1, timeout=30_000)
    animal.fill("fox")
    _click_once(main.get_by_role("button", name="Send to Generate"))
    expect(prompt_box).to_have_value("a fox reading a map", timeout=30_000)
    settle(page)
    _click_once(main.get_by_role("button", name="Generate", exact=True))
    _appears(page.locator(".st-key-gen_view_3"), 60_000)
    settle(page)
    _generate_fresh(page, prompt_box, "a blue teapot on a shelf", 4)

    rows = _history(data_dir)
    assert [rows[i]["prompt"] for i in (1, 2, 3, 4)] == [
        proposal,
        "a red bicycle leaning on a fence",
        "a fox reading a map",
        "a blue teapot on a shelf",
    ]
    composed = {i: sorted(rows[i]["composition"] or {}) for i in (1, 2, 3, 4)}
    assert composed == {1: ["mode", "proposal"], 2: [], 3: ["presets", "template"], 4: []}
    assert rows[1]["composition"]["proposal"]["text"] == proposal
    assert rows[1]["composition"]["proposal"]["idea"] == "a lighthouse"
    assert rows[3]["composition"]["template"] == {"id": 1, "name": "Animal", "values": {"animal": "fox"}}
