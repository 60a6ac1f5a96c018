"""Leases with real processes: a `studio generate` on "another machine" (``STUDIO_HOST_ID``) is SIGKILLed
mid-call, and a Studio here adopts its row once the lease expires; a live one that keeps beating is left
alone; a polite stop forgets its lease.

The pid check cannot be used across hosts, so only the lease decides here (``STUDIO_LEASE_SECONDS=2``).
Waits are on states (a row's status, a heartbeat), each with a generous bound, never on durations.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from studio.domain.settings import load_settings
from studio.emulator import Emulator
from studio.services.studio import Studio
from studio.storage.generation_repo import INTERRUPTED_MESSAGE
from tests.service.test_polite_stop import assert_saved, rows, sent, spawn, studio_env, wait_until

LEASE_S = "2"
ELSEWHERE = "machine-b"


@pytest.fixture
def emu():
    with Emulator(port=0) as server:
        yield server


def workers(data_dir: Path) -> dict[str, dict]:
    """The worker table, read straight from the SQLite file."""
    db = data_dir / "studio.db"
    if not db.exists():
        return {}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        return {row["owner"]: dict(row) for row in conn.execute("SELECT * FROM worker")}
    except sqlite3.OperationalError:  # the schema is still being created
        return {}
    finally:
        conn.close()


def elsewhere_env(tmp_path: Path, emu: Emulator, **extra: str) -> dict[str, str]:
    env = studio_env(tmp_path, emu)
    env.update(STUDIO_HOST_ID=ELSEWHERE, STUDIO_LEASE_SECONDS=LEASE_S, **extra)
    return env


def their_worker(data: Path) -> dict | None:
    return next((w for w in workers(data).values() if w["host"] == ELSEWHERE), None)


def row_of(data: Path, prompt: str) -> dict | None:
    return next((r for r in rows(data) if r["prompt"] == prompt), None)


@pytest.fixture
def here(studio_env, monkeypatch, tmp_path):
    """A Studio on this machine, sharing the data directory, with the same short lease."""
    monkeypatch.setenv("STUDIO_LEASE_SECONDS", LEASE_S)
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path / "data"))
    opened: list[Studio] = []

    def open_studio() -> Studio:
        opened.append(Studio(load_settings()))
        return opened[-1]

    yield open_studio
    for studio in opened:
        studio.close()


def test_a_killed_process_on_another_host_is_adopted_after_its_lease(emu, tmp_path, here):
    data = tmp_path / "data"
    prompt = "lease killed mid-call [[latency:60]]"
    proc = spawn(["generate", prompt, "--json"], elsewhere_env(tmp_path, emu), tmp_path)
    wait_until(lambda: sent(emu, "lease killed mid-call"), "the call is in flight", proc)
    worker = wait_until(lambda: their_worker(data), "the process registered its lease", proc)
    assert worker["owner"].startswith(f"{ELSEWHERE}:{proc.pid}:")
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)

    studio = here()  # a Studio on this host: the pid of machine-b means nothing here
    assert studio.owner.split(":")[0] != ELSEWHERE
    row = wait_until(
        lambda: (r := row_of(data, prompt)) and r["status"] not in ("pending", "running") and r,
        "the row is adopted by the lease keeper",
        timeout=60,
    )
    assert row["status"] == "interrupted" and row["error_message"] == INTERRUPTED_MESSAGE
    wait_until(lambda: their_worker(data) is None, "the dead lease is cleared away", timeout=30)


def test_a_killed_process_whose_image_was_journaled_is_adopted_as_succeeded(emu, tmp_path, here):
    data = tmp_path / "data"
    prompt = "lease killed after journal"
    env = elsewhere_env(tmp_path, emu, STUDIO_CRASH_AT="after_journal")
    done = subprocess.run(
        [sys.executable, "-m", "studio", "generate", prompt, "--json"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert row_of(data, prompt)["status"] in ("pending", "running")
    assert their_worker(data) is not None  # killed: it never forgot its lease

    here()
    row = wait_until(
        lambda: (r := row_of(data, prompt)) and r["status"] not in ("pending", "running") and r,
        "the row is adopted",
        timeout=60,
    )
    assert_saved(data, row)  # the paid image is linked, its hash checked
    assert not list((data / "journal").glob("*.json"))


def test_a_live_process_on_another_host_that_keeps_beating_is_not_adopted(emu, tmp_path, here):
    data = tmp_path / "data"
    prompt = "lease alive elsewhere [[latency:20]]"
    proc = spawn(["generate", prompt, "--json"], elsewhere_env(tmp_path, emu), tmp_path)
    wait_until(lambda: sent(emu, "lease alive elsewhere"), "the call is in flight", proc)
    first = wait_until(lambda: their_worker(data), "the process registered its lease", proc)
    studio = here()
    beats: set[str] = {first["heartbeat_at"]}

    def two_leases_of_beats() -> bool:
        studio.lease.sweep()  # a claim attempt on every look, on top of the keeper's own
        worker = their_worker(data)
        assert worker is not None, "the live process lost its lease"
        beats.add(worker["heartbeat_at"])
        row = row_of(data, prompt)
        assert row["status"] in ("pending", "running"), row  # never claimed while it beats
        return len(beats) >= 8  # more than two leases of heartbeats (one every lease/3)

    wait_until(two_leases_of_beats, "the other process has beaten for two leases", proc, timeout=60)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert_saved(data, row_of(data, prompt))
    assert their_worker(data) is None  # a clean end forgets the lease


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_polite_stop_forgets_the_lease(emu, tmp_path, signum):
    data = tmp_path / "data"
    prompt = f"lease polite stop {signum.name} [[latency:2.5]]"
    proc = spawn(["generate", prompt, "--json"], elsewhere_env(tmp_path, emu), tmp_path)
    wait_until(lambda: sent(emu, f"lease polite stop {signum.name}"), "the call is in flight", proc)
    wait_until(lambda: their_worker(data), "the process registered its lease", proc)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    assert_saved(data, row_of(data, prompt))  # the paid call was waited for
    assert workers(data) == {}


def test_studio_run_adopts_before_any_page_is_opened_and_forgets_its_lease(emu, tmp_path):
    """Process A (`studio generate` on machine-b) is SIGKILLed mid-call; process B (`studio run` here, no
    browser) adopts its row once the lease runs out, and a SIGTERM forgets B's own lease."""
    from tests.service.test_polite_stop import start_studio_run, stop_group

    data = tmp_path / "data"
    prompt = "lease adopted by studio run [[latency:60]]"
    a = spawn(["generate", prompt], elsewhere_env(tmp_path, emu), tmp_path)
    wait_until(lambda: sent(emu, "lease adopted by studio run"), "A's call is in flight", a)
    wait_until(lambda: their_worker(data), "A registered its lease", a)
    a.send_signal(signal.SIGKILL)
    a.wait(30)

    env_b = studio_env(tmp_path, emu) | {"STUDIO_LEASE_SECONDS": LEASE_S}
    b, _port, log = start_studio_run(tmp_path, env_b)
    try:
        row = wait_until(
            lambda: (r := row_of(data, prompt)) and r["status"] not in ("pending", "running") and r,
            "B adopts A's row",
            b,
            timeout=60,
        )
        assert row["status"] == "interrupted" and row["error_message"] == INTERRUPTED_MESSAGE
        own = [w for w in workers(data).values() if w["host"] != ELSEWHERE]
        assert [w["pid"] for w in own] == [b.pid]  # B's lease, before any page was opened
        b.send_signal(signal.SIGTERM)
        assert b.wait(timeout=60) == 0, log.read_text(errors="replace")
        assert workers(data) == {}  # B forgot its lease; A's expired one was cleared when its row was
    finally:
        stop_group(b)
