"""The lease keeper under faults, on a real SQLite file: an unexpected error or a slow sweep never stops the
heartbeat, ``studio run``'s keeper never fails the start, a stop never leaves a lease behind, a Studio that
fails to open leaves nothing open; who is alive when host ids collide or pids are reused; an owner that
renews between the judgement and the claim keeps its rows.

Faults are injected by wrapping one method of a real repository (an error, or a wait on an event); every
wait in a test is on a state (a heartbeat written, a thread ended) with a generous bound."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from studio.domain.errors import StoreError
from studio.domain.settings import load_settings
from studio.services import leases, lifecycle
from studio.services.studio import Studio
from studio.storage import Store, journal
from studio.storage.generation_repo import GenerationRepository
from studio.storage.worker_repo import WorkerRepository

ELSEWHERE = "machine-b"


@pytest.fixture
def store(tmp_path: Path):
    s = Store(tmp_path / "data")
    yield s
    s.close()


def wait_for(check, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.02)


def beats_after(workers: WorkerRepository, owner: str, mark: str, count: int) -> None:
    """Wait until ``owner``'s heartbeat has been written ``count`` more times after ``mark``."""
    seen = [mark]

    def renewed() -> bool:
        lease = workers.get(owner)
        if lease is not None and lease.heartbeat_at > seen[-1]:
            seen.append(lease.heartbeat_at)
        return len(seen) > count

    wait_for(renewed, f"{owner} renewed its lease {count} times")


def dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    return int(done.stdout)


class FailingSweeps(GenerationRepository):
    """A real repository whose claim fails with an error that is not a StudioError (a journal folder the
    process may not list)."""

    def __init__(self, store: Store) -> None:
        super().__init__(store.db, store.data_dir)
        self.failures = 0

    def claim_orphans(self, is_alive):
        self.failures += 1
        raise PermissionError(13, "Permission denied", "journal")


class SlowSweeps(GenerationRepository):
    """A real repository whose claim waits for ``release`` (a sweep hashing big journals, say)."""

    def __init__(self, store: Store) -> None:
        super().__init__(store.db, store.data_dir)
        self.entered, self.release, self.finished = threading.Event(), threading.Event(), threading.Event()

    def claim_orphans(self, is_alive):
        self.entered.set()
        self.release.wait(60)
        try:
            return super().claim_orphans(is_alive)
        finally:
            self.finished.set()


# -- the heartbeat never stops while the process lives ------------------------------------------------------


def test_an_unexpected_error_in_a_sweep_does_not_stop_the_heartbeat(store: Store, caplog):
    workers = WorkerRepository(store.db)
    failing = FailingSweeps(store)
    keeper = leases.Keeper(workers, failing, leases.new_owner(), lease_s=1.2)
    keeper.register()
    mark = workers.get(keeper.owner).heartbeat_at
    with caplog.at_level(logging.ERROR, logger="studio.services.leases"):
        keeper.start()
        try:
            wait_for(lambda: failing.failures >= 2, "two sweeps failed")
            beats_after(workers, keeper.owner, mark, 3)  # the lease is still renewed after the failures
        finally:
            keeper.stop()
    assert workers.get(keeper.owner) is None
    logged = [r for r in caplog.records if "unexpected error" in r.getMessage()]
    assert logged and logged[0].exc_info is not None  # with its traceback, for the report
    assert "test-key-123" not in caplog.text


def test_a_slow_sweep_does_not_delay_the_renewal(store: Store):
    workers = WorkerRepository(store.db)
    slow = SlowSweeps(store)
    keeper = leases.Keeper(workers, slow, leases.new_owner(), lease_s=1.2)
    keeper.register()
    keeper.start()
    try:
        wait_for(slow.entered.is_set, "a sweep started")
        mark = workers.get(keeper.owner).heartbeat_at
        beats_after(workers, keeper.owner, mark, 3)  # three renewals while the sweep still runs
        assert not slow.finished.is_set()
    finally:
        slow.release.set()
        keeper.stop()


