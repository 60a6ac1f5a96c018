"""`studio doctor` on a PostgreSQL history (a real server): reachability, schema revision, rows that
disagree, orphan rows repaired, and backups left to the team's pg_dump (nothing copied)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from studio.services import doctor
from studio.storage import Store
from tests.servers import free_port


@pytest.fixture
def pg_url(pg_server, pg_template):
    url = pg_server.create_database(template=pg_template)
    yield url
    pg_server.drop_database(url.rsplit("/", 1)[1])


def test_healthy_history_and_no_copy(tmp_path: Path, pg_url: str) -> None:
    s = Store(tmp_path, database_url=pg_url)
    s.generations.create_pending(prompt="x", model="m", settings={}, owner="me")
    s.generations.set_status(1, "cancelled")
    s.close()
    report = doctor.check(tmp_path, database_url=pg_url, is_alive=lambda owner: True)
    assert report.ok and report.integrity == "ok" and "pg_dump" in (report.advice or "")
    assert not (tmp_path / "studio.db").exists()


def test_orphan_row_is_repaired_without_a_copy(tmp_path: Path, pg_url: str) -> None:
    s = Store(tmp_path, database_url=pg_url)
    gen = s.generations.create_pending(prompt="x", model="m", settings={}, owner="dead-process")
    s.close()
    found = doctor.check(tmp_path, database_url=pg_url, is_alive=lambda owner: False)
    assert [p.kind for p in found.problems] == ["orphan_row"] and not found.ok
    fixed = doctor.check(tmp_path, repair=True, database_url=pg_url, is_alive=lambda owner: False)
    assert fixed.ok and fixed.backup is None and "pg_dump" in (fixed.advice or "")
    assert list((tmp_path / "backups").iterdir()) == []
    s = Store(tmp_path, database_url=pg_url)
    assert s.generations.get(gen).status == "interrupted"
    s.close()


def test_rows_that_disagree_are_reported(tmp_path: Path, pg_url: str) -> None:
    s = Store(tmp_path, database_url=pg_url)
    s.generations.create_pending(prompt="x", model="m", settings={}, owner="me")
    with s.db.engine.begin() as conn:
        conn.execute(text("UPDATE generation_stats SET n = n + 5"))
    s.close()
    report = doctor.check(tmp_path, database_url=pg_url, is_alive=lambda owner: True)
    assert not report.ok and "facet counts disagree" in report.integrity
    assert report.problems[0].kind == "integrity" and "pg_dump" in report.problems[0].action


def test_unknown_revision_is_reported(tmp_path: Path, pg_url: str) -> None:
    s = Store(tmp_path, database_url=pg_url)
    with s.db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00d'"))
    s.close()
    report = doctor.check(tmp_path, database_url=pg_url, is_alive=lambda owner: True)
    assert not report.ok and "revision f00d" in report.integrity


def test_cli_on_an_unreachable_server_says_so(tmp_path: Path) -> None:
    env = {**os.environ, "STUDIO_DATA_DIR": str(tmp_path)}
    env["STUDIO_DATABASE_URL"] = f"postgresql+psycopg://ann:s3cr3t@127.0.0.1:{free_port()}/studio"
    done = subprocess.run(
        [sys.executable, "-m", "studio", "doctor", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    out = json.loads(done.stdout)
    assert "cannot be reached" in out["integrity"] and "s3cr3t" not in done.stdout + done.stderr
