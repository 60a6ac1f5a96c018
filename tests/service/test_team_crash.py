"""SIGKILL at random moments with a team's history: PostgreSQL (a real server) and a bucket (moto's S3 server).

Real `studio generate` and `studio batch` processes — each on a data directory of its own, as on different
machines sharing the team's database and bucket — are killed at random moments of their life (calibrated on
one run left to finish). After each kill: every asset row names an object that is in the bucket with the
row's hash. Every few kills, and at the end, `studio doctor --repair` (another data directory, the team's
STUDIO_DATABASE_URL and STUDIO_STORAGE_URL): nothing is left pending, every paid image whose journal reached
the bucket is linked to its generation, and a second doctor finds nothing.

The SQLite twin with 200 kills is tests/service/test_crash.py; this one keeps to a few kills for time.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from studio.imaging.images import sha256_hex
from tests.servers import S3_ENV

KILLS = 12
DOCTOR_EVERY = 6
LEASE_SECONDS = 2
PREFIX = "team"
ROOT = Path(__file__).resolve().parents[2]


class Team:
    """The team's database and bucket, and what each killed machine's process is started with."""

    def __init__(self, tmp_path: Path, url: str, s3, bucket: str, emulator) -> None:
        self.tmp_path, self.url, self.bucket, self.emulator = tmp_path, url, bucket, emulator
        self.client = s3.client()
        self.engine = create_engine(url)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
        self.env.update(
            S3_ENV,
            STUDIO_DATABASE_URL=url,
            STUDIO_STORAGE_URL=f"s3://{bucket}/{PREFIX}",
            STUDIO_S3_ENDPOINT_URL=s3.endpoint_url,
            STUDIO_BASE_URL=emulator.url,
            STUDIO_API_KEY="test-key-123",
            STUDIO_AUTH="bearer",
            STUDIO_LEASE_SECONDS=str(LEASE_SECONDS),
        )
        self.verified: set[tuple[str, str]] = set()
        self.journaled: dict[int, set[str]] = {}  # generation -> the images its bucket journal names

    def machine(self, name: str) -> dict[str, str]:
        """The environment of a process on a machine of its own (its own data directory)."""
        return dict(self.env, STUDIO_DATA_DIR=str(self.tmp_path / name))

    def keys(self, under: str = "") -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{PREFIX}/{under}"
        )
        return sorted(o["Key"].removeprefix(f"{PREFIX}/") for p in pages for o in p.get("Contents", []))

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=f"{PREFIX}/{key}")["Body"].read()

    def rows(self, sql: str) -> list:
        with self.engine.connect() as conn:
            return list(conn.execute(text(sql)).all())

    def rows_name_complete_objects(self) -> None:
        """Every asset row (linked or not) and every saved model turn names an object with its hash."""
        named = self.rows("SELECT sha256, path FROM asset")
        named += [
            (sha, f"turns/{sha}.json")
            for (sha,) in self.rows(
                "SELECT model_content_sha FROM generation WHERE model_content_sha IS NOT NULL"
            )
        ]
        present = set(self.keys())
        for sha, key in named:
            assert key in present, f"a row names the missing object {key}"
            if (sha, key) not in self.verified:
                assert sha256_hex(self.read(key)) == sha, f"{key} has the wrong hash"
                self.verified.add((sha, key))
        succeeded = {i for (i,) in self.rows("SELECT id FROM generation WHERE status = 'succeeded'")}
        with_output = {
            i
            for (i,) in self.rows("SELECT DISTINCT generation_id FROM generation_asset WHERE role = 'output'")
        }
        assert succeeded <= with_output, "a succeeded row without an image"

    def note_journals(self) -> None:
        """Remember each paid image a completed journal in the bucket names (the kill came before its commit)."""
        for key in self.keys("journal/"):
            doc = json.loads(self.read(key))
            self.journaled[int(doc["generation_id"])] = {o["sha256"] for o in doc["outputs"]}

    def doctor(self, name: str, *, repair: bool) -> dict:
        done = subprocess.run(
            [sys.executable, "-m", "studio", "doctor", "--json", *(["--repair"] if repair else [])],
            env=self.machine(name),
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.tmp_path,
        )
        assert "Traceback" not in done.stderr, done.stderr
        return json.loads(done.stdout)

    def repaired(self, name: str) -> None:
        time.sleep(LEASE_SECONDS + 0.5)  # the dead processes' leases expire (their pids are gone too)
        report = self.doctor(name, repair=True)
        assert report["ok"], report
        again = self.doctor(name, repair=False)
        assert again["ok"] and not again["problems"], again
        active = self.rows("SELECT id, status FROM generation WHERE status IN ('pending', 'running')")
        assert active == [], f"rows still pending after the doctor: {active}"
        assert self.keys("journal/") == [], "a journal was left in the bucket"
        for gen_id, shas in self.journaled.items():
            linked = {
                sha
                for (sha,) in self.rows(
                    "SELECT a.sha256 FROM generation_asset l JOIN asset a ON a.id = l.asset_id "
                    f"WHERE l.role = 'output' AND l.generation_id = {int(gen_id)}"
                )
            }
            assert shas <= linked, f"generation {gen_id}: a paid image its journal named is not linked"
            (status,) = self.rows(f"SELECT status FROM generation WHERE id = {int(gen_id)}")
            assert status == ("succeeded",), f"generation {gen_id} had a complete journal but is {status}"
        self.rows_name_complete_objects()


def _requests_for(emulator, marker: str) -> int:
    return sum(1 for r in list(emulator.requests) if marker in str(r.get("body")))


@pytest.fixture
def team(tmp_path, pg_server, pg_template, s3, emulator):
    url = pg_server.create_database(template=pg_template)
    t = Team(tmp_path, url, s3, s3.create_bucket(), emulator)
    yield t
    t.engine.dispose()
    pg_server.drop_database(url.rsplit("/", 1)[1])


def _command(team: Team, rnd: random.Random, n: int, *, faults: bool = True) -> list[str]:
    """A `studio generate` of 1-3 variants, or a `studio batch` of two rows; some calls fail at the server.
    Every prompt holds the marker ``k<n>x``."""
    fault = " [[fault:500]]" if rnd.random() < 0.15 and faults else ""
    if rnd.random() < 0.5:
        variants = str(rnd.choice((1, 2, 3)))
        return ["generate", f"team kill k{n}x{fault}", "--variants", variants]
    rows = team.tmp_path / f"batch-{n}.jsonl"
    rows.write_text(
        "".join(
            json.dumps({"prompt": f"team batch k{n}x row {r}{fault}", "variants": 2}) + "\n" for r in range(2)
        )
    )
    return ["batch", str(rows), "--concurrency", "2"]


def _start(team: Team, args: list[str], machine: str, crash_at: str = "") -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "studio", *args],
        env=dict(team.machine(machine), STUDIO_CRASH_AT=crash_at),
        stdout=subprocess.DEVNULL,
        stderr=(team.tmp_path / f"{machine}.err").open("wb"),
        cwd=team.tmp_path,
    )


def test_random_kills_of_studio_processes_on_postgresql_and_a_bucket(team):
    rnd = random.Random(20261130)
    started = time.monotonic()
    # One run left to finish: how long a process lives here, to kill the others anywhere in that life.
    calibrate = _start(team, ["generate", "team calibrate", "--variants", "2"], "m0")
    assert calibrate.wait(timeout=120) == 0, (team.tmp_path / "m0.err").read_text()
    life = time.monotonic() - started
    assert team.rows("SELECT status FROM generation") == [("succeeded",)] * 2  # a row per variant
    assert team.rows("SELECT count(*) FROM generation_asset WHERE role = 'output'") == [(2,)]

    ended_on_its_own = 0
    moments = {"any": 0, "in flight": 0, "after_journal": 0}
    for n in range(1, KILLS + 1):
        # A random moment of the process's life; or soon after its first call reached the server (the
        # answer, the objects and the commit are all near); or, every fourth process, its own SIGKILL
        # between the journal reaching the bucket and the commit (a window random timing rarely hits).
        moment = "after_journal" if n % 4 == 2 else rnd.choice(("any", "in flight"))
        moments[moment] += 1
        child = _start(
            team,
            _command(team, rnd, n, faults=moment != "after_journal"),
            f"m{n}",
            moment if moment == "after_journal" else "",
        )
        try:
            if moment == "after_journal":
                assert child.wait(timeout=120) == -signal.SIGKILL, (team.tmp_path / f"m{n}.err").read_text()
                assert team.keys("journal/"), "the process died after its journal, yet none is in the bucket"
            elif moment == "in flight":
                deadline = time.monotonic() + 60
                while child.poll() is None and not _requests_for(team.emulator, f"k{n}x"):
                    assert time.monotonic() < deadline, "the call never reached the server"
                    time.sleep(0.02)
            if moment != "after_journal":
                child.wait(
                    timeout=rnd.uniform(0.0, 0.6) if moment == "in flight" else rnd.uniform(0.3, life * 1.1)
                )
                ended_on_its_own += 1
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGKILL)
            assert child.wait(timeout=10) == -signal.SIGKILL
        team.rows_name_complete_objects()
        team.note_journals()
        if n % DOCTOR_EVERY == 0:
            team.repaired(f"doctor{n}")
    team.repaired("doctor-end")

    counts = dict(team.rows("SELECT status, count(*) FROM generation GROUP BY status"))
    assert set(counts) <= {"succeeded", "failed", "interrupted"}, counts
    assert counts.get("succeeded", 0) > 1, counts  # the processes did real work between kills
    assert len(team.journaled) >= moments["after_journal"], "a journal written before a kill was not seen"
    assert not list(team.tmp_path.rglob("studio.db")), "a process opened a SQLite history"
    print(
        f"\n{KILLS - ended_on_its_own} kills {moments} ({ended_on_its_own} ended first) in "
        f"{time.monotonic() - started:.0f} s; process life {life:.1f} s; rows by status {counts}; "
        f"{len(team.journaled)} journaled paid generations (all linked after the doctor); {len(team.verified)} objects verified"
    )