def test_studio_run_starts_whatever_the_first_sweep_meets(tmp_path, monkeypatch, caplog):
    """An unreadable journal folder (a PermissionError root cannot produce, so it is raised here) fails the
    first sweep: the server still starts, its keeper registered and beating."""
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STUDIO_LEASE_SECONDS", "1.2")
    store = Store(tmp_path / "data")
    gen_id = store.generations.create_pending(
        prompt="left behind", model="m", settings={}, owner=f"{ELSEWHERE}:1:cafe:1"
    )
    store.close()

    def unreadable(data_dir):
        raise PermissionError(13, "Permission denied", str(Path(data_dir) / journal.DIR))

    monkeypatch.setattr(journal, "listing", unreadable)
    keeper = leases.adopt_in_background()
    assert keeper is not None
    workers = keeper.workers
    try:
        assert workers.get(keeper.owner) is not None
        assert "unexpected error" in caplog.text
        monkeypatch.undo()  # the folder can be read again: the next beat adopts
        wait_for(lambda: keeper.generations.get(gen_id).status == "interrupted", "the row was claimed")
    finally:
        keeper.stop()
    assert keeper.released.is_set()


# -- a stop leaves nothing behind ------------------------------------------------------------------------------


class SlowHeartbeat(WorkerRepository):
    """A real worker repository whose next heartbeat waits for ``release`` (a database that is slow to
    answer)."""

    def __init__(self, db) -> None:
        super().__init__(db)
        self.armed, self.entered, self.release = threading.Event(), threading.Event(), threading.Event()

    def heartbeat(self, owner: str, *, lease_s: float) -> bool:
        if self.armed.is_set():
            self.armed.clear()
            self.entered.set()
            self.release.wait(60)
        return super().heartbeat(owner, lease_s=lease_s)


def test_a_renewal_in_flight_at_the_stop_does_not_bring_the_lease_back(store: Store, monkeypatch):
    monkeypatch.setattr(leases.Keeper, "STOP_WAIT_S", 0.2, raising=False)
    workers = SlowHeartbeat(store.db)
    keeper = leases.Keeper(workers, store.generations, leases.new_owner(), lease_s=1.2)
    keeper.register()
    workers.armed.set()
    keeper.start()
    wait_for(workers.entered.is_set, "a renewal is in flight")
    keeper.stop()  # returns before the renewal lands, and removes the lease
    assert workers.get(keeper.owner) is None
    workers.release.set()  # the renewal lands now: it finds no row and would register again
    wait_for(
        lambda: (
            not any(t.name.startswith("studio-") and keeper.owner in t.name for t in threading.enumerate())
        ),
        "the keeper's threads ended",
    )
    assert workers.get(keeper.owner) is None


def test_studio_runs_keeper_closes_its_store_only_after_its_last_sweep(tmp_path, monkeypatch):
    monkeypatch.setattr(leases.Keeper, "STOP_WAIT_S", 0.2, raising=False)
    store = Store(tmp_path / "data")
    keeper = leases._StoreKeeper(store)
    slow = SlowSweeps(store)
    keeper.generations = slow
    keeper.lease_s = 1.2
    closed: list[bool] = []
    real_close = store.close
    monkeypatch.setattr(store, "close", lambda: (closed.append(slow.finished.is_set()), real_close()))
    keeper.register()
    keeper.start()
    wait_for(slow.entered.is_set, "a sweep started")
    keeper.stop()
    assert closed == []  # the sweep still runs: its store stays open
    slow.release.set()
    wait_for(lambda: closed, "the store was closed")
    assert closed == [True]


def test_a_studio_that_fails_to_open_leaves_nothing_open(studio_env, tmp_path, monkeypatch):
    """The worker table is missing (a damaged history): registering fails with a sentence, and the demo
    emulator, the owner id and the lifecycle registration are all gone again."""
    data = tmp_path / "broken"
    monkeypatch.setenv("STUDIO_DATA_DIR", str(data))
    Store(data).close()
    import sqlite3

    conn = sqlite3.connect(data / "studio.db")
    conn.execute("DROP TABLE worker")
    conn.commit()
    conn.close()
    owners, studios = set(leases.LIVE_OWNERS), lifecycle.studios()
    threads = set(threading.enumerate())
    with pytest.raises(StoreError):
        Studio(load_settings().with_(demo=True))
    assert leases.LIVE_OWNERS == owners
    assert lifecycle.studios() == studios
    wait_for(lambda: set(threading.enumerate()) <= threads, "the demo emulator and the workers stopped")


