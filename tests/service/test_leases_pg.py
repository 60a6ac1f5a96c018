"""The lease and claim code paths on a real PostgreSQL 15 (the ``pg_server`` session fixture).

The database is the real schema (Alembic's head on a fresh database): ``FOR UPDATE SKIP LOCKED`` claims (a row another
transaction holds is skipped, not waited for; two claimers racing resolve each row once) and the
advisory lock of one-at-a-time maintenance."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from studio.services import leases
from studio.storage import worker_repo
from studio.storage.database import Database
from studio.storage.generation_repo import INTERRUPTED_MESSAGE, GenerationRepository
from studio.storage.worker_repo import WorkerRepository, now

DEAD = "machine-b:4242:cafe0001:1"  # another host, no lease, started long ago: dead


@pytest.fixture
def pg_db(pg_server, tmp_path: Path):
    url = pg_server.create_database()
    db = Database.open(tmp_path / "pg", url)  # the real schema: Alembic's head, the worker table included
    yield db
    db.close()
    pg_server.drop_database(sa.make_url(url).database)


def add_rows(db: Database, owner: str, count: int) -> list[int]:
    with db.engine.begin() as conn:
        return [
            conn.exec_driver_sql(
                "INSERT INTO generation (created_at, updated_at, status, owner, model) "
                "VALUES ('t', 't', 'pending', %(owner)s, 'gemini-2.5-flash-image') RETURNING id",
                {"owner": owner},
            ).scalar_one()
            for _ in range(count)
        ]


def statuses(db: Database) -> dict[int, tuple[str, str | None]]:
    with db.engine.connect() as conn:
        found = conn.exec_driver_sql("SELECT id, status, error_message FROM generation").fetchall()
    return {gen_id: (status, message) for gen_id, status, message in found}


def test_worker_table_on_postgresql(pg_db):
    workers = WorkerRepository(pg_db)
    workers.register("h:1:a:1", host="h", pid=1, lease_s=30)
    workers.register("h:1:a:1", host="h", pid=1, lease_s=30)  # again: an update, not a duplicate key
    assert workers.heartbeat("h:1:a:1", lease_s=30)
    assert workers.expired_owners() == []
    assert workers.expired_owners(now() + timedelta(seconds=60)) == ["h:1:a:1"]
    assert workers.forget_expired(now() + timedelta(seconds=60)) == 1
    assert workers.get("h:1:a:1") is None and not workers.heartbeat("h:1:a:1", lease_s=30)


def test_a_claim_skips_rows_another_transaction_holds(pg_db, tmp_path):
    ids = add_rows(pg_db, DEAD, 4)
    repo = GenerationRepository(pg_db, tmp_path)
    alive = leases.Liveness(WorkerRepository(pg_db), lease_s=2)
    with pg_db.engine.connect() as holder:
        held = holder.exec_driver_sql(
            "SELECT id FROM generation WHERE id IN (%(a)s, %(b)s) FOR UPDATE", {"a": ids[0], "b": ids[1]}
        ).fetchall()
        assert len(held) == 2
        adopted, interrupted = repo.claim_orphans(alive)  # returns at once: the held rows are skipped
        assert (adopted, interrupted) == ([], ids[2:])
        holder.rollback()
    assert repo.claim_orphans(alive) == ([], ids[:2])
    assert {s for s, _ in statuses(pg_db).values()} == {"interrupted"}
    assert {m for _, m in statuses(pg_db).values()} == {INTERRUPTED_MESSAGE}


def test_two_claimers_racing_on_postgresql_resolve_each_row_once(pg_db, tmp_path):
    ids = add_rows(pg_db, DEAD, 60)
    start = threading.Barrier(2)
    results: list[list[int]] = [[], []]

    def claim(index: int) -> None:
        repo = GenerationRepository(pg_db, tmp_path)
        start.wait()
        results[index] = repo.claim_orphans(leases.Liveness(WorkerRepository(pg_db), lease_s=2))[1]

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(results[0] + results[1]) == ids
    assert not set(results[0]) & set(results[1])


def test_a_paused_maintainer_does_not_stop_the_others(pg_db, tmp_path):
    """No process holds the sweep for the others: the session advisory lock that used to gate it (and that a
    paused holder kept) is gone; SKIP LOCKED alone keeps concurrent claims apart."""
    ids = add_rows(pg_db, DEAD, 2)
    key = int.from_bytes(hashlib.sha256(b"studio.adopt-orphans").digest()[:8], "big", signed=True)
    keeper = leases.Keeper(
        WorkerRepository(pg_db), GenerationRepository(pg_db, tmp_path), leases.new_owner(), lease_s=2
    )
    with pg_db.engine.connect() as paused:
        assert paused.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        assert keeper.sweep() == ([], ids)
        paused.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        paused.commit()


def test_a_keeper_beats_and_sweeps_on_postgresql(pg_db, tmp_path):
    ids = add_rows(pg_db, DEAD, 2)
    workers = WorkerRepository(pg_db)
    keeper = leases.Keeper(workers, GenerationRepository(pg_db, tmp_path), leases.new_owner(), lease_s=2)
    keeper.register()
    before = workers.get(keeper.owner)
    keeper.beat()
    after = workers.get(keeper.owner)
    assert before is not None and after is not None and after.heartbeat_at > before.heartbeat_at
    assert {gen_id: s for gen_id, (s, _) in statuses(pg_db).items()} == dict.fromkeys(ids, "interrupted")
    keeper.stop()
    assert workers.get(keeper.owner) is None


def wait_for(check, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.05)


def test_a_keeper_outlives_a_database_that_refuses_connections(pg_db, pg_server, tmp_path, caplog):
    """The database refuses every connection for a while (its connections cut, new ones refused): the keeper
    logs and keeps trying, and beats again once the database is back."""
    workers = WorkerRepository(pg_db)
    keeper = leases.Keeper(workers, GenerationRepository(pg_db, tmp_path), leases.new_owner(), lease_s=1.5)
    keeper.register()
    name = pg_db.engine.url.database
    admin = sa.create_engine(
        pg_server.url("postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    keeper.start()
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            conn.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %(d)s", {"d": name}
            )
        with caplog.at_level(logging.WARNING, logger="studio.services.leases"):
            wait_for(lambda: "could not renew its lease" in caplog.text, "a renewal failed")
            wait_for(lambda: "could not check for work" in caplog.text, "a sweep failed")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        mark = workers.get(keeper.owner).heartbeat_at
        wait_for(lambda: workers.get(keeper.owner).heartbeat_at > mark, "the keeper beat again")
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        admin.dispose()
        keeper.stop()
    assert workers.get(keeper.owner) is None


def test_lease_times_come_from_the_database_clock(pg_db, monkeypatch):
    """This machine's clock is an hour fast: the lease it writes, and its judgement of others', still
    follow PostgreSQL's clock."""
    fast = now() + timedelta(hours=1)
    monkeypatch.setattr(worker_repo, "now", lambda: fast)
    workers = WorkerRepository(pg_db)
    workers.register("h:1:a:1", host="h", pid=1, lease_s=30)
    with pg_db.engine.connect() as conn:
        server_now = conn.execute(sa.text("SELECT clock_timestamp()")).scalar_one()
    lease = workers.get("h:1:a:1")
    expires = datetime.fromisoformat(lease.lease_expires_at)
    assert abs((expires - server_now).total_seconds() - 30) < 10
    assert workers.expired_owners() == [] and workers.lease_of("h:1:a:1")[1]
    assert leases.Liveness(workers, lease_s=30)("h:1:a:1")
    assert workers.forget_expired() == 0
    assert abs((workers.clock() - server_now).total_seconds()) < 10


