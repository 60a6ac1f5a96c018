"""SIGKILL at each step of saving with the images in a bucket (moto's S3 server): no row names a missing or
wrong-hash object, the next start — on another machine's data directory where the journal matters — resolves
every pending row (adopted from the bucket's journal, else interrupted), and ``studio doctor --repair`` leaves
nothing unaccounted for in the bucket (a complete but unclaimed image goes to the bucket's quarantine)."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from studio.domain.crashpoints import POINTS
from studio.domain.settings import load_settings
from studio.imaging.images import sha256_hex
from studio.services import doctor
from studio.services.studio import Studio
from studio.storage import journal
from tests.servers import S3_ENV
from tests.service.test_crash import CHILD, EXPECTED, _prompt, _requests_for


class Bucket:
    def __init__(self, s3, bucket: str) -> None:
        self.client, self.bucket = s3.client(), bucket

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"p/{prefix}"
        )
        return sorted(o["Key"].removeprefix("p/") for page in pages for o in page.get("Contents", []))

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=f"p/{key}")["Body"].read()


def _rows_point_at_complete_objects(data_dir: Path, bucket: Bucket) -> None:
    conn = sqlite3.connect(data_dir / "studio.db", timeout=10)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        links = conn.execute(
            "SELECT a.sha256, a.path FROM generation_asset l JOIN asset a ON a.id = l.asset_id"
        ).fetchall()
        turns = conn.execute("SELECT model_content_sha FROM generation WHERE model_content_sha IS NOT NULL")
        links += [(sha, f"turns/{sha}.json") for (sha,) in turns]
    finally:
        conn.close()
    present = set(bucket.keys())
    for sha, key in links:
        assert key in present, f"a row names the missing object {key}"
        assert sha256_hex(bucket.read(key)) == sha, f"{key} has the wrong hash"


@pytest.mark.parametrize("point", POINTS)
def test_kill_at_each_step_of_saving_to_a_bucket(studio_env, s3, monkeypatch, point):
    emulator = studio_env
    bucket_name = s3.create_bucket()
    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("STUDIO_STORAGE_URL", f"s3://{bucket_name}/p")
    monkeypatch.setenv("STUDIO_S3_ENDPOINT_URL", s3.endpoint_url)
    bucket = Bucket(s3, bucket_name)
    prompt = _prompt(point)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, prompt],
        env=dict(os.environ, STUDIO_CRASH_AT=point),
        capture_output=True,
        text=True,
        timeout=90,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    data_dir = load_settings().data_dir.resolve()
    _rows_point_at_complete_objects(data_dir, bucket)
    assert _requests_for(emulator, prompt) == (0 if point == "before_call" else 1)
    if point == "after_journal":
        assert [k for k in bucket.keys("journal/")]  # the journal reached the bucket before the commit
        shutil.rmtree(data_dir / "journal")  # the next start is on a machine that never had it locally
    shutil.rmtree(data_dir / "cache", ignore_errors=True)

    studio = Studio(load_settings())
    try:
        [record] = studio.history(search=prompt.split()[-1])
        assert record.status == EXPECTED[point], record
        if record.status == "succeeded":
            assert record.images[0].read() and studio._store.generations.model_content(record.id)
            assert record.to_json()["images"][0]["path"].startswith(f"s3://{bucket_name}/p/images/")
        if point == "after_journal":
            assert studio.adopted_on_start == [record.id]
    finally:
        studio.close()

    report = doctor.check(data_dir, repair=True)
    assert report.ok, report.to_json()
    again = doctor.check(data_dir)
    assert again.ok and not again.problems, again.to_json()
    assert not journal.listing(data_dir) and not bucket.keys("journal/")
    _rows_point_at_complete_objects(data_dir, bucket)
    if point == "after_files":  # the paid image survives, in the bucket's quarantine
        assert [k for k in bucket.keys("quarantine/") if "/images/" in k]