# -- who is alive ------------------------------------------------------------------------------------------------


def test_the_host_id_names_the_boot_and_the_pid_namespace(monkeypatch):
    monkeypatch.delenv("STUDIO_HOST_ID", raising=False)
    boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip().replace("-", "")
    namespace = os.stat("/proc/self/ns/pid").st_ino
    assert leases.host_id().split("/")[1:] == [boot[:12], str(namespace)]
    assert leases.exact_pid_check()
    monkeypatch.setenv("STUDIO_HOST_ID", "shared:name")
    assert leases.host_id() == "shared-name"  # the override stays, whole
    assert not leases.exact_pid_check()


def test_a_fresh_lease_is_alive_when_the_host_id_is_shared(store: Store, monkeypatch):
    """Two containers with one STUDIO_HOST_ID: the other's pid is not a pid here, so its lease decides."""
    monkeypatch.setenv("STUDIO_HOST_ID", "container-host")
    workers = WorkerRepository(store.db)
    alive = leases.Liveness(workers, lease_s=2)
    other = f"container-host:{dead_pid()}:cafe0001:{int(time.time())}"
    workers.register(other, host="container-host", pid=1, lease_s=60)
    assert alive(other)  # no such pid here, but its lease holds
    workers.register(other, host="container-host", pid=1, lease_s=-1)
    assert not alive(other)  # once its lease has expired


def test_an_expired_lease_is_dead_even_if_its_pid_was_reused(store: Store):
    workers = WorkerRepository(store.db)
    alive = leases.Liveness(workers, lease_s=2)
    reused = f"{leases.host_id()}:{os.getppid()}:cafe0002:{int(time.time()) - 3600}"  # a live pid
    workers.register(reused, host=leases.host_id(), pid=os.getppid(), lease_s=-1)
    assert not alive(reused)
    workers.forget(reused)
    assert alive(reused)  # without a lease, this host's pid decides (an owner from before leases)


def test_a_crashed_process_of_this_very_host_is_not_waited_for(store: Store, monkeypatch):
    monkeypatch.delenv("STUDIO_HOST_ID", raising=False)
    workers = WorkerRepository(store.db)
    alive = leases.Liveness(workers, lease_s=2)
    crashed = f"{leases.host_id()}:{dead_pid()}:cafe0003:{int(time.time())}"
    workers.register(crashed, host=leases.host_id(), pid=1, lease_s=300)
    assert not alive(crashed)  # same boot, same pid namespace: its pid is certainly gone
    living = f"{leases.host_id()}:{os.getppid()}:cafe0004:{int(time.time())}"
    workers.register(living, host=leases.host_id(), pid=os.getppid(), lease_s=300)
    assert alive(living)


# -- the claim rechecks the lease ---------------------------------------------------------------------------------


def test_an_owner_that_renews_after_it_was_judged_keeps_its_rows(store: Store):
    workers = WorkerRepository(store.db)
    owner = f"{ELSEWHERE}:4242:cafe0005:{int(time.time())}"
    workers.register(owner, host=ELSEWHERE, pid=4242, lease_s=-1)  # a pause just past its lease
    gen_id = store.generations.create_pending(prompt="paused", model="m", settings={}, owner=owner)
    liveness = leases.Liveness(workers, lease_s=2)

    def judged_then_renewed(who: str) -> bool:
        verdict = liveness(who)
        workers.heartbeat(who, lease_s=30)  # its keeper wakes up between the judgement and the claim
        return verdict

    assert store.generations.claim_orphans(judged_then_renewed) == ([], [])
    assert store.generations.get(gen_id).status == "pending"
    workers.register(owner, host=ELSEWHERE, pid=4242, lease_s=-1)
    assert store.generations.claim_orphans(liveness) == ([], [gen_id])  # silent again: claimed
