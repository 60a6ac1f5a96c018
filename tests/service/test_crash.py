"""Crash safety with real processes and SIGKILL (goal R1/R4): no paid image is ever lost.

A child process runs a Studio against the session emulator and is killed at every step of saving a
generation (``STUDIO_CRASH_AT``) and, in the slow test, at 200 random moments while generations and
gallery reads run. After every kill: SQLite's integrity check passes, no row points at a missing or
wrong-hash file, the next start resolves every pending row (adopted when its files were complete,
otherwise interrupted), and ``studio doctor --repair`` leaves no file unaccounted for.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from studio.domain.crashpoints import POINTS
from studio.domain.settings import load_settings
from studio.imaging.images import sha256_hex
from studio.services import doctor
from studio.services.studio import Studio
from studio.storage import Store, journal
from studio.storage.generation_repo import INTERRUPTED_MESSAGE

MODEL, SIZE = "gemini-3.1-flash-image", "512"

CHILD = """
import sys
from studio.domain.settings import load_settings
from studio.domain.requests import GenerationRequest
from studio.services.studio import Studio
studio = Studio(load_settings())
[record] = studio.generate(GenerationRequest(prompt=sys.argv[1], model=%r, image_size=%r,
                                             modalities=("TEXT", "IMAGE")), timeout=60)
print(record.status, flush=True)
""" % (MODEL, SIZE)

# A long-lived "zygote" imports everything once, then forks one worker per line on stdin; the test
# SIGKILLs the worker at a random moment and the zygote reaps it. Forking keeps 200 kills cheap.
ZYGOTE = """
import os, random, sys
from studio.domain.settings import load_settings
from studio.domain.requests import GenerationRequest
from studio.services.studio import Studio

def work(seed):
    rnd = random.Random(seed)
    studio = Studio(load_settings())
    n = 0
    while True:
        fault = " [[fault:500]]" if rnd.random() < 0.15 else ""
        req = GenerationRequest(prompt=f"kill run {seed} shot {n}{fault}", model=%r, image_size=%r,
                                modalities=("TEXT", "IMAGE"), variants=rnd.choice((1, 2, 3)))
        ids = studio.submit(req)
        while any(studio.is_active(i) for i in ids):
            studio.history(limit=24)
            studio.history(search="kill shot", limit=12)
            studio.get(ids[0])
            studio._store.gallery.count()
        n += 1

for line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        try:
            work(int(line))
        finally:
            os._exit(3)
    print(pid, flush=True)
    os.waitpid(pid, 0)
    print("reaped", flush=True)
""" % (MODEL, SIZE)


def _data_dir() -> Path:
    return load_settings().data_dir.resolve()


class Invariants:
    """Checks that hold after any crash; remembers verified (immutable, content-named) files."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.verified: set[str] = set()
        self.checks = 0

    def after_crash(self) -> None:
        """Before any restart: the database is sound and every committed row's files are complete."""
        self.checks += 1
        conn = sqlite3.connect(self.data_dir / "studio.db", timeout=10)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            links = conn.execute(
                "SELECT g.id, g.status, l.role, a.sha256, a.path FROM generation g "
                "JOIN generation_asset l ON l.generation_id = g.id JOIN asset a ON a.id = l.asset_id"
            ).fetchall()
            succeeded = {i for (i,) in conn.execute("SELECT id FROM generation WHERE status = 'succeeded'")}
            turns = conn.execute(
                "SELECT model_content_sha FROM generation WHERE model_content_sha IS NOT NULL"
            )
            turn_files = [(sha, f"turns/{sha}.json") for (sha,) in turns]
        finally:
            conn.close()
        with_output = {gen_id for gen_id, _, role, _, _ in links if role == "output"}
        assert succeeded <= with_output, "a succeeded row without an image"
        for sha, rel in [(sha, rel) for _, _, _, sha, rel in links] + turn_files:
            path = self.data_dir / rel
            assert path.is_file(), f"row points at missing {rel}"
            if rel not in self.verified:
                assert sha256_hex(path.read_bytes()) == sha, f"{rel} has the wrong hash"
                self.verified.add(rel)

    def after_restart(self) -> None:
        """After a start and a doctor repair: nothing pending, no journal, no stray file."""
        conn = sqlite3.connect(self.data_dir / "studio.db", timeout=10)
        try:
            active = conn.execute("SELECT count(*) FROM generation WHERE status IN ('pending', 'running')")
            assert active.fetchone()[0] == 0
        finally:
            conn.close()
        report = doctor.check(self.data_dir, repair=True)
        assert report.ok, report.to_json()
        again = doctor.check(self.data_dir)
        assert again.ok and not again.problems, again.to_json()
        assert not journal.listing(self.data_dir)
        self.after_crash()