def test_registrations_racing_on_postgresql_never_meet_a_duplicate_key(pg_db):
    """The UI thread's ensure_fresh and the keeper's beat register one owner at the same moment."""
    owners = [f"h:{n}:race:1" for n in range(40)]
    start = threading.Barrier(6)
    errors: list[BaseException] = []

    def register() -> None:
        workers = WorkerRepository(pg_db)
        start.wait()
        for owner in owners:
            try:
                workers.register(owner, host="h", pid=1, lease_s=30)
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=register) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    with pg_db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM worker").scalar_one() == len(owners)


def test_an_owner_that_renews_after_it_was_judged_keeps_its_rows_on_postgresql(pg_db, tmp_path):
    workers = WorkerRepository(pg_db)
    owner = "machine-b:4242:cafe0009:1"
    workers.register(owner, host="machine-b", pid=4242, lease_s=-1)
    [gen_id] = add_rows(pg_db, owner, 1)
    repo = GenerationRepository(pg_db, tmp_path)
    liveness = leases.Liveness(workers, lease_s=2)

    def judged_then_renewed(who: str) -> bool:
        verdict = liveness(who)
        workers.heartbeat(who, lease_s=30)
        return verdict

    assert repo.claim_orphans(judged_then_renewed) == ([], [])
    assert statuses(pg_db)[gen_id][0] == "pending"
    workers.register(owner, host="machine-b", pid=4242, lease_s=-1)
    assert repo.claim_orphans(liveness) == ([], [gen_id])
