"""Gallery review in Debian's Chromium against a real `studio run --demo` with real sign-in (oidc-provider-mock):
the issue's whole story in two browser contexts, then client links in fresh signed-out contexts.

dee (designer) shares her collection with rev (reviewer) for review in the Share dialog → rev approves one image
and requests changes on the other with a box pinned on the image (and a comment holding HTML and a link, which
render inert) → dee sees the unread count, opens the comment, makes the next version from it on the Edit page
(the emulator makes it) and the collection shows both versions. A client link opens in a signed-out context
showing only that collection; a tampered and a revoked link show only the sentence; a feedback link's guest
approves under a typed name.

Screenshots (docs/screenshots/review.png, shared-link.png) are written only when STUDIO_SCREENSHOTS is set.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect, sync_playwright

from studio.domain.requests import GenerationRequest
from studio.domain.settings import load_settings
from studio.services.accounts import operator_people
from studio.services.studio import Studio
from tests.browser.browser import LAUNCH_ARGS, free_port, settle
from tests.browser.test_browser_signin import (
    ANN,
    DEE,
    HEIGHT,
    REV,
    SHOTS,
    TAKE_SHOTS,
    WAIT,
    WIDTH,
    Server,
    _env,
    _sign_in,
    studio_run,
)
from tests.conftest import chromium_or_skip

pytestmark = pytest.mark.browser

FLASH = "gemini-2.5-flash-image"
KITE, DOOR = "a red kite over the dunes", "a blue door in a white wall"
ELSEWHERE = "ann's private board of lighthouses"
BOARD = "Client moodboard"
CHANGE = "Make the door green and keep the wall white"
INVALID = "This link is not valid"


def _seed(env: dict[str, str]) -> dict[str, int]:
    """ann (admin), rev (reviewer), dee (designer); dee made two images and put them in BOARD; ann made one
    in another collection."""
    settings = load_settings(_env(env))
    people = operator_people(settings)
    try:
        people.add(ANN, role="admin")
        people.add(REV, role="reviewer")
        people.add(DEE, role="designer")
    finally:
        people.close()
    studio = Studio(settings)
    try:
        dee = studio.session(studio.sign_in(DEE))
        ann = studio.session(studio.sign_in(ANN))
        kite = dee.submit(GenerationRequest(prompt=KITE, model=FLASH))[0]
        door = dee.submit(GenerationRequest(prompt=DOOR, model=FLASH))[0]
        other = ann.submit(GenerationRequest(prompt=ELSEWHERE, model=FLASH))[0]
        dee.wait([kite, door, other], timeout=60)
        cid = dee.organise.create_collection(BOARD)
        dee.organise.add_to_collection([kite, door], cid)
        ann.organise.add_to_collection([other], ann.organise.create_collection("Lighthouses"))
        return {"kite": kite, "door": door, "cid": cid}
    finally:
        studio.close()


@pytest.fixture(scope="module")
def review_studio(oidc_provider, tmp_path_factory) -> Iterator[tuple[Server, dict[str, int]]]:
    root = tmp_path_factory.mktemp("review")
    port = free_port()
    env = {
        **oidc_provider.env(f"http://127.0.0.1:{port}"),
        "STUDIO_DATA_DIR": str(root / "data"),
        "STUDIO_DEMO": "1",
        "HOME": str(root),
    }
    ids = _seed(env)
    with studio_run(env, port, root) as server:
        yield server, ids


@contextlib.contextmanager
def chromium() -> Iterator:
    executable = chromium_or_skip()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _page(browser):
    return browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}).new_page()


def _shot(page, name: str) -> None:
    if TAKE_SHOTS:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / name))


def _open(page, server: Server, path: str) -> None:
    page.goto(f"{server.url}{path}")
    settle(page, WAIT)


def _press(page, name: str) -> None:
    page.get_by_role("button", name=name, exact=True).first.click(timeout=WAIT)
    settle(page, WAIT)


def _tiles(page):
    return page.locator(".grid .tile")


def _sidebar(page):
    return page.locator("[data-testid='stSidebar']")


def _share_for_review(page, server: Server, cid: int) -> str:
    """dee shares the collection with rev for review, and makes a feedback client link: its URL."""
    _open(page, server, f"/history?coll={cid}")
    expect(page.get_by_text("2 open")).to_be_visible(timeout=WAIT)
    _press(page, "Share…")
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Email").fill(REV)
    dialog.get_by_label("Email").press("Enter")
    dialog.get_by_label("Access").click()
    page.get_by_role("option", name="Can review").click()
    dialog.get_by_role("button", name="Share", exact=True).click()
    expect(dialog.get_by_text(f"Shared with {REV}: can review.")).to_be_visible(timeout=WAIT)
    dialog.get_by_text("Allow feedback").click()
    settle(page, WAIT)
    dialog.get_by_role("button", name="Create link").click()
    code = dialog.locator("code").filter(has_text="?link=")
    expect(code).to_be_visible(timeout=WAIT)
    return code.inner_text().strip()


def test_the_review_story_from_sharing_to_the_next_version(review_studio):
    server, ids = review_studio
    cid, kite, door = ids["cid"], ids["kite"], ids["door"]
    with chromium() as browser:
        designer, reviewer = _page(browser), _page(browser)
        _sign_in(designer, server, "dee")
        link = _share_for_review(designer, server, cid)
        assert link.startswith(f"{server.url}/?link=")

        # the reviewer: the queue, approve one image, request changes on the other with a pinned box
        _sign_in(reviewer, server, "rev")
        expect(_sidebar(reviewer).get_by_text("Waiting for my review (2)")).to_be_visible(timeout=WAIT)
        _open(reviewer, server, f"/history?id={kite}&coll={cid}")
        _press(reviewer, "Approved")
        # names are plain text (an address is not made a mailto link either)
        expect(reviewer.get_by_text(re.compile(r"by rev@\u200b?studio\.test"))).to_be_visible(timeout=WAIT)
        assert reviewer.locator(".st-key-hist_review_state a, [class*='st-key-hist_cmt_'] a").count() == 0
        _open(reviewer, server, f"/history?id={door}&coll={cid}")
        _press(reviewer, "Changes requested")
        reviewer.get_by_text("Pin to the image").click()
        settle(reviewer, WAIT)
        picture = reviewer.locator(".pinbox .pic")
        expect(picture).to_be_visible(timeout=WAIT)
        expect(reviewer.locator(".pinbox .stage.edit")).to_be_attached(timeout=WAIT)  # pinning is on
        box = picture.bounding_box()
        assert box is not None
        reviewer.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
        reviewer.mouse.down()
        reviewer.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5, steps=8)
        reviewer.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.7, steps=8)
        reviewer.mouse.up()
        expect(reviewer.get_by_text("A box is pinned.")).to_be_visible(timeout=WAIT)
        comment = reviewer.get_by_placeholder("What should change?")
        comment.fill(CHANGE)
        _press(reviewer, "Comment")
        expect(reviewer.locator(".pinbox .num", has_text="1")).to_be_visible(timeout=WAIT)
        expect(reviewer.locator(".pinbox .box")).to_have_count(1)
        # Markdown and HTML render inert: shown as text, no script element, no live external link
        comment.fill(
            '<script>window.pwned=1</script> **see** [the brief](https://evil.test/x) <a href="https://evil.test">a</a>'
        )
        _press(reviewer, "Comment")
        expect(reviewer.get_by_text("<script>window.pwned=1</script>", exact=False)).to_be_visible(
            timeout=WAIT
        )
        assert reviewer.locator("a[href*='evil.test']").count() == 0
        assert reviewer.evaluate("window.pwned") is None
        expect(reviewer.locator("strong", has_text="see")).to_be_visible()
        reviewer.locator(".st-key-hist_nav").scroll_into_view_if_needed()
        _shot(reviewer, "review.png")
        expect(_sidebar(reviewer).get_by_text("Waiting for my review (0)")).to_be_visible(timeout=WAIT)

        # the designer: the unread count, the comment, the next version
        _open(designer, server, f"/history?coll={cid}")
        expect(_sidebar(designer).get_by_text("Feedback on my work (2)")).to_be_visible(timeout=WAIT)
        expect(designer.get_by_text("1 approved · 1 changes requested")).to_be_visible(timeout=WAIT)
        expect(designer.locator(".grid .rv.approved")).to_have_count(1)
        expect(designer.locator(".grid .rv.changes")).to_have_count(1)
        _sidebar(designer).get_by_text("Feedback on my work (2)").click()
        settle(designer, WAIT)
        row = designer.locator(".st-key-queue_cmt_1")
        expect(row.get_by_text(CHANGE)).to_be_visible(timeout=WAIT)
        row.get_by_role("button", name="Open").click()
        settle(designer, WAIT)
        expect(_sidebar(designer).get_by_text("Feedback on my work (0)")).to_be_visible(timeout=WAIT)
        _press(designer, "Make the next version")
        expect(designer.get_by_role("heading", name="Edit")).to_be_visible(timeout=WAIT)
        expect(designer.get_by_role("textbox", name="Instruction", exact=True)).to_have_value(
            CHANGE, timeout=WAIT
        )
        expect(designer.get_by_text("Annotation reference")).to_be_visible(timeout=WAIT)
        _press(designer, "Start")
        expect(designer.get_by_role("button", name="Send")).to_be_visible(
            timeout=WAIT * 2
        )  # the new turn is done
        _open(designer, server, f"/history?coll={cid}")
        expect(_tiles(designer)).to_have_count(3, timeout=WAIT)
        expect(designer.get_by_text("1 approved · 1 changes requested · 1 open")).to_be_visible(timeout=WAIT)
        _open(designer, server, f"/history?id={door}&coll={cid}")
        expect(designer.get_by_text(re.compile(r"Next version: #\d+"))).to_be_visible(timeout=WAIT)
        designer.get_by_text("Before / after").click()
        expect(designer.locator(".stage .before")).to_be_attached(timeout=WAIT)

        # a client link in a fresh, signed-out context: that collection only; a feedback guest approves
        guest = _page(browser)
        guest.goto(link)
        settle(guest, WAIT)
        expect(guest.get_by_role("heading", name=BOARD)).to_be_visible(timeout=WAIT)
        expect(guest.locator("[data-testid='stImage']")).to_have_count(3, timeout=WAIT)
        body = guest.locator("body").inner_text()
        for hidden in (KITE, DOOR, ELSEWHERE, "Lighthouses", "History", "Generate", "Sign in"):
            assert hidden not in body
        assert guest.locator("[data-testid='stSidebar'], [data-testid='stSidebarNav']").count() == 0
        guest.get_by_role("textbox", name="Your name").fill("Cleo")
        guest.get_by_role("textbox", name="Your name").press("Enter")
        settle(guest, WAIT)
        item = guest.locator(f".st-key-link_item_{door}")  # changes requested by rev; the guest approves
        item.get_by_role("button", name="Approved").click()
        expect(guest.get_by_text("Thank you: Approved is recorded.")).to_be_visible(timeout=WAIT)
        expect(guest.get_by_text("2 approved · 1 open")).to_be_visible(timeout=WAIT)
        settle(guest, WAIT)
        expect(guest.locator("[data-testid='stImage']")).to_have_count(3, timeout=WAIT)
        _shot(guest, "shared-link.png")

        # tampered and revoked: the sentence and nothing else
        token = link.split("?link=", 1)[1]
        tampered = link[: -len(token)] + token[:-3] + ("xyz" if not token.endswith("xyz") else "abc")
        for page_url in (tampered,):
            other = _page(browser)
            other.goto(page_url)
            settle(other, WAIT)
            _only_the_sentence(other)
        _open(designer, server, f"/history?coll={cid}")
        _press(designer, "Share…")
        designer.get_by_role("dialog").get_by_role("button", name="Revoke").first.click()
        expect(designer.get_by_role("dialog").get_by_text("The link no longer works.")).to_be_visible(
            timeout=WAIT
        )
        revoked = _page(browser)
        revoked.goto(link)
        settle(revoked, WAIT)
        _only_the_sentence(revoked)


def _only_the_sentence(page) -> None:
    expect(page.get_by_text(INVALID)).to_be_visible(timeout=WAIT)
    body = page.locator("body").inner_text()
    for hidden in (BOARD, KITE, DOOR, ELSEWHERE, "History", "Sign in"):
        assert hidden not in body
    assert page.locator("[data-testid='stImage'], img, button").count() == 0
    assert page.locator("[data-testid='stSidebar']").count() == 0
