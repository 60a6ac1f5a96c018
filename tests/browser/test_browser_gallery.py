"""The History gallery in Debian's Chromium: the image grid (one component), the lightbox with ← →, the URL
(reload, back, a pasted link), stacks of variants, compact failures, hover actions, compare and export.

The history is made by the real service in demo mode (the emulator renders the images), then the studio is
started as `studio run` serves it (``app/asgi.py``: the pages plus the ``/thumbs`` route). Screenshots go to
docs/screenshots/ only when STUDIO_SCREENSHOTS is set.
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from studio.domain.requests import GenerationRequest
from studio.storage import Store
from tests.browser.browser import ASGI, chromium_page, seed_history, settle, studio_server

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


TRIO = "three teacups on a shelf"  # one submission, three variants: #7, #8, #9
BLOCKED = 5  # SEED's fifth: blocked, no image


@pytest.fixture
def data_dir(tmp_path) -> Path:
    path = tmp_path / "data"
    ids = seed_history(
        path,
        [
            *(
                GenerationRequest(prompt=prompt, model=model, aspect_ratio=ratio, image_size=size)
                for prompt, model, ratio, size in SEED
            ),
            GenerationRequest(prompt=TRIO, model="gemini-2.5-flash-image", aspect_ratio="1:1", variants=3),
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
    with studio_server(data_dir, tmp_path, app=ASGI) as url:
        yield url


@pytest.fixture
def page(server):
    with chromium_page(f"{server}/history", height=1100, accept_downloads=True) as tab:
        yield tab


def _shot(page, name: str, height: int = 1100, *, full_page: bool = True) -> None:
    if TAKE_SHOTS:
        page.set_viewport_size({"width": 1440, "height": height})  # Streamlit scrolls inside its main
        page.wait_for_timeout(400)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def _tiles(main):
    return main.locator(".tile")


def _tile(main, gen_id: int):
    return main.locator(f".tile[data-id='{gen_id}']")


def _opened(page, gen_id: int) -> None:
    """The lightbox shows ``gen_id``: its title, its prompt, its image, and the URL names it."""
    main = page.locator("[data-testid='stMain']")
    main.get_by_text(f"Generation #{gen_id}", exact=True).wait_for(timeout=20_000)
    expect(page).to_have_url(re.compile(rf"[?&]id={gen_id}(&|$)"), timeout=20_000)
    main.locator("[data-testid='stImage'] img").first.wait_for(timeout=15_000)


def _press(page, key: str) -> None:
    """Click a Streamlit button by key once the run has finished (a run in flight shows stale copies)."""
    settle(page)
    page.locator(f"[data-testid='stMain'] .st-key-{key} button").first.click()


def _wait_db(check, page) -> None:
    for _ in range(100):  # a click reaches the server asynchronously
        if check():
            return
        page.wait_for_timeout(100)
    assert check()


def test_grid_is_images_first_with_stacks_chips_tags_and_cached_thumbnails(page, data_dir):
    main = page.locator("[data-testid='stMain']")
    responses = []
    page.on("response", lambda r: responses.append(r) if "/thumbs/" in r.url else None)
    expect(_tiles(main)).to_have_count(6, timeout=30_000)  # 5 images + 1 stack of 3 variants
    main.locator(".tile img").nth(5).wait_for(timeout=15_000)
    expect(main.locator(".tile img").first).to_have_js_property("complete", True, timeout=15_000)
    # thumbnails at least 240 px wide at the default density, images first (no text card around them)
    widths = sorted(box["width"] for box in (t.bounding_box() for t in _tiles(main).all()) if box)
    assert widths[len(widths) // 2] >= 240, widths
    square = _tile(main, 1).bounding_box()  # the 1:1 crane
    assert (
        square
        and square["width"] >= 240
        and abs(square["width"] - square["height"]) < 0.35 * square["height"]
    )
    # the three variants of one submission: one tile with a count badge, expandable
    stack = _tile(main, 7)
    expect(stack.locator(".badge")).to_have_text("3")
    stack.locator(".badge").click()
    expect(_tiles(main)).to_have_count(8)
    expect(_tile(main, 9)).to_be_visible()
    _tile(main, 7).locator(".collapse").click()
    expect(_tiles(main)).to_have_count(6)
    # the blocked generation is a compact chip, not an image-sized card
    chip = main.locator(f".chip[data-id='{BLOCKED}']")
    expect(chip).to_contain_text("Blocked")
    box = chip.bounding_box()
    assert box and box["height"] < 40
    # tags and rating on the tiles
    expect(_tile(main, 1).locator(".tag")).to_have_text("series-a")
    expect(_tile(main, 2).locator(".stars")).to_have_text("★★★★")
    # thumbnails come by address, content-addressed and cached for a year
    assert responses, "no thumbnail was fetched from /thumbs"
    first = responses[0]
    assert first.status == 200 and first.header_value("content-type") == "image/jpeg"
    assert first.header_value("cache-control") == "private, max-age=31536000, immutable"
    base = page.url.split("/history")[0]
    assert page.request.get(f"{base}/thumbs/{'0' * 64}.jpg").status == 404
    sneaky = page.request.get(f"{base}/thumbs/..%2Fstudio.db.jpg")  # refused before or by the route
    assert sneaky.status in (400, 404) and b"SQLite" not in sneaky.body()


def test_the_grid_stays_put_while_the_rest_of_the_page_arrives(page):
    """Images first: the toolbar, totals and filters follow the first paint. The tiles neither move nor are
    redrawn when they come, so a click made meanwhile lands on the image it was aimed at."""
    main = page.locator("[data-testid='stMain']")
    first = _tile(main, 7)
    first.wait_for(timeout=30_000)
    before = first.bounding_box()
    first.evaluate("node => { node.__seen = true; }")  # a redraw would replace this node
    main.locator(".st-key-hist_older").wait_for(timeout=30_000)  # the pager: the whole page has arrived
    settle(page)
    after = first.bounding_box()
    assert before and after and abs(before["y"] - after["y"]) < 1, (before, after)
    assert first.evaluate("node => node.__seen === true")


def test_a_click_on_the_first_image_painted_opens_it_and_it_stays_open(page):
    """A designer clicks as soon as the thumbnail shows, before the filters arrive: the click is not undone
    by the page's own "first paint done" run (which would carry the address from before the click)."""
    main = page.locator("[data-testid='stMain']")
    img = _tile(main, 3).locator("img")
    expect(img).to_have_js_property("complete", True, timeout=30_000)
    img.click()
    _opened(page, 3)
    page.wait_for_timeout(2_500)  # past the grid's 2 s fallback for reporting its first paint
    settle(page)
    _opened(page, 3)
    expect(_tiles(main)).to_have_count(0)


