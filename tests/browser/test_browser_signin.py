"""Sign-in in Debian's Chromium against a real `studio run` (STUDIO_LOGIN=oidc or proxy).

oidc: Streamlit's own ``st.login`` against ``oidc-provider-mock`` on loopback (the ``oidc_provider`` fixture,
tests/oidc.py): its authorization page has one button per user, so a person signs in with one click. The people
are made the way an operator makes them (``studio users add``: the operator's PeopleService); the history is
made by the real service in demo mode. proxy: the headers an authenticating proxy adds, sent by the browser
itself (Playwright's extra HTTP headers reach the page and the websocket alike).

Screenshots of the sign-in page and the Admin page go to docs/screenshots/ only when STUDIO_SCREENSHOTS is set.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from studio.domain.requests import GenerationRequest
from studio.domain.settings import load_settings
from studio.services.accounts import operator_people
from studio.services.studio import Studio
from tests.browser.browser import LAUNCH_ARGS, free_port, settle
from tests.conftest import chromium_or_skip

pytestmark = pytest.mark.browser

ROOT = Path(__file__).parents[2]
SHOTS = ROOT / "docs" / "screenshots"
TAKE_SHOTS = bool(os.environ.get("STUDIO_SCREENSHOTS"))  # read at import: isolated_env clears STUDIO_*
WIDTH, HEIGHT = 1440, 900
WAIT = 45_000  # ms: a loaded two-core machine

ANN, REV, DEE, ZED = "ann@studio.test", "rev@studio.test", "dee@studio.test", "zed@elsewhere.test"
TEAM_PROMPTS = ("a teal teapot on the team moodboard", "a paper crane in morning light")
DEE_PROMPT = "a lighthouse at dusk, long exposure"
FLASH = "gemini-2.5-flash-image"
PROXY_SECRET = "proxy-shared-secret-0123456789"


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path
    data_dir: Path


def _env(extra: dict[str, str]) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("STUDIO_", "STREAMLIT_"))}
    return {**base, **extra}


def _seed(env: dict[str, str]) -> None:
    """The team (ann admin with a $20 budget, rev reviewer, dee designer) and two generations by ann."""
    settings = load_settings(_env(env))
    people = operator_people(settings)
    try:
        people.add(ANN, role="admin", budget_usd=20)
        people.add(REV, role="reviewer")
        people.add(DEE, role="designer", budget_usd=5)
    finally:
        people.close()
    studio = Studio(settings)
    try:
        ann = studio.session(studio.sign_in(ANN))
        dee = studio.session(studio.sign_in(DEE))
        ids = [
            i for prompt in TEAM_PROMPTS for i in ann.submit(GenerationRequest(prompt=prompt, model=FLASH))
        ]
        ids += dee.submit(GenerationRequest(prompt=DEE_PROMPT, model="gemini-3-pro-image", variants=2))
        ids += dee.submit(GenerationRequest(prompt="[[fault:blocked]] a door nobody may open", model=FLASH))
        ann.wait(ids, timeout=60)
    finally:
        studio.close()


@contextlib.contextmanager
def studio_run(env: dict[str, str], port: int, cwd: Path) -> Iterator[Server]:
    """The real `studio run --demo` on ``port`` with ``env``, until it answers /_stcore/health."""
    log = cwd / f"studio-run-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "studio", "run", "--demo", "--port", str(port)],
            cwd=cwd,
            env=_env(env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, f"studio run exited:\n{log.read_text(errors='replace')}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/_stcore/health", timeout=2).text == "ok":
                    break
            assert time.monotonic() < deadline, (
                f"studio run never answered:\n{log.read_text(errors='replace')}"
            )
            time.sleep(0.2)
        yield Server(url, proc, log, Path(env["STUDIO_DATA_DIR"]))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def oidc_studio(oidc_provider, tmp_path_factory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("signin")
    port = free_port()
    env = {
        **oidc_provider.env(f"http://127.0.0.1:{port}"),
        "STUDIO_DATA_DIR": str(root / "data"),
        "STUDIO_DEMO": "1",
        "HOME": str(root),
    }
    _seed(env)
    with studio_run(env, port, root) as server:
        yield server


@contextlib.contextmanager
def browser(**context_options) -> Iterator:
    executable = chromium_or_skip()
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)
        try:
            context = chromium.new_context(viewport={"width": WIDTH, "height": HEIGHT}, **context_options)
            yield context.new_page()
        finally:
            chromium.close()


def _no_team_work(page) -> None:
    """Nothing of the team's work is on the page: no prompt, no image, no page of the studio's."""
    body = page.locator("body").inner_text()
    for prompt in (*TEAM_PROMPTS, DEE_PROMPT):
        assert prompt not in body
    assert page.locator("[data-testid='stImage'], iframe, img[src*='/media/']").count() == 0
    assert page.locator("[data-testid='stSidebarNav']").count() == 0
    assert page.locator("textarea").count() == 0


def _sign_in(page, server: Server, who: str) -> None:
    page.goto(server.url)
    settle(page, WAIT)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name=who, exact=True).click(timeout=WAIT)  # the provider's page
    page.wait_for_url(f"{server.url}/**", timeout=WAIT)
    settle(page, WAIT)


def _shot(page, name: str) -> None:
    if TAKE_SHOTS:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / name))


def test_signed_out_sees_no_work(oidc_studio):
    with browser() as page:
        page.goto(oidc_studio.url)
        settle(page, WAIT)
        expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=WAIT)
        expect(page.get_by_role("heading", name="Studio")).to_be_visible()
        _no_team_work(page)
        _shot(page, "signin.png")
        page.goto(f"{oidc_studio.url}/history")  # a link into the studio shows the same
        settle(page, WAIT)
        expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=WAIT)
        expect(page.get_by_text("Page not found")).to_have_count(0)
        _no_team_work(page)


def test_thumbnails_are_served_only_at_addresses_a_page_signed(oidc_studio):
    thumbs = sorted((oidc_studio.data_dir / "thumbs").glob("*/*.jpg"))
    assert thumbs  # the seeded generations' thumbnails are there, yet nobody gets them by their name alone
    assert httpx.get(f"{oidc_studio.url}/thumbs/{thumbs[0].name}").status_code == 404
    with browser() as page:
        _sign_in(page, oidc_studio, "ann")
        page.locator("[data-testid='stSidebar']").get_by_role("link", name="History").click()
        settle(page, WAIT)
        shown = page.locator("img[src*='/thumbs/']")
        expect(shown.first).to_be_visible(timeout=WAIT)
        src = shown.first.get_attribute("src") or ""
        assert "?e=" in src and "&s=" in src  # signed for this page
        loaded = "img => img.complete && img.naturalWidth > 0"  # the route served it, the browser decoded it
        deadline = time.monotonic() + WAIT / 1000
        while not shown.first.evaluate(loaded):
            assert time.monotonic() < deadline, f"the browser never showed {src}"
            time.sleep(0.1)
        assert httpx.get(f"{oidc_studio.url}{src}").status_code == 200
        assert httpx.get(f"{oidc_studio.url}{src[:-1]}{'0' if src[-1] != '0' else '1'}").status_code == 404


def test_a_member_signs_in_and_sees_the_teams_work(oidc_studio):
    with browser() as page:
        _sign_in(page, oidc_studio, "ann")
        sidebar = page.locator("[data-testid='stSidebar']")
        expect(sidebar.get_by_text(ANN)).to_be_visible(timeout=WAIT)
        expect(page.get_by_text("of $20.00 used this month")).to_be_visible(timeout=WAIT)  # beside Generate
        sidebar.get_by_role("link", name="History").click()
        settle(page, WAIT)
        grid = page.frame_locator("iframe").first if page.locator("iframe").count() else page
        for prompt in TEAM_PROMPTS:
            expect(page.get_by_text(prompt).or_(grid.get_by_text(prompt)).first).to_be_attached(timeout=WAIT)
        sidebar.get_by_role("link", name="Admin").click()
        settle(page, WAIT)
        expect(page.get_by_role("heading", name="Admin")).to_be_visible(timeout=WAIT)
        expect(page.get_by_text(REV).first).to_be_attached(
            timeout=WAIT
        )  # a cell of the people table (a canvas)
        _shot(page, "admin.png")
        page.get_by_role("tab", name="Spend").click()
        expect(page.locator("[data-testid='stVegaLiteChart']").first).to_be_visible(timeout=WAIT)
        _shot(page, "admin-spend.png")
        sidebar.get_by_role("button", name="Sign out").click()
        page.get_by_role("button", name="End session").click(timeout=WAIT)  # the provider's own sign-out
        page.wait_for_url(f"{oidc_studio.url}/**", timeout=WAIT)
        expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=WAIT)
        _no_team_work(page)


def test_a_stranger_sees_one_sentence_and_nothing_else(oidc_studio):
    with browser() as page:
        _sign_in(page, oidc_studio, "zed")
        expect(page.get_by_text(f"{ZED} is not a member of this studio")).to_be_visible(timeout=WAIT)
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        assert page.get_by_role("button").count() == 1
        _no_team_work(page)


def test_a_reviewer_cannot_generate(oidc_studio):
    with browser() as page:
        _sign_in(page, oidc_studio, "rev")
        sidebar = page.locator("[data-testid='stSidebar']")
        expect(sidebar.get_by_text(REV)).to_be_visible(timeout=WAIT)
        expect(page.get_by_role("heading", name="History")).to_be_visible(timeout=WAIT)
        links = sidebar.locator("[data-testid='stSidebarNav'] a").all_inner_texts()
        assert not any(name in " ".join(links) for name in ("Generate", "Edit", "Experiment", "Admin"))
        page.goto(f"{oidc_studio.url}/generate")  # typed by hand: a sentence, no Generate page
        settle(page, WAIT)
        expect(page.get_by_text("Generate is not open to reviewers")).to_be_visible(timeout=WAIT)
        expect(page.get_by_role("button", name="Generate")).to_have_count(0)
        assert page.locator("textarea").count() == 0
        page.goto(f"{oidc_studio.url}/history")  # History keeps its own address for a reviewer
        settle(page, WAIT)
        expect(page.get_by_role("heading", name="History")).to_be_visible(timeout=WAIT)
        expect(page.get_by_text("Page not found")).to_have_count(0)


# -- proxy mode ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def proxy_studio(tmp_path_factory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("proxy-signin")
    port = free_port()
    env = {
        "STUDIO_LOGIN": "proxy",
        "STUDIO_PROXY_SECRET": PROXY_SECRET,
        "STUDIO_DATA_DIR": str(root / "data"),
        "STUDIO_DEMO": "1",
        "HOME": str(root),
    }
    _seed(env)
    with studio_run(env, port, root) as server:
        yield server


def test_proxy_with_the_secret_header_signs_the_person_in(proxy_studio):
    headers = {"X-Forwarded-Email": ANN, "X-Studio-Proxy-Secret": PROXY_SECRET}
    with browser(extra_http_headers=headers) as page:
        page.goto(proxy_studio.url)
        settle(page, WAIT)
        expect(page.locator("[data-testid='stSidebar']").get_by_text(ANN)).to_be_visible(timeout=WAIT)
        expect(page.locator("textarea").first).to_be_visible(timeout=WAIT)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-Email": ANN},
        {"X-Forwarded-Email": ANN, "X-Studio-Proxy-Secret": "not-the-secret"},
        {},
    ],
    ids=["no-secret", "wrong-secret", "no-headers"],
)
def test_proxy_without_the_secret_header_is_signed_out(proxy_studio, headers):
    with browser(extra_http_headers=headers) as page:
        page.goto(proxy_studio.url)
        settle(page, WAIT)
        expect(page.get_by_text("Sign in through your team's sign-in page")).to_be_visible(timeout=WAIT)
        _no_team_work(page)
