"""Memory: peak extra memory per 4K generation, and RSS flatness over a soak.

Every measurement runs in a fresh child process (``python -m bench.memory CHILD ...``) against an
emulator in *another* process, so neither the emulator's rendering nor earlier benchmarks count.
  * per-generation, twice: with the emulator's light 4K JPEG (~0.5 MB) and with the heavy 4K PNG of
    ``payload.py`` (19 MB, 26 MB of base64) from a fixed-body server. After a warm-up, one 4K generation; "RSS" is peak RSS (VmHWM, reset just before) minus the RSS
    before it, "tracemalloc" is the peak of Python allocations during a second 4K generation
    (Pillow's pixel buffers are not seen by tracemalloc; RSS sees everything). Peer: the google-genai
    SDK making the same call in its own fresh process.
  * soak: a Studio on a seeded 2,000-row history makes 50 generations (quick: 5), then 500 gallery page
    loads (``store.page`` + reading every thumbnail; quick: 50). Growth = RSS at the end minus RSS
    after the first tenth (warm caches). Peer: the process's RSS at that warm point.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path

from bench import payload
from bench.common import ROOT, Row, child_env, emulator_process, peak_rss_mb, python, reset_peak_rss, rss_mb

GOAL_PER_GEN_MB = 100.0
GOAL_GROWTH_MB = 50.0
KEY = "bench-key"
MODEL = "gemini-3-pro-image"


def _req(size: str, seed: int):
    from studio.domain.requests import GenerationRequest

    return GenerationRequest(
        prompt=f"a dense forest canopy from above, photograph, memory {seed}",
        model=MODEL,
        aspect_ratio="1:1",
        image_size=size,
        seed=seed,
    )


def _studio(url: str, data_dir: str):
    from studio.domain.settings import Secret, Settings
    from studio.services.studio import Studio

    return Studio(Settings(data_dir=Path(data_dir), base_url=url, api_key=Secret(KEY), max_retries=0))


def _measure_one(call) -> dict[str, float]:
    """Peak RSS over the first call, tracemalloc peak over the second (tracing slows it down)."""
    gc.collect()
    base = rss_mb()
    reset_peak_rss()
    call(2)
    rss_peak = peak_rss_mb() - base
    gc.collect()
    tracemalloc.start()
    call(3)
    traced = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return {"rss_mb": rss_peak, "tracemalloc_mb": traced, "base_rss_mb": base}


def child_studio(url: str, data_dir: str) -> dict[str, float]:
    studio = _studio(url, data_dir)

    def call(seed: int, size: str = "4K") -> None:
        record = studio.generate(_req(size, seed), timeout=120)[0]
        if record.status != "succeeded":
            raise RuntimeError(record.error_message)

    call(1, "1K")
    return _measure_one(call)


def child_sdk(url: str, _data_dir: str) -> dict[str, float]:
    from google import genai
    from google.genai import types

    client = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=url, api_version="v1beta"))

    def call(seed: int, size: str = "4K") -> None:
        req = _req(size, seed)
        config = types.GenerateContentConfig(
            response_modalities=["IMAGE"],
            seed=seed,
            image_config=types.ImageConfig(aspect_ratio=req.aspect_ratio, image_size=req.image_size),
        )
        resp = client.models.generate_content(model=MODEL, contents=[req.prompt], config=config)
        data = next(p.inline_data.data for p in resp.candidates[0].content.parts if p.inline_data)
        assert len(data) > 1000

    call(1, "1K")
    return _measure_one(call)


def child_soak(url: str, data_dir: str, generations: str, pages: str) -> dict[str, float]:
    studio = _studio(url, data_dir)
    gens, loads = int(generations), int(pages)
    warm_at = max(1, gens // 10)
    out: dict[str, float] = {}
    for i in range(gens):
        if i == warm_at:
            gc.collect()
            out["gen_warm_rss_mb"] = rss_mb()
        record = studio.generate(_req("4K", 100 + i), timeout=120)[0]
        if record.status != "succeeded":
            raise RuntimeError(record.error_message)
    gc.collect()
    out["gen_end_rss_mb"] = rss_mb()
    store, before, warm_at = studio._store, None, max(1, loads // 10)
    for i in range(loads):
        if i == warm_at:
            gc.collect()
            out["page_warm_rss_mb"] = rss_mb()
        page = store.gallery.page(limit=48, before_id=before)
        for record in page:
            for image in record.images:
                if image.thumb_path is not None:
                    image.thumb_path.read_bytes()
        before = page[-1].id if len(page) == 48 else None  # wrap around at the oldest page
    gc.collect()
    out["page_end_rss_mb"] = rss_mb()
    out["peak_rss_mb"] = peak_rss_mb()
    studio.close()
    return out


CHILDREN = {"studio": child_studio, "sdk": child_sdk, "soak": child_soak}


def _child(name: str, *args: str) -> dict[str, float]:
    proc = subprocess.run(
        [python(), "-m", "bench.memory", name, *args],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"memory child {name} failed: {proc.stderr.strip()[-800:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _heavy(data_dir: Path, make, side: int, mime: str) -> tuple[dict, dict]:
    """Studio and the SDK, each in a fresh child, fetching a detailed 4K image from a fixed-body server."""
    with payload.fixed_server(*(payload.envelope(make(i, side), mime) for i in range(3))) as server:
        ours = _child("studio", server.url, str(data_dir))
        server.hits = 0
        return ours, _child("sdk", server.url, "")


def run(quick: bool = False) -> list[Row]:
    from bench import seed as seeding

    gens, pages = (5, 50) if quick else (50, 500)
    side = 1024 if quick else payload.SIDE
    with emulator_process(0.0) as emu, tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        ours = _child("studio", emu.url, str(Path(tmp) / "one"))
        sdk = _child("sdk", emu.url, "")
        heavy_jpeg, heavy_jpeg_sdk = _heavy(Path(tmp) / "heavy-jpeg", payload.heavy_jpeg, side, "image/jpeg")
        heavy, heavy_sdk = _heavy(Path(tmp) / "heavy", payload.heavy_png, side, "image/png")
        soak_dir = Path(tmp) / "soak"
        seeding.seed(soak_dir, 2000)
        soak = _child("soak", emu.url, str(soak_dir), str(gens), str(pages))
    worst = max(ours["rss_mb"], ours["tracemalloc_mb"])
    jpeg_worst = max(heavy_jpeg["rss_mb"], heavy_jpeg["tracemalloc_mb"])
    gen_growth = soak["gen_end_rss_mb"] - soak["gen_warm_rss_mb"]
    page_growth = soak["page_end_rss_mb"] - soak["page_warm_rss_mb"]
    return [
        Row(
            "memory.4k_generation.rss_peak",
            ours["rss_mb"],
            "MB",
            "google-genai SDK (RSS peak)",
            sdk["rss_mb"],
            f"≤ {GOAL_PER_GEN_MB:.0f} MB",
            worst <= GOAL_PER_GEN_MB,
            extra={"base_rss_mb": ours["base_rss_mb"]},
        ),
        Row(
            "memory.4k_generation.tracemalloc_peak",
            ours["tracemalloc_mb"],
            "MB",
            "google-genai SDK (tracemalloc)",
            sdk["tracemalloc_mb"],
            f"≤ {GOAL_PER_GEN_MB:.0f} MB",
            ours["tracemalloc_mb"] <= GOAL_PER_GEN_MB,
        ),
        Row(
            "memory.4k_heavy_jpeg.rss_peak",
            heavy_jpeg["rss_mb"],
            "MB",
            "google-genai SDK (RSS peak)",
            heavy_jpeg_sdk["rss_mb"],
            f"≤ {GOAL_PER_GEN_MB:.0f} MB",
            jpeg_worst <= GOAL_PER_GEN_MB,
            note=f"payload.py: detailed {side}² JPEG q90, what Gemini 3 models send at 4K",
            extra={"base_rss_mb": heavy_jpeg["base_rss_mb"]},
        ),
        Row(
            "memory.4k_heavy_jpeg.tracemalloc_peak",
            heavy_jpeg["tracemalloc_mb"],
            "MB",
            "google-genai SDK (tracemalloc)",
            heavy_jpeg_sdk["tracemalloc_mb"],
            f"≤ {GOAL_PER_GEN_MB:.0f} MB",
            heavy_jpeg["tracemalloc_mb"] <= GOAL_PER_GEN_MB,
        ),
        Row(
            "memory.4k_heavy_png.rss_peak",
            heavy["rss_mb"],
            "MB",
            "google-genai SDK (RSS peak)",
            heavy_sdk["rss_mb"],
            "",
            None,
            note=f"payload.py: {side}² PNG, ~1.2 B/px; worst case, informational "
            "(no current model sends PNG at 4K)",
            extra={"base_rss_mb": heavy["base_rss_mb"]},
        ),
        Row(
            "memory.4k_heavy_png.tracemalloc_peak",
            heavy["tracemalloc_mb"],
            "MB",
            "google-genai SDK (tracemalloc)",
            heavy_sdk["tracemalloc_mb"],
            "",
            None,
        ),
        Row(
            f"memory.soak.{gens}_generations_growth",
            gen_growth,
            "MB",
            "RSS when warm",
            soak["gen_warm_rss_mb"],
            f"≤ {GOAL_GROWTH_MB:.0f} MB",
            gen_growth <= GOAL_GROWTH_MB,
            extra={"end_rss_mb": soak["gen_end_rss_mb"]},
        ),
        Row(
            f"memory.soak.{pages}_page_loads_growth",
            page_growth,
            "MB",
            "RSS when warm",
            soak["page_warm_rss_mb"],
            f"≤ {GOAL_GROWTH_MB:.0f} MB",
            page_growth <= GOAL_GROWTH_MB,
            extra={"end_rss_mb": soak["page_end_rss_mb"], "peak_rss_mb": soak["peak_rss_mb"]},
        ),
    ]


if __name__ == "__main__":
    print(json.dumps(CHILDREN[sys.argv[1]](*sys.argv[2:])))
