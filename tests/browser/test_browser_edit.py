"""The Edit page in Debian's Chromium (demo mode): the source picked from a thumbnail, compact turns, the
before/after slider dragged, and the branch switcher."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from studio.domain import catalogue
from studio.domain.requests import GenerationRequest

from .browser import chromium_page, seed_history, settle, studio_server
from .test_browser import _shot

pytestmark = pytest.mark.browser


@pytest.fixture
def edit_page(tmp_path):
    prompts = ["a ceramic teapot", "a red car in the rain", "a lighthouse at night"]
    ids = seed_history(
        tmp_path / "data", [GenerationRequest(prompt=p, model=catalogue.DEFAULT_MODEL) for p in prompts]
    )
    with studio_server(tmp_path / "data", tmp_path) as url, chromium_page(url, height=900) as tab:
        tab.locator("textarea").first.wait_for(timeout=30_000)
        tab.locator("[data-testid='stSidebarNav']").get_by_text("Edit", exact=True).click()
        settle(tab)
        yield tab, ids


def _type(page, label: str, text: str) -> None:
    field = page.get_by_label(label, exact=True)
    field.wait_for(timeout=30_000)
    field.fill(text)
    field.press("Tab")
    settle(page)


def _wait_turn(main, n: int) -> None:
    main.get_by_text(f"Conversation · {n} turns").wait_for(timeout=60_000)
    expect(main.get_by_text("Running")).to_have_count(0, timeout=60_000)
    main.get_by_label("Next instruction", exact=True).wait_for(timeout=60_000)


def test_pick_a_thumbnail_compare_before_and_after_and_switch_branches(edit_page):
    page, ids = edit_page
    main = page.locator("[data-testid='stMain']")
    main.get_by_text("A history image").click()
    settle(page)
    car = ids[1]
    expect(main.locator("[data-testid='stImage'] img")).to_have_count(3, timeout=30_000)  # three thumbnails
    main.get_by_role("button", name=f"#{car}", exact=True).click()
    settle(page)
    expect(main.get_by_text(f"Source: #{car}")).to_be_visible(timeout=15_000)
    expect(main.get_by_label("…or type a generation number")).to_have_value(str(car))
    _type(page, "Instruction", "make the car blue")
    main.get_by_role("button", name="Start").click()
    _wait_turn(main, 2)

    # The slider: the before image clipped over the after one, moved by a drag.
    stage = main.locator(".stage")
    expect(stage).to_be_visible(timeout=30_000)
    expect(stage.locator("img.before")).to_have_attribute("src", re.compile(r"^data:image/"))
    expect(stage.locator("img.after")).to_have_attribute("src", re.compile(r"^data:image/"))
    box = stage.bounding_box()
    assert box is not None and box["width"] > 300, box  # the slider is the big view, not a thumbnail
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    expect(stage).to_have_attribute("data-position", "20", timeout=5_000)
    clip = stage.locator("img.before").evaluate("e => e.style.clipPath")
    assert clip == "inset(0px 80% 0px 0px)" or clip == "inset(0 80% 0 0)", clip
    main.locator("input.pos").focus()
    page.keyboard.press("End")
    expect(stage).to_have_attribute("data-position", "100", timeout=5_000)

    # Turns are compact: each image is thumbnail-sized.
    thumbs = main.locator("[class*='st-key-edit_turn_'] [data-testid='stImage'] img").all()
    assert len(thumbs) == 3  # turn 1: its image; turn 2: before and after
    for img in thumbs:
        width = (img.bounding_box() or {"width": 0})["width"]
        assert 0 < width <= 200, width

    # A turn's image opens large in a dialog.
    main.locator("[class*='st-key-edit_enlarge_'] button:visible").last.click()
    dialog = page.get_by_role("dialog")
    expect(dialog.locator("[data-testid='stImage'] img")).to_be_visible(timeout=30_000)
    big = dialog.locator("[data-testid='stImage'] img").bounding_box()
    assert big is not None and big["width"] > 400, big
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0, timeout=15_000)
    settle(page)

    # Branch from the first turn, send: the switcher lists both branches and switches between them.
    main.get_by_role("button", name="Branch", exact=True).first.click()
    settle(page)
    _type(page, "Next instruction", "make it night time")
    main.get_by_role("button", name="Send").click()
    _wait_turn(main, 2)
    switcher = main.get_by_role("combobox", name="Branch (2 in this conversation)")
    expect(switcher).to_have_value("Branch 2 · 2 turns · “make it night time”", timeout=30_000)
    switcher.click()
    page.get_by_role("option", name="Branch 1 · 2 turns · “make the car blue”").click()
    settle(page)
    expect(switcher).to_have_value("Branch 1 · 2 turns · “make the car blue”", timeout=30_000)
    expect(main.get_by_text("make the car blue").first).to_be_visible()
    _shot(page, "edit-branches")
