"""The lease and claim code paths on a real PostgreSQL 15 (the ``pg_server`` session fixture).

The PostgreSQL backend of ``Store`` is built separately; these tests give the lease code a real server
now: the worker table from its migration DDL, ``FOR UPDATE SKIP LOCKED`` claims (a row another
transaction holds is skipped, not waited for; two claimers racing resolve each row once) and the
advisory lock of one-at-a-time maintenance. The generation table here holds only the columns a claim
without a journal touches."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from studio.services import leases
from studio.storage import migrations
from studio.storage.database import Database
from studio.storage.generation_repo import INTERRUPTED_MESSAGE, GenerationRepository
from studio.storage.worker_repo import WorkerRepository, now

GENERATION_DDL = """
CREATE TABLE generation (
    id SERIAL PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status TEXT NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    error_kind TEXT,
    error_message TEXT
)
"""
DEAD = "machine-b:4242:cafe0001:1"  # another host, no lease, started long ago: dead


@pytest.fixture
def pg_db(pg_server, tmp_path: Path):
    url = pg_server.create_database()
    engine = sa.create_engine(url, pool_size=8)
    with engine.begin() as conn:
        for statement in (migrations.WORKER_DDL + ";;" + GENERATION_DDL).split(";;"):
            if statement.strip():
                conn.exec_driver_sql(statement)
    db = Database(tmp_path / "pg", engine)
    yield db
    engine.dispose()
    pg_server.drop_database(sa.make_url(url).database)


def add_rows(db: Database, owner: str, count: int) -> list[int]:
    with db.engine.begin() as conn:
        return [
            conn.exec_driver_sql(
                "INSERT INTO generation (created_at, updated_at, status, owner) "
                "VALUES ('t', 't', 'pending', %(owner)s) RETURNING id",
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


def test_the_advisory_lock_lets_one_maintainer_in(pg_db):
    first, second = WorkerRepository(pg_db), WorkerRepository(pg_db)
    with first.maintenance_lock("studio.test") as mine:
        assert mine
        with second.maintenance_lock("studio.test") as theirs:
            assert not theirs  # refused at once, not waited for
        with second.maintenance_lock("studio.other") as other:
            assert other  # another name is another lock
    with second.maintenance_lock("studio.test") as now_mine:
        assert now_mine  # released at the end of the block


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
