"""History in a cold browser: time to the first thumbnails painted, next to a bare Streamlit page showing one
``st.image``, at 300 and 100,000 seeded generations; and detail ↔ grid in a warm tab.

The studio runs as ``studio run`` serves it (``streamlit run studio/app/asgi.py``: the pages plus the
``/thumbs`` route), in demo mode on a seeded data dir (``bench.seed``; 100,000 rows come from the cache
``bench.gallery`` keeps). The peer is ``streamlit run`` of a two-line script that shows one of the same
thumbnails with ``st.image``, started with the same flags, measured in the same run, samples interleaved.

"Cold" is a new Chromium process with a fresh profile per sample: from ``goto`` to the first six grid
thumbnails (or the bare page's one image) ``complete`` with ``naturalWidth > 0``, plus two animation frames
(painted). Both servers have served one page before (their script is compiled, the studio's caches warm).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

from bench import gallery as gallery_bench
from bench import seed as seeding
from bench.browser import _wait_http
from bench.common import ROOT, Row, Timing, child_env, free_port, python, skipped, stop

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
FIRST = 6  # "first thumbnails": the first row or two of the grid, above the fold at 1440×900
_TWO_FRAMES = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
_BARE = """import os
import streamlit as st
st.image(os.environ["BENCH_THUMB"])
"""
GOAL_RATIO, GOAL_SWITCH = 1.5, 0.5


def _flags(port: int) -> list[str]:
    from studio.cli.cmd_run import STREAMLIT_FLAGS

    flags = {**STREAMLIT_FLAGS, "server.port": str(port), "server.address": "127.0.0.1"}
    return [f"--{k}={v}" for k, v in flags.items()]


def _serve(script: Path, port: int, env: dict[str, str]) -> subprocess.Popen:
    cmd = [python(), "-m", "streamlit", "run", str(script), *_flags(port)]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


_PAINTED_DEEP = """(n) => { const out = [];
      const walk = (root) => { root.querySelectorAll('.tile img, [data-testid="stImage"] img, [data-testid="stFullScreenFrame"] img').forEach(i => out.push(i));
        root.querySelectorAll('*').forEach(e => e.shadowRoot && walk(e.shadowRoot)); };
      walk(document);
      const tiles = out.filter(i => i.closest('.tile'));
      const pick = tiles.length ? tiles : out;
      return pick.length >= 1 && pick.slice(0, n).every(i => i.complete && i.naturalWidth > 0); }"""


def _cold_paint(p, url: str, n_imgs: int) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as profile:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=LAUNCH_ARGS, viewport={"width": 1440, "height": 900}
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            started = time.perf_counter()
            page.goto(url, wait_until="commit")
            page.wait_for_function(_PAINTED_DEEP, arg=n_imgs, timeout=120_000, polling="raf")
            page.evaluate(_TWO_FRAMES)
            return time.perf_counter() - started
        finally:
            context.close()


def _switch_times(p, url: str, n: int) -> tuple[Timing, Timing]:
    """Warm tab: grid → detail (click a thumbnail until the large image is painted) and detail → grid (the
    Back button until the grid's thumbnails are painted again)."""
    browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
    to_detail, to_grid = [], []
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(url)
        page.wait_for_function(_PAINTED_DEEP, arg=FIRST, timeout=120_000)
        settle = "[data-testid='stApp'][data-test-script-state='notRunning']"
        for i in range(n + 1):
            page.locator(settle).wait_for(timeout=60_000)
            tile = page.locator(".tile").nth(i % 4)
            gen_id = tile.get_attribute("data-id")
            started = time.perf_counter()
            tile.locator("img").click()
            page.get_by_text(f"Generation #{gen_id}", exact=True).wait_for(timeout=60_000)
            page.wait_for_function(
                """() => { const i = document.querySelector('[data-testid="stMain"] [data-testid="stImage"] img');
                    return i && i.complete && i.naturalWidth > 0; }""",
                timeout=60_000,
                polling="raf",
            )
            page.evaluate(_TWO_FRAMES)
            opened = time.perf_counter() - started
            page.locator(settle).wait_for(timeout=60_000)
            started = time.perf_counter()
            page.locator(".st-key-hist_back button").first.click()
            page.locator(".tile").first.wait_for(timeout=60_000)
            page.wait_for_function(_PAINTED_DEEP, arg=FIRST, timeout=60_000, polling="raf")
            page.evaluate(_TWO_FRAMES)
            back = time.perf_counter() - started
            if i:  # the first round warms the detail's code paths
                to_detail.append(opened)
                to_grid.append(back)
    finally:
        browser.close()
    return Timing(tuple(to_detail)), Timing(tuple(to_grid))


def _data_dir(rows: int, tmp: Path, log) -> Path:
    if rows >= 10_000:
        return gallery_bench.seeded_dir(rows, log=log)  # cached: seeding 100,000 rows takes a while
    target = tmp / f"data-{rows}"
    target.mkdir()
    seeding.seed(target, rows)
    return target


def _one_thumb(data_dir: Path) -> Path:
    return next(iter(sorted((data_dir / "thumbs").rglob("*.jpg"))))


def run(
    quick: bool = False, sizes: tuple[int, ...] | None = None, n: int | None = None, log=None
) -> list[Row]:
    name = "history_paint"
    if not os.path.exists(CHROMIUM):
        return [skipped(name, f"{CHROMIUM} not installed")]
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return [skipped(name, "playwright is not installed")]
    sizes = sizes or ((300,) if quick else (300, 100_000))
    n = n or (2 if quick else 5)
    out: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp_name:
        tmp = Path(tmp_name)
        bare_script = tmp / "bare.py"
        bare_script.write_text(_BARE, encoding="utf-8")
        for rows in sizes:
            data_dir = _data_dir(rows, tmp, log)
            env = child_env() | {"STUDIO_DEMO": "1", "STUDIO_DATA_DIR": str(data_dir)}
            env.pop("STUDIO_API_KEY", None)
            studio_port, bare_port = free_port(), free_port()
            studio_proc = _serve(ROOT / "studio" / "app" / "asgi.py", studio_port, env)
            bare_proc = _serve(bare_script, bare_port, env | {"BENCH_THUMB": str(_one_thumb(data_dir))})
            try:
                studio_url, bare_url = f"http://127.0.0.1:{studio_port}", f"http://127.0.0.1:{bare_port}"
                _wait_http(studio_url, studio_proc, timeout=60)
                _wait_http(bare_url, bare_proc, timeout=60)
                with sync_playwright() as p:
                    _cold_paint(p, f"{studio_url}/history", FIRST)  # each server's first page: warm-up
                    _cold_paint(p, bare_url, 1)
                    ours, peer = [], []
                    for _ in range(n):  # interleaved, so drift on a shared machine hits both
                        ours.append(_cold_paint(p, f"{studio_url}/history", FIRST))
                        peer.append(_cold_paint(p, bare_url, 1))
                    mine, floor = Timing(tuple(ours)), Timing(tuple(peer))
                    out.append(
                        Row(
                            f"history_paint.first_thumbs.{rows}",
                            mine.p50,
                            "s",
                            "bare st.image page",
                            floor.p50,
                            f"≤ {GOAL_RATIO}× peer",
                            mine.p50 <= GOAL_RATIO * floor.p50,
                            note=f"cold Chromium, {rows:,} generations, first {FIRST} thumbnails painted",
                            extra=mine.extra() | {"peer": floor.extra()},
                        )
                    )
                    if rows == sizes[-1] or quick:
                        to_detail, to_grid = _switch_times(p, f"{studio_url}/history", max(2, n))
                        for label, timing in (("grid_to_detail", to_detail), ("detail_to_grid", to_grid)):
                            out.append(
                                Row(
                                    f"history_paint.{label}.{rows}",
                                    timing.p50,
                                    "s",
                                    "",
                                    None,
                                    f"≤ {GOAL_SWITCH} s",
                                    timing.p50 <= GOAL_SWITCH,
                                    note="warm tab: click → large image painted / Back → thumbnails painted",
                                    extra=timing.extra(),
                                )
                            )
            finally:
                stop(studio_proc)
                stop(bare_proc)
    return out
