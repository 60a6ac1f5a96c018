"""Heartbeat leases and adoption across processes, on a real SQLite file: the worker table, who is alive,
and claims that never resolve a row twice (two threads and two processes racing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from studio.domain.errors import ConfigError
from studio.domain.requests import GenerationRequest
from studio.domain.settings import load_settings
from studio.services import doctor, leases
from studio.services.studio import Studio
from studio.storage import Store, journal
from studio.storage.generation_repo import INTERRUPTED_MESSAGE
from studio.storage.worker_repo import WorkerRepository, now
from tests.factories import make_image

ROOT = Path(__file__).resolve().parents[2]
MODEL = "gemini-3.1-flash-image"
ELSEWHERE = "machine-b"  # a host id that is not this machine's: only the lease can say it is alive


def other_owner(started: float | None = None) -> str:
    """An owner id as a Studio on another machine writes it."""
    return f"{ELSEWHERE}:4242:cafe0001:{int(started if started is not None else time.time())}"


@pytest.fixture
def store(tmp_path: Path):
    s = Store(tmp_path / "data")
    yield s
    s.close()


def pending(store: Store, owner: str, prompt: str = "a teapot") -> int:
    return store.generations.create_pending(prompt=prompt, model="m", settings={}, owner=owner)


def journal_for(store: Store, gen_id: int, seed: int) -> str:
    """Files and a complete journal for ``gen_id``, as a process killed before its commit leaves them."""
    stored = store.generations._save_image(make_image(color=(seed % 256, 40, 90)))
    assert stored is not None
    journal.write(store.data_dir, gen_id, {"latency_ms": 7, "text": f"adopted {seed}"}, [stored], [])
    return stored.sha256


# -- the worker table -----------------------------------------------------------------------------------


def test_register_heartbeat_forget_and_expiry(store: Store):
    workers = WorkerRepository(store.db)
    workers.register("h:1:a:1", host="h", pid=1, lease_s=30)
    lease = workers.get("h:1:a:1")
    assert lease is not None and (lease.host, lease.pid) == ("h", 1)
    assert lease.started_at <= lease.heartbeat_at < lease.lease_expires_at
    assert not lease.expired(now()) and lease.expired(now() + timedelta(seconds=31))

    assert workers.heartbeat("h:1:a:1", lease_s=60)
    renewed = workers.get("h:1:a:1")
    assert renewed is not None and renewed.lease_expires_at > lease.lease_expires_at
    assert renewed.started_at == lease.started_at  # a heartbeat renews, it does not restart

    workers.register("h:2:b:1", host="h", pid=2, lease_s=30)
    assert workers.expired_owners() == []
    assert workers.expired_owners(now() + timedelta(seconds=45)) == ["h:2:b:1"]
    assert workers.expired_owners(now() + timedelta(seconds=90)) == ["h:2:b:1", "h:1:a:1"]

    workers.forget("h:1:a:1")
    assert workers.get("h:1:a:1") is None
    assert not workers.heartbeat("h:1:a:1", lease_s=30)  # gone: the keeper registers again


def test_forget_expired_keeps_owners_that_still_hold_rows(store: Store):
    workers = WorkerRepository(store.db)
    workers.register("x:1:a:1", host="x", pid=1, lease_s=-1)  # expired at once
    workers.register("y:1:a:1", host="y", pid=1, lease_s=-1)
    gen_id = pending(store, "y:1:a:1")
    assert workers.forget_expired() == 1
    assert workers.get("x:1:a:1") is None and workers.get("y:1:a:1") is not None
    store.generations.set_status(gen_id, "cancelled")
    assert workers.forget_expired() == 1


def test_the_migration_builds_the_worker_table(store: Store):
    with store.db.engine.connect() as conn:
        columns = [row[1] for row in conn.exec_driver_sql("PRAGMA table_info(worker)")]
    assert columns == ["owner", "host", "pid", "started_at", "heartbeat_at", "lease_expires_at"]


# -- who is alive -----------------------------------------------------------------------------------------


def test_another_host_is_alive_while_its_lease_holds(store: Store):
    workers = WorkerRepository(store.db)
    alive = leases.Liveness(workers, lease_s=2)
    fresh, lapsed = other_owner(), f"{ELSEWHERE}:4243:cafe0002:{int(time.time())}"
    workers.register(fresh, host=ELSEWHERE, pid=4242, lease_s=30)
    workers.register(lapsed, host=ELSEWHERE, pid=4243, lease_s=-1)
    assert alive(fresh)
    assert not alive(lapsed)
    # no worker row: alive only during its first lease; an id from before leases (no start time) is dead
    assert alive(other_owner(started=time.time()))
    assert not alive(other_owner(started=time.time() - 60))
    assert not alive(f"{ELSEWHERE}:4242:deadbeef")
    assert not alive("dead")


def test_this_host_is_judged_by_its_pid_not_a_lease(store: Store, monkeypatch):
    workers = WorkerRepository(store.db)
    alive = leases.Liveness(workers, lease_s=2)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    dead_pid = int(gone.stdout)
    here = leases.host_id()
    dead = f"{here}:{dead_pid}:cafe0003:{int(time.time())}"
    workers.register(dead, host=here, pid=dead_pid, lease_s=300)  # a long lease does not keep it alive
    assert not alive(dead)
    parent = f"{here}:{os.getppid()}:cafe0004:{int(time.time()) - 3600}"
    assert alive(parent)  # no worker row, an old start: still alive, because its process is
    assert not alive(f"{here}:{os.getpid()}:cafe0005:1")  # this process, but no Studio open under it

    monkeypatch.setenv("STUDIO_HOST_ID", "machine:c")
    assert leases.host_id() == "machine-c"  # the separator of owner ids cannot appear in the host
    assert leases.new_owner().startswith(f"machine-c:{os.getpid()}:")
    assert not alive(parent)  # from "machine-c", that owner is on another host: no lease, old: dead


def test_lease_seconds_come_from_the_environment(monkeypatch):
    assert leases.lease_seconds() == 30
    monkeypatch.setenv("STUDIO_LEASE_SECONDS", "2.5")
    assert leases.lease_seconds() == 2.5
    for bad in ("soon", "0", "-4", "nan"):
        monkeypatch.setenv("STUDIO_LEASE_SECONDS", bad)
        with pytest.raises(ConfigError, match="STUDIO_LEASE_SECONDS must be a number of seconds"):
            leases.lease_seconds()


# -- adoption by a live studio ------------------------------------------------------------------------------


def test_a_studio_registers_beats_adopts_and_forgets(studio_env, monkeypatch):
    monkeypatch.setenv("STUDIO_LEASE_SECONDS", "2")
    studio = Studio(load_settings())
    store = studio._store
    workers = WorkerRepository(store.db)
    try:
        assert workers.get(studio.owner) is not None
        before = workers.get(studio.owner)
        living, dying = other_owner(), f"{ELSEWHERE}:4250:cafe0006:{int(time.time())}"
        workers.register(living, host=ELSEWHERE, pid=4242, lease_s=600)
        workers.register(dying, host=ELSEWHERE, pid=4250, lease_s=600)
        kept = pending(store, living, "still being made elsewhere")
        lost = pending(store, dying, "lost with its machine")
        saved = pending(store, dying, "saved before its machine went")
        sha = journal_for(store, saved, 1)

        studio.lease.beat()  # both leases hold: nothing is claimed
        assert store.generations.get(lost).status == "pending"
        workers.register(dying, host=ELSEWHERE, pid=4250, lease_s=-1)  # its heartbeats stopped
        adopted, interrupted = studio.lease.sweep()
        assert (adopted, interrupted) == ([saved], [lost])

        record = store.generations.get(lost)
        assert record.status == "interrupted" and record.error_message == INTERRUPTED_MESSAGE
        adopted_record = store.generations.get(saved)
        assert adopted_record.status == "succeeded" and adopted_record.text == "adopted 1"
        assert [image.sha256 for image in adopted_record.images] == [sha]
        assert not journal.listing(store.data_dir)
        assert store.generations.get(kept).status == "pending"  # a live lease on another host is respected
        assert workers.get(dying) is None  # its rows resolved, its expired lease is cleared away

        after = workers.get(studio.owner)
        assert after is not None and after.heartbeat_at > before.heartbeat_at
        assert studio.lease.interval == pytest.approx(2 / 3)
    finally:
        studio.close()
    check = Store(store.data_dir)
    try:
        assert WorkerRepository(check.db).get(studio.owner) is None  # a clean close forgets the lease
    finally:
        check.close()


def test_a_paused_process_renews_its_lease_before_it_writes_rows(studio_env, monkeypatch):
    monkeypatch.setenv("STUDIO_LEASE_SECONDS", "600")  # the keeper's own beats stay out of the way
    studio = Studio(load_settings())
    workers = WorkerRepository(studio._store.db)
    try:
        workers.forget(studio.owner)  # cleared by another process while this one was paused
        studio.lease._renewed -= 1000  # and its last beat was long ago
        [gen_id] = studio.submit(GenerationRequest(prompt="after a pause", model=MODEL, image_size="512"))
        assert workers.get(studio.owner) is not None  # back before the row could be taken for an orphan's
        [record] = studio.wait([gen_id], timeout=60)
        assert record.status == "succeeded"
    finally:
        studio.close()


def test_doctor_adopts_by_lease(tmp_path, monkeypatch):
    store = Store(tmp_path / "data")
    workers = WorkerRepository(store.db)
    lapsed, live = other_owner(), f"{ELSEWHERE}:4260:cafe0007:{int(time.time())}"
    workers.register(lapsed, host=ELSEWHERE, pid=4242, lease_s=-1)
    workers.register(live, host=ELSEWHERE, pid=4260, lease_s=600)
    lost = pending(store, lapsed)
    kept = pending(store, live)
    store.close()

    report = doctor.check(tmp_path / "data")
    assert [p.id for p in report.problems if p.kind == "orphan_row"] == [lost]
    repaired = doctor.check(tmp_path / "data", repair=True)
    assert [p.action for p in repaired.problems if p.kind == "orphan_row"] == ["interrupted"]
    reopened = Store(tmp_path / "data")
    try:
        assert reopened.generations.get(lost).status == "interrupted"
        assert reopened.generations.get(kept).status == "pending"
    finally:
        reopened.close()


# -- claims race ----------------------------------------------------------------------------------------------


def _dead_rows(store: Store, count: int) -> tuple[list[int], list[int]]:
    """``count`` rows of a dead owner on another host; every other one has a complete journal."""
    owner = other_owner(started=time.time() - 3600)
    ids = [pending(store, owner, f"race {i}") for i in range(count)]
    journaled = [gen_id for i, gen_id in enumerate(ids) if i % 2 == 0]
    for gen_id in journaled:
        journal_for(store, gen_id, gen_id)
    return ids, journaled


def _assert_claimed_once(store: Store, ids, journaled, results) -> None:
    adopted = [gen_id for a, _ in results for gen_id in a]
    interrupted = [gen_id for _, i in results for gen_id in i]
    assert sorted(adopted) == journaled, "every journaled row adopted exactly once"
    assert sorted(interrupted) == sorted(set(ids) - set(journaled)), (
        "every other row interrupted exactly once"
    )
    with store.db.engine.connect() as conn:
        links = conn.exec_driver_sql(
            "SELECT generation_id, count(*) FROM generation_asset WHERE role = 'output' GROUP BY generation_id"
        ).fetchall()
    assert dict(links) == dict.fromkeys(journaled, 1)
    for gen_id in ids:
        record = store.generations.get(gen_id)
        assert record.status == ("succeeded" if gen_id in journaled else "interrupted")


def test_two_threads_racing_never_claim_a_row_twice(tmp_path):
    store = Store(tmp_path / "data")
    ids, journaled = _dead_rows(store, 24)
    others = [Store(tmp_path / "data") for _ in range(2)]  # separate engines, as two processes have
    start = threading.Barrier(2)
    results: list[tuple[list[int], list[int]]] = [([], []), ([], [])]

    def claim(index: int) -> None:
        start.wait()
        alive = leases.Liveness(WorkerRepository(others[index].db), lease_s=2)
        results[index] = others[index].generations.claim_orphans(alive)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        _assert_claimed_once(store, ids, journaled, results)
    finally:
        for s in (store, *others):
            s.close()


CLAIMER = """
import json, sys, time
from pathlib import Path
from studio.services.leases import Liveness
from studio.storage import Store
from studio.storage.worker_repo import WorkerRepository
store = Store(Path(sys.argv[1]))
go = Path(sys.argv[2])
print("ready", flush=True)
while not go.exists():
    time.sleep(0.001)
adopted, interrupted = store.generations.claim_orphans(Liveness(WorkerRepository(store.db), lease_s=2))
print(json.dumps([adopted, interrupted]), flush=True)
store.close()
"""


def test_two_processes_racing_never_claim_a_row_twice(tmp_path):
    data = tmp_path / "data"
    store = Store(data)
    ids, journaled = _dead_rows(store, 40)
    go = tmp_path / "go"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")} | {"PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, str(data), str(go)], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    try:
        for proc in procs:
            assert proc.stdout.readline().strip() == "ready"
        go.touch()
        results = []
        for proc in procs:
            out, _ = proc.communicate(timeout=120)
            assert proc.returncode == 0
            adopted, interrupted = json.loads(out)
            results.append((adopted, interrupted))
        _assert_claimed_once(store, ids, journaled, results)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        store.close()