def test_a_page_link_clicked_as_the_first_thumbnails_paint_opens_that_page(server):
    """A designer opens History and, as its first thumbnails paint, clicks another page in the sidebar. The
    grid's "first paint done" rerun is sent under the page the browser still shows until the server starts
    the clicked page's run; sent in that window it replaced the click's run, and the page stayed History.

    Made certain here: the thumbnails are held until just after the click, and the server's messages are held
    (the window a loaded server opens) until the grid has had time to report."""
    with chromium_page("about:blank", height=1100) as tab:
        thumbs: list = []
        tab.route("**/thumbs/**", lambda route: thumbs.append(route))  # answered after the click
        hold: dict = {"on": False, "kept": []}

        def relay(ws) -> None:
            hold["page"] = ws
            server = ws.connect_to_server()

            def to_page(message) -> None:
                if hold["on"]:
                    hold["kept"].append(message)
                else:
                    ws.send(message)

            server.on_message(to_page)  # the page's own messages go to the server as they are

        tab.route_web_socket(re.compile(r".*/_stcore/stream.*"), relay)
        tab.goto(f"{server}/history")
        main = tab.locator("[data-testid='stMain']")
        expect(_tiles(main)).to_have_count(6, timeout=30_000)  # drawn, their images not yet loaded
        assert thumbs, "the grid should be waiting for its thumbnails"
        settle(tab)
        hold["on"] = True
        tab.locator("[data-testid='stSidebarNav'] a", has_text="Settings").click()
        for route in thumbs:
            route.continue_()
        tab.unroute("**/thumbs/**")
        tab.wait_for_timeout(2_500)  # the first paint (or the grid's 2 s fallback) has been reported, if ever
        hold["on"] = False
        kept, hold["kept"] = hold["kept"], []
        for message in kept:  # in order, before any newer one (nothing new is relayed until this returns)
            hold["page"].send(message)
        settle(tab)
        expect(tab.get_by_role("heading", name="Settings", exact=True)).to_be_visible(timeout=30_000)
        tab.wait_for_timeout(1_000)
        settle(tab)
        assert tab.url.endswith("/settings"), tab.url
        expect(tab.get_by_role("heading", name="Settings", exact=True)).to_be_visible()


