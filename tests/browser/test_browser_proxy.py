"""Two `studio run` processes behind Debian's nginx running deploy/nginx.conf (tests/proxy.py), in Chromium.

Both processes share one history: here one STUDIO_DATA_DIR (SQLite in WAL mode plus local files, one machine).
The environment is the ``team_env`` fixture, a plain dict: a team setup gives both processes the same
STUDIO_DATABASE_URL (PostgreSQL) and STUDIO_STORAGE_URL (a bucket; STUDIO_S3_ENDPOINT_URL and AWS_* for moto)
instead, and the tests are the same. The processes call the test emulator, so a call can be held in flight
(``[[latency:S]]`` in the prompt) and seen arriving (``emulator.requests``).

Which process served a browser is read from nginx's own answers: the X-Studio-Upstream header the example sets,
on the page and on the websocket's handshake (Chrome's DevTools protocol shows the 101's headers).
"""

from __future__ import annotations

import http.server
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from studio.domain.settings import load_settings
from studio.storage import Store
from tests.browser.browser import LAUNCH_ARGS, settle
from tests.conftest import chromium_or_skip
from tests.proxy import (
    EXAMPLE,
    ROUTE_COOKIE,
    UPSTREAM_HEADER,
    Proxy,
    StudioProcess,
    nginx_proxy,
    studio_processes,
)

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 1440, 900
SHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
TAKE_SHOTS = bool(os.environ.get("STUDIO_SCREENSHOTS"))  # read at import, before isolated_env clears it
LEASE_SECONDS = 3
ADOPTION_WITHIN = 20.0  # seconds after the kill: lease (3 s) plus a few adoption rounds, on a loaded machine


#: The shared history the processes run on: "local" is one STUDIO_DATA_DIR (SQLite + folder, one machine);
#: "team" is one PostgreSQL database and one bucket on moto's S3 server (each process its own data directory).
BACKENDS = ["local", "team"]


@pytest.fixture(params=BACKENDS)
def team_env(request, tmp_path, studio_env) -> dict[str, str]:
    """What each studio process is started with (the README's "Deployment" list)."""
    env = {
        "STUDIO_DATA_DIR": str(tmp_path / "data"),  # local: the shared SQLite (WAL) and image folder
        "STUDIO_BASE_URL": studio_env.url,
        "STUDIO_API_KEY": "test-key-123",
        "STUDIO_AUTH": "bearer",
        "STUDIO_LEASE_SECONDS": str(LEASE_SECONDS),
        "STREAMLIT_SERVER_COOKIE_SECRET": uuid.uuid4().hex,  # the same on every process
    }
    if request.param == "team":
        from tests.servers import S3_ENV

        pg, s3 = request.getfixturevalue("pg_server"), request.getfixturevalue("s3")
        env.update(
            STUDIO_DATABASE_URL=pg.create_database(template=request.getfixturevalue("pg_template")),
            STUDIO_STORAGE_URL=f"s3://{s3.create_bucket()}/studio",
            STUDIO_S3_ENDPOINT_URL=s3.endpoint_url,
            **S3_ENV,
        )
    return env


@pytest.fixture
def team(tmp_path, team_env) -> Iterator[tuple[Proxy, list[StudioProcess]]]:
    with (
        studio_processes(2, team_env, tmp_path) as processes,
        nginx_proxy([p.address for p in processes]) as proxy,
    ):
        yield proxy, processes


