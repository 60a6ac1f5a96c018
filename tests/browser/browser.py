"""Starting the real studio and Debian's Chromium for the browser tests (one place for all of them)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import studio as studio_pkg
from studio.cli.main import STREAMLIT_FLAGS
from studio.domain.requests import GenerationRequest
from studio.domain.settings import Settings
from studio.services.studio import Studio
from tests.conftest import chromium_or_skip

APP = Path(studio_pkg.__file__).parent / "app" / "main.py"
ASGI = Path(studio_pkg.__file__).parent / "app" / "asgi.py"  # what `studio run` serves: main.py + /thumbs
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early:\n{log.read_text(errors='replace')}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"streamlit did not listen on {port} within {timeout} s")


def seed_history(data_dir: Path, requests: list[GenerationRequest], *, workers: int = 4) -> list[int]:
    """Make a history with the real service against the demo emulator; returns the generation ids."""
    seeded = Studio(Settings(data_dir=data_dir, demo=True, workers=workers))
    try:
        ids = [i for request in requests for i in seeded.submit(request)]
        seeded.wait(ids, timeout=60)
        return ids
    finally:
        seeded.close()


@contextmanager
def studio_server(data_dir: Path, cwd: Path, app: Path = APP) -> Iterator[str]:
    """`streamlit run` with the flags `studio run` passes, in demo mode, on a free loopback port."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update(STUDIO_DEMO="1", STUDIO_DATA_DIR=str(data_dir))
    flags = {**STREAMLIT_FLAGS, "server.address": "127.0.0.1", "server.port": str(port)}
    cmd = [sys.executable, "-m", "streamlit", "run", str(app), *(f"--{k}={v}" for k, v in flags.items())]
    log = cwd / "streamlit.log"  # a file, not a pipe nobody reads: a full pipe would stall the server
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_port(port, proc, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def settle(page, timeout: float = 30_000) -> None:
    """Wait until Streamlit has finished its script run, as a person waits for the page before clicking on."""
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(timeout=timeout)


@contextmanager
def chromium_page(url: str, *, width: int = 1440, height: int = 1200, **page_options) -> Iterator:
    """A Chromium tab on ``url`` (skips, or fails under CI, when Chromium is missing)."""
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)
        try:
            tab = browser.new_page(viewport={"width": width, "height": height}, **page_options)
            tab.goto(url)
            yield tab
        finally:
            browser.close()