def _restart() -> Studio:
    """What the next start does: resolve the rows the killed process left behind."""
    studio = Studio(load_settings())
    studio.close()
    return studio


def _prompt(tag: str) -> str:
    return f"crash {tag} {uuid.uuid4().hex[:8]}"


def _requests_for(emulator, marker: str) -> int:
    return sum(1 for r in list(emulator.requests) if marker in str(r.get("body")))


def _run_child(prompt: str, point: str | None) -> subprocess.CompletedProcess:
    env = dict(os.environ, STUDIO_CRASH_AT=point or "")
    return subprocess.run(
        [sys.executable, "-c", CHILD, prompt],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )


EXPECTED = {  # crash point -> status after the next start
    "before_call": "interrupted",
    "after_response": "interrupted",
    "after_files": "interrupted",  # files complete but no journal: they go to quarantine, never deleted
    "after_journal": "succeeded",  # adopted from the journal
    "after_commit": "succeeded",
}


@pytest.mark.parametrize("point", POINTS)
def test_kill_at_each_step_of_saving(studio_env, point):
    emulator = studio_env
    prompt = _prompt(point)
    done = _run_child(prompt, point)
    assert done.returncode == -signal.SIGKILL, done.stderr
    data_dir = _data_dir()
    check = Invariants(data_dir)
    check.after_crash()
    assert _requests_for(emulator, prompt) == (0 if point == "before_call" else 1)

    studio = Studio(load_settings())
    try:
        [record] = studio.history(search=prompt.split()[-1])
        assert record.status == EXPECTED[point], record
        if record.status == "succeeded":
            assert record.images and record.images[0].path.is_file() and record.text
            assert studio._store.generations.model_content(
                record.id
            )  # the model turn came through the crash too
        else:
            assert record.error_kind == "interrupted" and "Retry it from History" in record.error_message
        if point == "after_journal":
            assert studio.adopted_on_start == [record.id]
    finally:
        studio.close()
    quarantined_before = list((data_dir / "quarantine").rglob("*.*"))
    check.after_restart()
    if point == "after_files":  # the paid image survives, in quarantine
        moved = [p for p in (data_dir / "quarantine").glob("*/images/*/*") if p not in quarantined_before]
        assert len(moved) == 1


def test_kill_while_the_server_holds_the_request(studio_env):
    emulator = studio_env
    prompt = _prompt("during") + " [[latency:5]]"
    env = dict(os.environ, STUDIO_CRASH_AT="")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, prompt],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        deadline = time.monotonic() + 30
        while _requests_for(emulator, prompt) == 0:
            assert time.monotonic() < deadline and child.poll() is None, "the request never arrived"
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()
    check = Invariants(_data_dir())
    check.after_crash()
    studio = _restart()
    record = [r for r in studio._store.gallery.page(limit=5) if r.prompt == prompt][0]
    assert record.status == "interrupted" and record.id in studio.interrupted_on_start
    check.after_restart()


def test_adoption_refuses_a_journal_whose_file_was_damaged(studio_env):
    """Journal written, then the image changed on disk: the row is interrupted, the file quarantined."""
    prompt = _prompt("damaged")
    assert _run_child(prompt, "after_journal").returncode == -signal.SIGKILL
    data_dir = _data_dir()
    [gen_id] = journal.listing(data_dir)
    entry = journal.read(data_dir, gen_id)
    image = data_dir / entry.outputs[0]["path"]
    image.write_bytes(image.read_bytes()[:-10])
    report = doctor.check(data_dir)
    rows = [p for p in report.problems if p.kind == "orphan_row"]
    assert [(p.id, p.action) for p in rows] == [(gen_id, "mark it interrupted")]
    repaired = doctor.check(data_dir, repair=True)  # the doctor alone, without a studio start first
    assert repaired.ok and [p.action for p in repaired.problems if p.kind == "orphan_row"] == ["interrupted"]
    store = Store(data_dir)
    assert store.generations.get(gen_id).status == "interrupted"
    store.close()
    Invariants(data_dir).after_restart()
    assert not image.exists() and list((data_dir / "quarantine").rglob(image.name))