@contextmanager
def chromium() -> Iterator:
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Visitor:
    """One browser context (its own cookies: one designer) pinned to a process by its route cookie."""

    def __init__(self, browser, proxy: Proxy, route: str) -> None:
        self.proxy = proxy
        self.context = browser.new_context(
            viewport={"width": WIDTH, "height": HEIGHT}, ignore_https_errors=True
        )
        self.context.add_cookies(
            [{"name": ROUTE_COOKIE, "value": route, "url": proxy.url, "secure": True, "httpOnly": True}]
        )
        self.page = self.context.new_page()
        self.sockets: list[str] = []  # the upstream of each websocket handshake, in order
        cdp = self.context.new_cdp_session(self.page)
        cdp.send("Network.enable")
        cdp.on("Network.webSocketHandshakeResponseReceived", self._handshake)

    def _handshake(self, event: dict) -> None:
        headers = {k.lower(): v for k, v in event["response"]["headers"].items()}
        self.sockets.append(headers.get(UPSTREAM_HEADER.lower(), "?"))

    def open(self, path: str) -> str:
        """Go to ``path`` through the proxy; returns the process (host:port) that served the page."""
        response = self.page.goto(self.proxy.url + path)
        assert response is not None and response.ok, response
        settle(self.page, timeout=60_000)
        return response.headers[UPSTREAM_HEADER.lower()].split(", ")[-1]  # the last one tried answered

    @property
    def main(self):
        return self.page.locator("[data-testid='stMain']")

    def generate(self, prompt: str) -> None:
        box = self.page.get_by_label("Prompt", exact=True)
        box.fill(prompt)
        box.press("Tab")  # blur commits the text area before the click
        settle(self.page)
        self.page.locator(".st-key-gen_submit").get_by_role("button", name="Generate").click()

    def history_entry(self, word: str):
        """The History tile (an image) or chip (no image: queued, running, interrupted...) naming ``word``."""
        return self.main.locator(".tile, .chip").filter(has_text=word)