def test_history_own_link_clicked_as_its_thumbnails_load_still_brings_the_filters(server):
    """The grid holds back its "first paint done" report after a click on a link to another page; a link to
    the page already shown changes nothing, so the report goes and the filters and pager follow."""
    with chromium_page("about:blank", height=1100) as tab:
        thumbs: list = []
        tab.route("**/thumbs/**", lambda route: thumbs.append(route))
        tab.goto(f"{server}/history")
        main = tab.locator("[data-testid='stMain']")
        expect(_tiles(main)).to_have_count(6, timeout=30_000)
        settle(tab)
        tab.locator("[data-testid='stSidebarNav'] a", has_text="History").click()
        for route in thumbs:
            route.continue_()
        tab.unroute("**/thumbs/**")
        expect(main.locator(".st-key-hist_older")).to_be_attached(timeout=30_000)
        assert tab.url.endswith("/history")


def test_click_an_image_then_step_with_buttons_and_keys_and_go_back(page):
    main = page.locator("[data-testid='stMain']")
    expect(_tiles(main)).to_have_count(6, timeout=30_000)
    settle(page)
    _tile(main, 3).locator("img").click()  # a click on the image itself opens it
    _opened(page, 3)
    main.locator("[data-testid='stCode']").get_by_text(SEED[2][0]).wait_for(timeout=15_000)
    _press(page, "hist_next")  # → older
    _opened(page, 2)
    _press(page, "hist_prev")  # ← newer
    _opened(page, 3)
    settle(page)
    page.keyboard.press("ArrowLeft")  # newer: #4
    _opened(page, 4)
    settle(page)
    page.keyboard.press("ArrowRight")
    _opened(page, 3)
    settle(page)
    page.go_back()  # the browser's back walks the generations seen, then the grid
    _opened(page, 4)
    page.go_back()
    _opened(page, 3)
    page.go_back()
    _opened(page, 2)
    page.go_back()
    _opened(page, 3)
    page.go_back()
    expect(_tiles(main)).to_have_count(6, timeout=20_000)
    expect(page).not_to_have_url(re.compile(r"[?&]id="))
    settle(page)
    _tile(main, 1).click()
    _opened(page, 1)
    settle(page)
    expect(main.locator(".st-key-hist_next button").first).to_be_disabled()  # the oldest: nothing older
    settle(page)
    page.keyboard.press("Escape")  # back to the grid
    expect(_tiles(main)).to_have_count(6, timeout=20_000)


