"""`studio doctor`: reports every kind of damage, repairs conservatively, never deletes (goal R2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio.domain.requests import GenerationRequest
from studio.domain.settings import load_settings
from studio.services import doctor, leases
from studio.services.studio import Studio
from studio.storage import Store

ROOT = Path(__file__).resolve().parents[2]
MODEL = "gemini-3.1-flash-image"


def _doctor_cli(*args: str) -> tuple[int, dict]:
    done = subprocess.run(
        [sys.executable, "-m", "studio", "doctor", "--json", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout)


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def library(studio_env):
    """Three real generations, then the studio is closed."""
    studio = Studio(load_settings())
    records = [
        studio.generate(
            GenerationRequest(prompt=f"doctor sample {i}", model=MODEL, image_size="512"), timeout=30
        )[0]
        for i in range(3)
    ]
    studio.close()
    assert all(r.status == "succeeded" for r in records)
    return load_settings().data_dir.resolve(), records


def test_a_healthy_library_is_reported_healthy(library):
    code, report = _doctor_cli()
    assert code == 0
    assert report == {
        "ok": True,
        "integrity": "ok",
        "problems": [],
        "repaired": 0,
        "backup": None,
        "data_dir": str(library[0]),
    }


def test_an_empty_data_dir_is_healthy(tmp_path):
    code, report = _doctor_cli("--data-dir", str(tmp_path / "fresh"))
    assert code == 0 and report["ok"]


def _damage(data_dir: Path, records) -> dict:
    first, second, _ = records
    (data_dir / first.images[0].thumb_path).unlink()  # missing thumbnail
    nested = data_dir / "images" / "zz" / "deeper"
    nested.mkdir(parents=True)
    (nested / "stray.png").write_bytes(b"not referenced")  # orphan in a nested folder
    (data_dir / "thumbs" / ".x.jpg.123.tmp").write_bytes(b"half")  # leftover temp file
    second.images[0].path.write_bytes(b"tampered")  # wrong hash
    store = Store(data_dir)  # only the store: a Studio start would resolve the orphan itself
    dead = store.generations.create_pending(
        prompt="dead", model=MODEL, settings={}, owner=f"{leases.host_id()}:999999999:x"
    )
    live = store.generations.create_pending(
        prompt="live", model=MODEL, settings={}, owner=f"{leases.host_id()}:{os.getppid()}:y"
    )
    store.close()
    return {"dead": dead, "live": live, "tampered": second.images[0], "thumb": first.images[0]}


def test_report_then_repair(library):
    data_dir, records = library
    hurt = _damage(data_dir, records)
    code, report = _doctor_cli()  # a live studio has work in flight: young stray files may be mid-save
    assert {p["kind"] for p in report["problems"]}.isdisjoint({"orphan_file", "temp_file"})
    old = os.stat(data_dir / "studio.db").st_mtime - 2 * doctor.IN_FLIGHT_GRACE_S
    for stray in ("images/zz/deeper/stray.png", "thumbs/.x.jpg.123.tmp"):
        os.utime(data_dir / stray, (old, old))
    before = _files(data_dir)

    code, report = _doctor_cli()
    assert code == 1 and not report["ok"] and report["backup"] is None
    kinds = sorted(p["kind"] for p in report["problems"])
    assert kinds == ["missing_thumbnail", "orphan_file", "orphan_row", "temp_file", "wrong_hash"]
    assert all(p["detail"].endswith(".") and p["action"] for p in report["problems"])
    assert [p["id"] for p in report["problems"] if p["kind"] == "orphan_row"] == [hurt["dead"]]
    assert _files(data_dir) == before  # a report changes nothing

    code, report = _doctor_cli("--repair")
    assert code == 1  # the tampered original cannot be restored by the doctor
    assert Path(report["backup"]).is_file() and Path(report["backup"]).parent == data_dir / "backups"
    remaining = [p for p in report["problems"] if not p.get("fixed")]
    assert [p["kind"] for p in remaining] == ["wrong_hash"]
    assert report["repaired"] == 4

    quarantined = {p.split("/", 1)[1] for p in _files(data_dir / "quarantine") if "/" in p}
    assert {
        "images/zz/deeper/stray.png",
        "thumbs/.x.jpg.123.tmp",
        hurt["tampered"].path.relative_to(data_dir).as_posix(),
    } <= quarantined
    assert (data_dir / hurt["thumb"].thumb_path).is_file()  # regenerated

    store = Store(data_dir)
    try:
        assert store.generations.get(hurt["dead"]).status == "interrupted"
        assert (
            store.generations.get(hurt["live"]).status == "pending"
        )  # a live process's row is never touched
        assert store.gallery.count() == 5  # no row deleted
    finally:
        store.close()

    code, report = _doctor_cli()  # what remains is the tampered original the row still needs
    assert code == 1 and [p["kind"] for p in report["problems"]] == ["missing_file"]


def test_a_damaged_database_is_reported_and_left_alone(library):
    data_dir, _ = library
    db = data_dir / "studio.db"
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    raw = bytearray(db.read_bytes())
    raw[4096:12288] = os.urandom(8192)  # garble pages after the header
    db.write_bytes(bytes(raw))
    code, report = _doctor_cli("--repair")
    assert code == 1 and not report["ok"] and report["integrity"] != "ok"
    assert report["backup"] is None and report["problems"][0]["kind"] in ("integrity", "store")
    assert db.read_bytes() == bytes(raw)


def test_text_output_and_in_process_api(library):
    data_dir, _ = library
    report = doctor.check(data_dir)
    assert report.ok and report.to_json()["problems"] == []
    done = subprocess.run(
        [sys.executable, "-m", "studio", "doctor"], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.returncode == 0 and "Healthy." in done.stdout


def test_a_row_that_failed_only_to_be_written_is_adopted_not_quarantined(tmp_path, monkeypatch):
    from studio.domain.errors import StoreError
    from studio.domain.requests import ImagePart, Outcome
    from studio.storage import generation_repo as repository
    from tests.factories import make_image

    data_dir = tmp_path / "lib"
    store = Store(data_dir)
    gen = store.generations.create_pending(prompt="a paid lamp", model=MODEL, settings={}, owner="x:1:y")
    monkeypatch.setattr(repository, "COMMIT_RETRY_DELAYS", ())
    commit = store.generations._commit_success
    monkeypatch.setattr(
        store.generations, "_commit_success", lambda *a, **k: (_ for _ in ()).throw(StoreError("busy"))
    )
    with pytest.raises(StoreError):
        store.generations.save_success(
            gen, Outcome(images=[ImagePart(make_image(), "image/png")]), latency_ms=1, cost_usd=None
        )
    monkeypatch.setattr(store.generations, "_commit_success", commit)
    store.generations.save_failure(gen, status="failed", error=StoreError("busy"))
    store.close()
    before = _files(data_dir / "images")

    code, report = _doctor_cli("--data-dir", str(data_dir))
    assert code == 1 and [p["kind"] for p in report["problems"]] == ["unsaved_row"]
    code, report = _doctor_cli("--data-dir", str(data_dir), "--repair")
    assert report["problems"][0]["fixed"] is True
    reopened = Store(data_dir)
    record = reopened.generations.get(gen)
    assert record.status == "succeeded" and record.images[0].path.exists()
    assert _files(data_dir / "images") == before  # nothing went to quarantine
    reopened.close()
    assert _doctor_cli("--data-dir", str(data_dir))[0] == 0
