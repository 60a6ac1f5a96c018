"""The real studio in Debian's Chromium (demo mode): a 2×2 matrix run and a two-turn edit."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .browser import settle
from .test_browser import _shot, page, studio_url  # noqa: F401  (fixtures reused: server + browser)

pytestmark = pytest.mark.browser


def _nav(page, title: str) -> None:  # noqa: F811
    page.locator("[data-testid='stSidebarNav']").get_by_text(title, exact=True).click()


def _type(page, label: str, text: str) -> None:  # noqa: F811
    field = page.get_by_label(label, exact=True)
    field.wait_for(timeout=30_000)
    field.fill(text)
    field.press("Control+Enter" if field.evaluate("e => e.tagName") == "TEXTAREA" else "Enter")


def test_a_two_by_two_matrix_runs_into_a_grid(page):  # noqa: F811
    main = page.locator("[data-testid='stMain']")
    page.locator("textarea").first.wait_for(timeout=30_000)
    _nav(page, "Experiment")
    _type(page, "Prompt or template", "a {animal} at dusk")
    _type(page, "Values for {animal} (one per line)", "cat\ndog")
    _type(page, "Seeds (comma-separated, optional)", "1, 2")
    main.get_by_text("4 cells").wait_for(timeout=15_000)
    main.get_by_role("button", name="Run", exact=True).click()
    main.get_by_text("4 done").wait_for(timeout=60_000)
    main.get_by_role("button", name="Contact sheet (PNG)").wait_for(timeout=15_000)
    main.locator("[data-testid='stImage'] img").nth(3).wait_for(timeout=15_000)
    expect(main.get_by_text("cat", exact=True).first).to_be_visible(timeout=15_000)
    expect(main.get_by_text("dog", exact=True).first).to_be_visible(timeout=15_000)
    _shot(page, "experiment")


def test_a_two_turn_edit_shows_the_thread(page):  # noqa: F811
    main = page.locator("[data-testid='stMain']")
    page.locator("textarea").first.wait_for(timeout=30_000)
    _nav(page, "Edit")
    _type(page, "Instruction", "a ceramic teapot on a table")
    main.get_by_role("button", name="Start").click()
    _type(page, "Next instruction", "make the teapot blue")
    main.get_by_role("button", name="Send").click()
    main.get_by_text("Conversation · 2 turns").wait_for(timeout=30_000)
    # The first turn's stale widgets stay in the DOM while the rerun starts, so wait on what only the
    # finished second turn draws: its image and the branch button under the first turn.
    main.locator("[data-testid='stImage'] img").nth(1).wait_for(timeout=60_000)
    expect(main.get_by_role("button", name="Branch", exact=True)).to_have_count(1, timeout=30_000)
    main.get_by_label("Next instruction", exact=True).wait_for(timeout=30_000)
    _shot(page, "edit")


def test_chosen_ratios_are_readable_and_axes_read_as_words(page):  # noqa: F811
    main = page.locator("[data-testid='stMain']")
    page.locator("textarea").first.wait_for(timeout=30_000)
    _nav(page, "Experiment")
    _type(page, "Prompt or template", "a {animal} at dusk")
    _type(page, "Values for {animal} (one per line)", "cat\ndog")
    ratios = main.locator("[data-testid='stMultiSelect']").filter(has_text="Aspect ratios")
    for ratio in ("16:9", "1:1"):
        ratios.locator("input").click()
        page.get_by_role("option", name=ratio, exact=True).click()
        settle(page)
    page.keyboard.press("Escape")
    main.get_by_text("4 cells").wait_for(timeout=30_000)
    for ratio in ("16:9", "1:1"):  # each chip shows its value, not a bare "×"
        chip = ratios.locator(f"[data-tag][aria-label='{ratio}']")
        expect(chip).to_be_visible(timeout=15_000)
        label = chip.locator(f"[title='{ratio}']")
        expect(label).to_have_text(ratio)
        box = label.bounding_box()
        assert box is not None and box["width"] >= 10, box
        assert label.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), f"{ratio} is cut off"
    main.get_by_role("button", name="Run", exact=True).click()
    main.get_by_text("4 done").wait_for(timeout=60_000)
    expect(main.get_by_role("combobox", name="Rows")).to_have_value("animal", timeout=15_000)
    expect(main.get_by_role("combobox", name="Columns")).to_have_value("Aspect ratio")
    expect(main.get_by_text("16:9", exact=True).last).to_be_visible()