def test_the_url_keeps_the_view_through_reload_and_a_pasted_link(page, server):
    main, sidebar = page.locator("[data-testid='stMain']"), page.locator("[data-testid='stSidebar']")
    expect(_tiles(main)).to_have_count(6, timeout=30_000)
    settle(page)
    search = main.get_by_label("Search prompts and replies")
    search.fill("paper")
    search.press("Enter")
    expect(_tiles(main)).to_have_count(2, timeout=15_000)
    settle(page)
    tag = sidebar.get_by_role("combobox", name="Tag", exact=True)
    tag.fill("series-a")
    page.get_by_role("option", name="series-a (2)").click()
    expect(page).to_have_url(re.compile(r"tag=series-a"), timeout=15_000)
    expect(page).to_have_url(re.compile(r"q=paper"))
    settle(page)
    page.reload()  # the same results, the same widgets
    expect(_tiles(main)).to_have_count(2, timeout=30_000)
    expect(main.get_by_label("Search prompts and replies")).to_have_value("paper")
    expect(tag).to_have_value("series-a (2)")
    settle(page)
    _tile(main, 3).click()
    _opened(page, 3)
    _press(page, "hist_next")  # → within the filter: #2 (the lighthouse) is not "paper", so #1
    _opened(page, 1)
    settle(page)
    page.reload()
    _opened(page, 1)
    link = page.url
    context = page.context.browser.new_context(viewport={"width": 1440, "height": 900})
    try:  # a pasted link, in a fresh browser context that has seen nothing
        fresh = context.new_page()
        fresh.goto(link)
        _opened(fresh, 1)
        fresh_main = fresh.locator("[data-testid='stMain']")
        _press(fresh, "hist_back")
        expect(fresh_main.locator(".tile")).to_have_count(2, timeout=20_000)  # the link's filter
        expect(fresh_main.get_by_label("Search prompts and replies")).to_have_value("paper")
    finally:
        context.close()
    page.go_back()  # after a reload, back still walks the same way: #3, then the filtered grid
    _opened(page, 3)
    page.go_back()
    expect(_tiles(main)).to_have_count(2, timeout=20_000)
    expect(main.get_by_label("Search prompts and replies")).to_have_value("paper")


def test_hover_actions_favourite_select_compare_and_export(page, data_dir):
    main = page.locator("[data-testid='stMain']")
    expect(_tiles(main)).to_have_count(6, timeout=30_000)
    settle(page)
    _tile(main, 1).hover()
    _tile(main, 1).get_by_role("button", name="Favourite").click()
    store = Store(data_dir)
    try:
        _wait_db(lambda: store.generations.get(1).favourite, page)
    finally:
        store.close()
    expect(_tile(main, 1).locator(".fav")).to_have_count(1, timeout=15_000)
    settle(page)
    for n, gen_id in enumerate((1, 3), start=1):
        _tile(main, gen_id).hover()
        _tile(main, gen_id).get_by_role("button", name="Select").click()
        main.get_by_text(f"{n} selected", exact=True).wait_for(timeout=15_000)
        expect(_tile(main, gen_id)).to_have_class(re.compile(r"\bsel\b"), timeout=15_000)
        settle(page)
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
    settle(page)
    expect(_tiles(main)).to_have_count(6)
    with page.expect_download(timeout=30_000) as info:
        export.click()
    with zipfile.ZipFile(io.BytesIO(Path(info.value.path()).read_bytes())) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        assert sorted(g["prompt"] for g in manifest["generations"]) == sorted([SEED[0][0], SEED[2][0]])
        assert all(g["images"][0]["path"] in zf.namelist() for g in manifest["generations"])


def test_selecting_a_folded_stack_selects_and_trashes_all_its_variants(page, data_dir):
    main = page.locator("[data-testid='stMain']")
    expect(_tiles(main)).to_have_count(6, timeout=30_000)
    settle(page)
    stack = _tile(main, 7)  # the trio, folded: #7 shows, #8 and #9 are under it
    stack.hover()
    stack.get_by_role("button", name="Select all 3 variants").click()
    main.get_by_text("3 selected", exact=True).wait_for(timeout=15_000)
    expect(_tile(main, 7)).to_have_class(re.compile(r"\bsel\b"), timeout=15_000)
    settle(page)
    _tile(main, 7).locator(".badge").click()  # unfolded, each variant shows it is selected
    for gen_id in (7, 8, 9):
        expect(_tile(main, gen_id)).to_have_class(re.compile(r"\bsel\b"), timeout=15_000)
    _tile(main, 8).hover()
    _tile(main, 8).get_by_role("button", name="Unselect").click()  # one variant out: the stack is not whole
    main.get_by_text("2 selected", exact=True).wait_for(timeout=15_000)
    settle(page)
    _tile(main, 7).locator(".badge.collapse").click()
    expect(_tile(main, 7)).not_to_have_class(re.compile(r"\bsel\b"), timeout=15_000)
    _tile(main, 7).hover()
    _tile(main, 7).get_by_role("button", name="Select all 3 variants").click()  # the rest join
    main.get_by_text("3 selected", exact=True).wait_for(timeout=15_000)
    settle(page)
    _press(page, "hist_bulk_trash")
    store = Store(data_dir)
    try:
        _wait_db(lambda: all(store.generations.get(i).deleted_at is not None for i in (7, 8, 9)), page)
        assert all(store.generations.get(i).deleted_at is None for i in range(1, 7))
    finally:
        store.close()
    expect(_tile(main, 7)).to_have_count(0, timeout=15_000)