def _wait(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def _rows(team_env: dict[str, str], word: str):
    store = Store.for_settings(load_settings(team_env))
    try:
        return [r for r in store.gallery.page(limit=50) if word in r.prompt]
    finally:
        store.close()


def _where_it_lives(team_env: dict[str, str], word: str) -> None:
    """The team flavour really shares PostgreSQL and the bucket: the row is in the PostgreSQL database, each of
    its images is an object in the bucket with the row's hash, and the processes' data directory holds no SQLite
    history and no image outside its read cache."""
    if "STUDIO_DATABASE_URL" not in team_env:
        return
    import boto3
    from sqlalchemy import create_engine, text

    from studio.imaging.images import sha256_hex

    engine = create_engine(team_env["STUDIO_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            assert conn.dialect.name == "postgresql"
            found = conn.execute(
                text(
                    "SELECT a.sha256, a.path FROM generation g JOIN generation_asset l ON l.generation_id = g.id "
                    "JOIN asset a ON a.id = l.asset_id WHERE g.prompt LIKE :w AND l.role = 'output'"
                ),
                {"w": f"%{word}%"},
            ).all()
    finally:
        engine.dispose()
    assert found, "no output image row in the PostgreSQL database"
    bucket, prefix = team_env["STUDIO_STORAGE_URL"].removeprefix("s3://").split("/", 1)
    client = boto3.client(
        "s3",
        endpoint_url=team_env["STUDIO_S3_ENDPOINT_URL"],
        aws_access_key_id=team_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=team_env["AWS_SECRET_ACCESS_KEY"],
        region_name=team_env["AWS_REGION"],
    )
    for sha, path in found:
        body = client.get_object(Bucket=bucket, Key=f"{prefix}/{path}")["Body"].read()
        assert sha256_hex(body) == sha, f"{path} in the bucket has the wrong hash"
    data_dir = Path(team_env["STUDIO_DATA_DIR"])
    assert not list(data_dir.rglob("studio.db*")), "a process kept a SQLite history"
    kept = [p for top in ("images", "thumbs", "turns") for p in (data_dir / top).rglob("*") if p.is_file()]
    assert kept == [], "a process kept its files in the data directory, not only in its cache"


def _route_cookies(response: httpx.Response) -> list[str]:
    return [c for c in response.headers.get_list("set-cookie") if c.startswith(f"{ROUTE_COOKIE}=")]


@pytest.mark.parametrize("team_env", ["local"], indirect=True)  # nginx's part: the same on either backend
def test_the_example_config_redirects_sets_one_route_cookie_and_keeps_a_browser_on_its_process(team):
    proxy, processes = team
    addresses = {p.address for p in processes}
    assert httpx.get(proxy.http_url + "/history?x=1", headers={"Host": "studio.example.com"}).headers[
        "location"
    ] == ("https://studio.example.com/history?x=1")
    seen = set()
    for _ in range(24):  # fresh browsers: each gets its own route; together they reach both processes
        with proxy.client() as client:
            first = client.get("/_stcore/health")
            assert first.text == "ok"
            (cookie,) = _route_cookies(first)
            assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie
            upstream = first.headers[UPSTREAM_HEADER]
            for _ in range(3):  # the same browser again: same process, no new cookie
                again = client.get("/_stcore/health")
                assert again.headers[UPSTREAM_HEADER] == upstream
                assert _route_cookies(again) == []
            seen.add(upstream)
    assert seen == addresses
    with proxy.client() as client:  # a reference the studio accepts (20 MB) is not refused by nginx
        response = client.post("/_stcore/upload_file/x/y", content=b"\0" * (20 * 1024 * 1024))
        assert response.status_code != 413, response.text
        response = client.post("/_stcore/upload_file/x/y", content=b"\0" * (22 * 1024 * 1024))
        assert response.status_code == 413


def test_a_generation_on_process_a_shows_in_history_on_process_b(team, team_env, emulator):
    proxy, (a, b) = team
    word = f"kettle{uuid.uuid4().hex[:8]}"
    with chromium() as browser:
        one = Visitor(browser, proxy, proxy.route_to(a.address))
        two = Visitor(browser, proxy, proxy.route_to(b.address))
        assert one.open("/") == a.address
        assert two.open("/history") == b.address
        _wait(lambda: one.sockets and two.sockets, 30, "no websocket handshake went through nginx")
        assert (one.sockets, two.sockets) == ([a.address], [b.address])  # websockets proxied, each to its own

        one.generate(f"a copper {word} on a stove")
        image = one.main.locator("[data-testid='stImage'] img").first
        expect(image).to_be_visible(timeout=60_000)
        (row,) = _rows(team_env, word)
        assert row.status == "succeeded" and str(a.proc.pid) in row.owner.split(":")  # process A made it
        _where_it_lives(team_env, word)

        # Several reruns in the same session: the page stays interactive, on one websocket to A (a socket to B
        # would be a new, empty session), and the session's feed still holds the image.
        for n in range(4):
            box = one.page.get_by_label("Prompt", exact=True)
            box.fill(f"rerun {n} {word}")
            box.press("Tab")
            settle(one.page)
        expect(image).to_be_visible()
        assert one.sockets == [a.address]
        if TAKE_SHOTS:
            SHOTS.mkdir(parents=True, exist_ok=True)
            one.page.screenshot(path=str(SHOTS / "proxy-generate.png"))

        assert two.open("/history") == b.address  # History on B: A's image, from the shared history
        expect(two.history_entry(word).and_(two.main.locator(".tile"))).to_be_visible(timeout=30_000)
        expect(two.main.locator(f".tile[data-id='{row.id}'] img")).to_have_js_property(
            "complete", True, timeout=15_000
        )  # its thumbnail came from B's /thumbs through nginx
        assert two.sockets[-1] == b.address


def test_killing_process_a_mid_generation_leaves_nothing_pending_on_process_b(team, team_env, emulator):
    proxy, (a, b) = team
    word = f"lantern{uuid.uuid4().hex[:8]}"
    with chromium() as browser:
        one = Visitor(browser, proxy, proxy.route_to(a.address))
        two = Visitor(browser, proxy, proxy.route_to(b.address))
        assert two.open("/history") == b.address  # B's studio is open before A's call starts
        assert one.open("/") == a.address
        one.generate(f"a paper {word} at dusk [[latency:60]]")
        _wait(
            lambda: any(word in str(r.get("body")) for r in list(emulator.requests)),
            60,
            "the call never reached the emulator",
        )
        (row,) = _rows(team_env, word)
        assert row.status in ("pending", "running")
        a.kill()  # SIGKILL with the call in flight: no drain, no saving
        killed = time.monotonic()

        settled = two.main.locator(".tile, .chip.interrupted").filter(has_text=word)
        while True:  # History is read on each run: look again, as a designer would reload
            assert two.open("/history") == b.address
            expect(two.history_entry(word)).to_be_visible(timeout=15_000)
            if settled.count():
                break
            assert time.monotonic() - killed < ADOPTION_WITHIN, (
                f"{ADOPTION_WITHIN:.0f} s after process A was killed, process B's History still shows the "
                f"generation as {two.history_entry(word).first.inner_text()!r} (nothing adopted it)"
            )
            time.sleep(1)
        (row,) = _rows(team_env, word)
        assert row.status in ("succeeded", "interrupted"), row.status
        assert row.status != "succeeded" or row.images
        if row.status == "succeeded":
            _where_it_lives(team_env, word)
        else:
            assert "STUDIO_DATABASE_URL" not in team_env or not list(
                Path(team_env["STUDIO_DATA_DIR"]).rglob("studio.db*")
            )

        # The browser that was on A is sent to B by nginx (A no longer answers) and gets a working page.
        assert one.open("/") == b.address
        expect(one.page.get_by_label("Prompt", exact=True)).to_be_visible(timeout=30_000)


# -- the example's header and failover, with nginx in front of two small HTTP servers ---------------------------


class _Process(http.server.BaseHTTPRequestHandler):
    """Stands in for a studio process at the HTTP level: ``ok``, or a 503 while it says it is not ready."""

    def do_GET(self) -> None:
        unavailable = self.server.unavailable > 0  # type: ignore[attr-defined]
        if unavailable:
            self.server.unavailable -= 1  # type: ignore[attr-defined]
        body = b"unavailable" if unavailable else b"ok"
        self.send_response(503 if unavailable else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _processes(count: int) -> Iterator[list[http.server.ThreadingHTTPServer]]:
    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Process) for _ in range(count)]
    for server in servers:
        server.unavailable = 0  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield servers
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def test_the_example_shows_no_internal_address_unless_turned_on():
    example = EXAMPLE.read_text()
    active = [line for line in example.splitlines() if not line.lstrip().startswith("#")]
    assert not any(UPSTREAM_HEADER in line for line in active)  # off in the example
    with _processes(2) as servers, nginx_proxy([f"127.0.0.1:{s.server_port}" for s in servers]) as proxy:
        with proxy.client() as client:  # the test's rendering turns it on, to prove which process served
            assert client.get("/_stcore/health").headers[UPSTREAM_HEADER].startswith("127.0.0.1:")


def test_one_503_does_not_move_a_process_s_browsers():
    """Streamlit answers 503 while it starts or stops: that browser sees it (its client retries), and the
    process keeps its browsers; nginx neither retries the 503 elsewhere nor counts it as a failure."""
    with _processes(2) as servers, nginx_proxy([f"127.0.0.1:{s.server_port}" for s in servers]) as proxy:
        a = f"127.0.0.1:{servers[0].server_port}"
        route = proxy.route_to(a)
        servers[0].unavailable = 1  # type: ignore[attr-defined]
        with proxy.client(cookies={ROUTE_COOKIE: route}) as client:
            blip = client.get("/_stcore/health")
            assert (blip.status_code, blip.headers[UPSTREAM_HEADER]) == (503, a)
            for _ in range(5):
                again = client.get("/_stcore/health")
                assert (again.status_code, again.headers[UPSTREAM_HEADER]) == (200, a)