def test_a_row_interrupted_after_its_journal_is_adopted_on_the_next_start(studio_env):
    """A second stop signal marked the row interrupted after its files and journal were written, and the
    process ended before the row was committed: the next start adopts the paid image from its journal."""
    prompt = _prompt("interrupted after journal")
    assert _run_child(prompt, "after_journal").returncode == -signal.SIGKILL
    data_dir = _data_dir()
    [gen_id] = journal.listing(data_dir)
    conn = sqlite3.connect(data_dir / "studio.db", timeout=10)
    with conn:  # what the abandon wrote (``interrupt_owned``) before the process exited
        conn.execute(
            "UPDATE generation SET status = 'interrupted', error_kind = 'interrupted', error_message = ? "
            "WHERE id = ?",
            (INTERRUPTED_MESSAGE, gen_id),
        )
    conn.close()
    studio = _restart()
    record = studio.get(gen_id)
    assert record is not None and record.status == "succeeded", record
    assert record.error_kind is None and record.error_message is None
    [image] = record.images
    assert sha256_hex(image.path.read_bytes()) == image.sha256
    Invariants(data_dir).after_restart()
    assert not list((data_dir / "quarantine").rglob(image.path.name))


@pytest.mark.slow
def test_two_hundred_random_kills(studio_env):
    kills, check_every = 200, 20
    rnd = random.Random(20260717)
    data_dir = _data_dir()
    check = Invariants(data_dir)
    zygote = subprocess.Popen(
        [sys.executable, "-c", ZYGOTE],
        env=dict(os.environ, STUDIO_CRASH_AT=""),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    started = time.monotonic()
    try:
        for n in range(1, kills + 1):
            zygote.stdin.write(f"{n}\n")
            zygote.stdin.flush()
            pid = int(zygote.stdout.readline())
            time.sleep(rnd.uniform(0.0, 0.5))
            os.kill(pid, signal.SIGKILL)
            assert zygote.stdout.readline().strip() == "reaped"
            if n % check_every == 0:
                check.after_crash()
                if n % (check_every * 5) == 0:
                    _restart()
                    check.after_restart()
    finally:
        zygote.stdin.close()
        zygote.wait(timeout=10)
    _restart()
    check.after_restart()
    conn = sqlite3.connect(data_dir / "studio.db")
    counts = dict(conn.execute("SELECT status, count(*) FROM generation GROUP BY status").fetchall())
    conn.close()
    print(
        f"\n{kills} kills in {time.monotonic() - started:.0f} s, {check.checks} invariant checks, "
        f"{len(check.verified)} files verified, rows by status: {counts}"
    )
    assert counts.get("succeeded", 0) > kills // 4  # the workers did real work between kills
    assert set(counts) <= {"succeeded", "failed", "interrupted"}


def test_a_row_that_could_not_be_committed_is_adopted_on_the_next_start(tmp_path, monkeypatch):
    """The files and journal of a paid image are written, then the database refuses the commit (locked
    past every retry): the row ends failed for now, and the next start adopts the image from its journal."""
    from studio.domain.errors import StoreError
    from studio.domain.requests import ImagePart, Outcome
    from studio.storage import Store
    from studio.storage import generation_repo as repository
    from tests.factories import make_image

    store = Store(tmp_path)
    gen = store.generations.create_pending(
        prompt="a paid fox", model="gemini-2.5-flash-image", settings={}, owner="x:1:y"
    )
    monkeypatch.setattr(repository, "COMMIT_RETRY_DELAYS", (0.0,))
    calls = []

    def locked(*args, **kwargs):
        calls.append(1)
        raise StoreError("The history database stayed busy for more than 5 seconds; try again in a moment.")

    commit = store.generations._commit_success
    monkeypatch.setattr(store.generations, "_commit_success", locked)
    with pytest.raises(StoreError):
        store.generations.save_success(
            gen, Outcome(images=[ImagePart(make_image(), "image/png")]), latency_ms=5, cost_usd=0.04
        )
    assert len(calls) == 2  # tried, waited, tried again
    monkeypatch.setattr(store.generations, "_commit_success", commit)
    store.generations.save_failure(gen, status="failed", error=StoreError("busy"))  # what the worker records
    store.close()

    reopened = Store(tmp_path)
    reopened.generations.interrupt_orphans(lambda owner: False)
    record = reopened.generations.get(gen)
    assert record.status == "succeeded" and len(record.images) == 1 and record.images[0].path.exists()
    assert not (tmp_path / "journal" / f"{gen}.json").exists()
    reopened.close()
