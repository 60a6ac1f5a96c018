"""Parallel variants: 1, 4 and 8 variants through ``Studio.submit``/``wait`` with server latency.

The emulator sleeps ``latency`` seconds per request (3 s; quick 0.3 s), standing in for the model's
time. Variants run on the studio's worker pool, so 8 variants should take about as long as 1. Peer:
the google-genai SDK making the same number of calls from a thread pool of the same size.
"""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import Row, Timing, emulator_process

MODEL, SIZE = "gemini-3-pro-image", "1K"
COUNTS = (1, 4, 8)
GOAL_RATIO = 1.2
KEY = "bench-key"


def _studio_wall(studio, variants: int, run: int) -> float:
    from studio.domain.requests import GenerationRequest

    req = GenerationRequest(
        prompt=f"a paper boat on a pond, watercolour, variants {variants} run {run}",
        model=MODEL,
        aspect_ratio="1:1",
        image_size=SIZE,
        variants=variants,
        seed=50 * run,
    )
    started = time.perf_counter()
    records = studio.wait(studio.submit(req), timeout=120)
    wall = time.perf_counter() - started
    bad = [r.status for r in records if r.status != "succeeded"]
    if bad or len(records) != variants:
        raise RuntimeError(f"{variants} variants ended {bad or len(records)}")
    return wall


def _sdk_wall(client, types, variants: int, run: int) -> float:
    config = types.GenerateContentConfig(
        response_modalities=["IMAGE"], image_config=types.ImageConfig(aspect_ratio="1:1", image_size=SIZE)
    )

    def one(i: int) -> bytes:
        prompt = f"a paper boat on a pond, watercolour, sdk {variants} run {run} variant {i}"
        resp = client.models.generate_content(model=MODEL, contents=[prompt], config=config)
        return next(p.inline_data.data for p in resp.candidates[0].content.parts if p.inline_data)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=variants) as pool:
        list(pool.map(one, range(variants)))
    return time.perf_counter() - started


def run(quick: bool = False, latency: float | None = None, n: int | None = None) -> list[Row]:
    from google import genai
    from google.genai import types

    from studio.domain.settings import Secret, Settings
    from studio.services.studio import Studio

    latency = latency if latency is not None else (0.3 if quick else 3.0)
    n = n or (1 if quick else 3)
    studio_t: dict[int, Timing] = {}
    sdk_t: dict[int, Timing] = {}
    with emulator_process(latency) as emu, tempfile.TemporaryDirectory(prefix="bench-variants-") as tmp:
        studio = Studio(Settings(data_dir=Path(tmp), base_url=emu.url, api_key=Secret(KEY), max_retries=0))
        sdk = genai.Client(
            api_key=KEY, http_options=types.HttpOptions(base_url=emu.url, api_version="v1beta")
        )
        try:
            _studio_wall(studio, 1, -1)  # warm-up: imports, connection pool, schema
            for count in COUNTS:
                studio_t[count] = Timing(tuple(_studio_wall(studio, count, r) for r in range(n)))
                sdk_t[count] = Timing(tuple(_sdk_wall(sdk, types, count, r) for r in range(n)))
        finally:
            studio.close()
    one = studio_t[1].p50
    rows = [Row("variants.1", one, "s", "server latency", latency, "", None, extra=studio_t[1].extra())]
    for count in COUNTS[1:]:
        t = studio_t[count]
        goal = f"≤ {GOAL_RATIO} × 1 variant" if count == 8 else ""
        rows.append(
            Row(
                f"variants.{count}",
                t.p50,
                "s",
                "1 variant (studio)",
                one,
                goal,
                t.p50 <= GOAL_RATIO * one if count == 8 else None,
                extra=t.extra(),
            )
        )
    for count in COUNTS:
        rows.append(
            Row(
                f"variants.{count}.vs_sdk",
                studio_t[count].p50,
                "s",
                f"google-genai SDK, {count} threads",
                sdk_t[count].p50,
                "",
                None,
                extra=sdk_t[count].extra(),
            )
        )
    for row in rows:
        row.extra["latency_s"] = latency
    return rows
