"""History in Chromium with the images in a bucket (moto's S3 server): the studio process starts with an empty
local cache (as on another machine), the grid's thumbnails come through the /thumbs route from the bucket, and
a generation's detail shows its original."""

from __future__ import annotations

import os
import subprocess
import sys

from playwright.sync_api import expect

from studio.cli.main import STREAMLIT_FLAGS
from studio.domain.requests import GenerationRequest
from studio.domain.settings import Settings
from studio.services.studio import Studio
from tests.browser.browser import ASGI, chromium_page, free_port, settle, wait_for_port
from tests.servers import S3_ENV


def test_history_shows_images_from_the_bucket(s3, tmp_path, monkeypatch):
    bucket = s3.create_bucket()
    url = f"s3://{bucket}/team"
    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    seeding = tmp_path / "machine-a"
    seeded = Studio(
        Settings(data_dir=seeding, demo=True, workers=3, storage_url=url, s3_endpoint_url=s3.endpoint_url)
    )
    try:
        prompts = ("a teapot on a table", "a red bicycle", "a lighthouse at dusk")
        ids = [
            i
            for p in prompts
            for i in seeded.submit(GenerationRequest(prompt=p, model="gemini-2.5-flash-image"))
        ]
        seeded.wait(ids, timeout=60)
    finally:
        seeded.close()
    keys = [o["Key"] for o in s3.client().list_objects_v2(Bucket=bucket)["Contents"]]
    assert len([k for k in keys if k.startswith("team/images/")]) == 3

    # machine B: the same history file, its own (empty) cache; the images are only in the bucket
    data_dir = tmp_path / "machine-b"
    data_dir.mkdir()
    os.link(seeding / "studio.db", data_dir / "studio.db")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update(S3_ENV)
    env.update(
        STUDIO_DEMO="1",
        STUDIO_DATA_DIR=str(data_dir),
        STUDIO_STORAGE_URL=url,
        STUDIO_S3_ENDPOINT_URL=s3.endpoint_url,
    )
    flags = {**STREAMLIT_FLAGS, "server.address": "127.0.0.1", "server.port": str(port)}
    cmd = [sys.executable, "-m", "streamlit", "run", str(ASGI), *(f"--{k}={v}" for k, v in flags.items())]
    log = tmp_path / "streamlit.log"
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, proc, log, timeout=60)
        with chromium_page(f"http://127.0.0.1:{port}/history", height=900) as page:
            settle(page, 90_000)
            main = page.locator("section.main, [data-testid='stMain']").first
            tiles = main.locator(".tile img")
            expect(tiles).to_have_count(3, timeout=60_000)
            for n in range(3):  # every thumbnail really decoded (a broken image has naturalWidth 0)
                expect(tiles.nth(n)).to_have_js_property("complete", True, timeout=30_000)
                assert tiles.nth(n).evaluate("img => img.naturalWidth") > 0
            cached = list((data_dir / "cache").rglob("thumbs/*/*.jpg"))
            assert len(cached) == 3  # fetched once into machine B's bounded cache
            assert not list((data_dir / "images").rglob("*.png"))  # originals stay in the bucket
            tiles.first.click()
            settle(page, 60_000)
            expect(main.get_by_text("Generation #")).to_be_visible(timeout=60_000)
            shown = main.locator("[data-testid='stImage'] img").first
            expect(shown).to_be_visible(timeout=60_000)
            assert shown.evaluate("img => img.naturalWidth") > 0
            assert main.get_by_text("missing").count() == 0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
