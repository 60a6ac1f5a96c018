"""The real studio in Debian's Chromium: generate in demo mode, then find the result in History.

Screenshots go to tests/ui/screenshots/ only when STUDIO_SCREENSHOTS is set (the README uses them).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import studio as studio_pkg
from studio.cli import STREAMLIT_FLAGS

try:
    from tests.conftest import chromium_or_skip
except ImportError:  # tests/ is not a package: pytest put it on sys.path as a rootdir
    from conftest import chromium_or_skip

pytestmark = pytest.mark.browser

APP = Path(studio_pkg.__file__).parent / "app.py"
SHOTS = Path(__file__).parent / "screenshots"
# read at import: the autouse isolated_env fixture removes every STUDIO_* variable before each test
TAKE_SHOTS = bool(os.environ.get("STUDIO_SCREENSHOTS"))
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early:\n{proc.stdout.read() if proc.stdout else ''}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"streamlit did not listen on {port} within {timeout} s")


@pytest.fixture
def studio_url(tmp_path) -> Iterator[str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update(STUDIO_DEMO="1", STUDIO_DATA_DIR=str(tmp_path / "data"))
    # the flags `studio run` passes (theme, no file watcher, no telemetry), on a free loopback port
    flags = {**STREAMLIT_FLAGS, "server.address": "127.0.0.1", "server.port": str(port)}
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP), *(f"--{k}={v}" for k, v in flags.items())]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        _wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def page(studio_url):
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1440, "height": 1200})
            tab.goto(studio_url)
            yield tab
        finally:
            browser.close()


def _shot(page, name: str) -> None:
    if TAKE_SHOTS:
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_generate_then_find_it_in_history(page):
    main = page.locator("[data-testid='stMain']")
    prompt = page.get_by_label("Prompt", exact=True)
    prompt.wait_for(timeout=30_000)
    assert page.get_by_text("DEMO — images are rendered locally by the emulator").first.is_visible()
    prompt.fill("A paper crane on a desk, morning light")
    prompt.press("Tab")  # blur commits the text area before the button is pressed (Ctrl+Enter would generate)
    page.get_by_role("button", name="Generate").click()
    main.locator("[data-testid='stImage'] img").first.wait_for(timeout=30_000)
    _shot(page, "generate")

    page.locator("[data-testid='stSidebarNav']").get_by_text("History").click()
    main.get_by_text("A paper crane on a desk, morning light").first.wait_for(timeout=15_000)
    main.locator("[data-testid='stImage'] img").first.wait_for(timeout=15_000)  # the stored thumbnail
    _shot(page, "history")

    main.locator("[class*='st-key-hist_open_'] button").first.click()
    main.get_by_text("Generation #1").wait_for(timeout=15_000)
    main.locator("[data-testid='stCode']").get_by_text("A paper crane on a desk, morning light").wait_for(timeout=15_000)
    main.locator("[data-testid='stDataFrame']").first.wait_for(timeout=15_000)
    _shot(page, "detail")