SUBJECTS = (
    "a paper crane on a desk, morning light",
    "a lighthouse at dusk, long exposure",
    "a ceramic teapot, studio product shot",
    "a fox in a snowy forest, watercolour",
    "a neon noodle bar in the rain",
    "an orange tabby cat on a windowsill",
    "a brutalist library interior",
    "a bowl of ramen, top-down",
    "a sailboat on a glassy lake",
    "a botanical illustration of a fern",
)
RATIOS = ("1:1", "16:9", "3:4", "4:3", "2:3", "3:2")


def test_a_lived_in_history_at_1440_by_900(tmp_path):
    """About forty generations with stacks of variants, tags, ratings and failures: the grid shows images
    first (thumbnails in the first screen, failures as chips), and the lightbox shows the image large beside
    its detail. The README's screenshots are taken here (STUDIO_SCREENSHOTS=1)."""
    requests = [
        GenerationRequest(
            prompt=SUBJECTS[i % len(SUBJECTS)] + ("" if i < len(SUBJECTS) else f", take {i}"),
            model="gemini-2.5-flash-image",
            aspect_ratio=RATIOS[i % len(RATIOS)],
            variants=3 if i in (4, 19, 27) else 1,
        )
        for i in range(30)
    ]
    requests.insert(
        12, GenerationRequest(prompt="[[fault:blocked]] a forbidden door", model="gemini-2.5-flash-image")
    )
    requests.insert(
        24, GenerationRequest(prompt="[[fault:500]] a broken request", model="gemini-2.5-flash-image")
    )
    data = tmp_path / "data"
    ids = seed_history(data, requests)
    store = Store(data)
    try:
        store.organise.add_tags(ids[-6:-2], ["client-a"])
        store.organise.add_tags(ids[-4:-1], ["hero"])
        store.organise.set_rating(ids[-3:], 4)
        store.organise.set_favourite(ids[-2:], True)
    finally:
        store.close()
    with studio_server(data, tmp_path, app=ASGI) as url, chromium_page(f"{url}/history", height=900) as page:
        main = page.locator("[data-testid='stMain']")
        expect(main.locator(".tile .badge")).to_have_count(3, timeout=30_000)  # three stacks of three
        expect(main.locator(".chip")).to_have_count(2)
        expect(_tiles(main)).to_have_count(len(ids) - 2 - 3 * 2)
        main.get_by_label("Search prompts and replies").wait_for(timeout=20_000)  # the rest followed
        settle(page)
        first = _tiles(main).first.bounding_box()
        assert first and first["y"] + first["height"] < 900  # a whole row of images in the first screen
        page.wait_for_function(
            "() => [...document.querySelectorAll('*')].flatMap(e => e.shadowRoot ? [...e.shadowRoot.querySelectorAll('.tile img')] : [])"
            ".slice(0, 8).every(i => i.complete && i.naturalWidth > 0)",
            timeout=20_000,
        )
        _shot(page, "history", 900, full_page=False)
        _tiles(main).nth(2).locator("img").click()
        main.get_by_text(re.compile(r"^Generation #\d+$")).wait_for(timeout=20_000)
        main.locator("[data-testid='stImage'] img").first.wait_for(timeout=15_000)
        expect(main.locator("[data-testid='stImage'] img").first).to_have_js_property("complete", True)
        settle(page)
        _shot(page, "detail", 900, full_page=False)
