"""`studio doctor --json` on a team's history: PostgreSQL (a real server) and a bucket (moto's S3 server).

The SQLite + folder twin is tests/service/test_doctor.py (the CLI) and tests/service/test_s3_store.py covers a
bucket under a SQLite history through the in-process API; here the real CLI runs with STUDIO_DATABASE_URL and
STUDIO_STORAGE_URL and finds a missing object, a wrong-hash object, a lost thumbnail, an unclaimed object and a
dead process's row; ``--repair`` remakes the thumbnail, moves the unclaimed and the damaged object to the
bucket's quarantine (never deletes; the damaged one stays a problem, as on SQLite) and interrupts the row,
and copies nothing (the team's backups are pg_dump's).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from studio.domain.settings import load_settings
from studio.imaging import images
from studio.storage import Store, files
from tests.factories import make_image, solid_image
from tests.servers import S3_ENV
from tests.service.test_s3_store import _save

PREFIX = "team"


@pytest.fixture
def team(tmp_path, monkeypatch, pg_server, pg_template, s3):
    url = pg_server.create_database(template=pg_template)
    bucket = s3.create_bucket()
    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("STUDIO_DATABASE_URL", url)
    monkeypatch.setenv("STUDIO_STORAGE_URL", f"s3://{bucket}/{PREFIX}")
    monkeypatch.setenv("STUDIO_S3_ENDPOINT_URL", s3.endpoint_url)
    yield s3.client(), bucket
    pg_server.drop_database(url.rsplit("/", 1)[1])


def _doctor(*args: str) -> tuple[int, dict]:
    done = subprocess.run(
        [sys.executable, "-m", "studio", "doctor", "--json", *args],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout)


def test_doctor_cli_on_postgresql_and_a_bucket_reports_and_repairs(team, tmp_path):
    client, bucket = team

    def keys(under: str = "") -> set[str]:
        listed = client.list_objects_v2(Bucket=bucket, Prefix=f"{PREFIX}/{under}").get("Contents", [])
        return {o["Key"].removeprefix(f"{PREFIX}/") for o in listed}

    def read(key: str) -> bytes:
        return client.get_object(Bucket=bucket, Key=f"{PREFIX}/{key}")["Body"].read()

    def put(key: str, data: bytes) -> None:
        client.put_object(Bucket=bucket, Key=f"{PREFIX}/{key}", Body=data)

    lost, tampered, thumbless = make_image(64, 48), solid_image((10, 200, 30)), solid_image((200, 10, 30))
    stray = solid_image((250, 250, 0))
    store = Store.for_settings(load_settings())
    try:
        gens = {
            name: _save(store, data, prompt=f"a {name} teapot")
            for name, data in (("lost", lost), ("tampered", tampered), ("thumbless", thumbless))
        }
        dead = store.generations.create_pending(prompt="a dead teapot", model="m", settings={}, owner="gone")
    finally:
        store.close()
    rel = {
        name: files.image_relpath(images.sha256_hex(data), "image/png")
        for name, data in (("lost", lost), ("tampered", tampered), ("stray", stray))
    }
    client.delete_object(Bucket=bucket, Key=f"{PREFIX}/{rel['lost']}")
    put(rel["tampered"], b"\x89PNG not the bytes that were paid for")
    thumb = files.thumb_relpath(images.sha256_hex(thumbless))
    client.delete_object(Bucket=bucket, Key=f"{PREFIX}/{thumb}")
    put(rel["stray"], stray)
    before = {k: read(k) for k in keys()}

    code, report = _doctor()
    assert code == 1 and not report["ok"] and report["integrity"] == "ok" and report["backup"] is None
    found = sorted((p["kind"], p.get("path") or p.get("id")) for p in report["problems"])
    assert found == sorted(
        [
            ("missing_file", rel["lost"]),
            ("wrong_hash", rel["tampered"]),
            ("missing_thumbnail", thumb),
            ("orphan_file", rel["stray"]),
            ("orphan_row", dead),
        ]
    ), report
    assert all(p["detail"].endswith(".") and p["action"] for p in report["problems"])
    assert {k: read(k) for k in keys()} == before  # a report changes nothing

    code, report = _doctor("--repair")
    assert code == 1 and report["backup"] is None and "pg_dump" in report.get("advice", "")
    fixed = sorted(p["kind"] for p in report["problems"] if p.get("fixed"))
    assert fixed == ["missing_thumbnail", "orphan_file", "orphan_row"], report
    left = sorted(p["kind"] for p in report["problems"] if not p.get("fixed"))
    assert left == ["missing_file", "wrong_hash"], report  # no repair can bring back the paid bytes
    with Image.open(io.BytesIO(read(thumb))) as remade:  # the thumbnail is back, a real JPEG
        assert remade.format == "JPEG" and max(remade.size) > 0
    quarantined = {k.split("/", 2)[2]: read(k) for k in keys("quarantine/")}
    assert quarantined[rel["stray"]] == stray  # moved, never deleted
    (damaged,) = [p for p in report["problems"] if p["kind"] == "wrong_hash"]
    assert damaged["action"].startswith(f"moved to s3://{bucket}/{PREFIX}/quarantine/")
    assert quarantined[rel["tampered"]].startswith(b"\x89PNG not the bytes")
    assert rel["stray"] not in keys() and rel["tampered"] not in keys()

    store = Store.for_settings(load_settings())
    try:
        assert store.generations.get(dead).status == "interrupted"
        assert store.gallery.count() == 4  # no row deleted
        assert store.generations.get(gens["thumbless"]).images[0].read() == thumbless
    finally:
        store.close()
    assert not list(Path(tmp_path).rglob("studio.db")), "the doctor opened a SQLite history"

    code, report = _doctor()  # what remains: the originals the rows still need and the bucket lacks
    assert code == 1
    assert sorted((p["kind"], p["path"]) for p in report["problems"]) == sorted(
        [("missing_file", rel["lost"]), ("missing_file", rel["tampered"])]
    )
