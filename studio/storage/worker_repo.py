"""``WorkerRepository``: the studio processes sharing one history, each with a heartbeat lease.

Every long-lived studio process (``studio run``, ``studio generate`` and ``studio batch`` while they run)
registers its owner id here and renews ``lease_expires_at`` every third of a lease. A process on another
machine cannot be asked whether it is alive (its pid means nothing here), so its lease decides: once it
has expired, its pending generations may be adopted (``GenerationRepository.claim_orphans``).

Times are UTC ISO text with microseconds (``tables.utc_now``), compared as text like every other
timestamp of the history; the clocks of the machines are assumed to agree within a few seconds (NTP).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, text, update
from sqlmodel import col, select

from studio.domain.requests import ACTIVE_STATUSES
from studio.storage.database import Database, rowcount
from studio.storage.tables import Generation, Worker


def stamp(moment: datetime) -> str:
    """A moment as the history stores it (``tables.utc_now``'s format)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Lease:
    owner: str
    host: str
    pid: int
    started_at: str
    heartbeat_at: str
    lease_expires_at: str

    def expired(self, at: datetime) -> bool:
        return self.lease_expires_at <= stamp(at)


class WorkerRepository:
    """The ``worker`` table: register, heartbeat, forget, and who has let its lease expire."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def register(self, owner: str, *, host: str, pid: int, lease_s: float) -> None:
        """Record a live process (again, if its row was removed while it was paused past its lease)."""
        moment = now()
        values: dict[str, Any] = {
            "host": host,
            "pid": pid,
            "heartbeat_at": stamp(moment),
            "lease_expires_at": stamp(moment + timedelta(seconds=lease_s)),
        }
        with self.db.write() as session:  # update-or-insert: the same two statements on every dialect
            found = session.exec(update(Worker).where(col(Worker.owner) == owner).values(**values))
            if not rowcount(found):
                session.add(Worker(owner=owner, started_at=stamp(moment), **values))

    def heartbeat(self, owner: str, *, lease_s: float) -> bool:
        """Renew the lease (one UPDATE). False when the row is gone: the caller registers again."""
        moment = now()
        stmt = (
            update(Worker)
            .where(col(Worker.owner) == owner)
            .values(heartbeat_at=stamp(moment), lease_expires_at=stamp(moment + timedelta(seconds=lease_s)))
        )
        with self.db.write() as session:
            return bool(rowcount(session.exec(stmt)))

    def forget(self, owner: str) -> None:
        """A clean stop: the process and its lease are gone (its rows are final already)."""
        with self.db.write() as session:
            session.exec(delete(Worker).where(col(Worker.owner) == owner))

    def get(self, owner: str) -> Lease | None:
        with self.db.read() as session:
            row = session.exec(select(Worker).where(col(Worker.owner) == owner)).first()
        if row is None:
            return None
        return Lease(row.owner, row.host, row.pid, row.started_at, row.heartbeat_at, row.lease_expires_at)

    def expired_owners(self, at: datetime | None = None) -> list[str]:
        """Owners whose lease had expired by ``at`` (now by default), oldest lease first."""
        moment = stamp(at or now())
        stmt = (
            select(Worker.owner)
            .where(col(Worker.lease_expires_at) <= moment)
            .order_by(col(Worker.lease_expires_at))
        )
        with self.db.read() as session:
            return list(session.exec(stmt).all())

    def forget_expired(self, at: datetime | None = None) -> int:
        """Remove the rows of expired owners that no longer own an active generation (after adoption)."""
        moment = stamp(at or now())
        owns_active = exists().where(
            col(Generation.owner) == col(Worker.owner), col(Generation.status).in_(ACTIVE_STATUSES)
        )
        stmt = delete(Worker).where(col(Worker.lease_expires_at) <= moment, ~owns_active)
        with self.db.write() as session:
            return rowcount(session.exec(stmt))

    @contextmanager
    def maintenance_lock(self, name: str) -> Iterator[bool]:
        """One process at a time for maintenance named ``name``: yields True to the one that holds it.

        PostgreSQL: a session-level ``pg_try_advisory_lock`` on a connection kept for the duration (others
        get False at once and skip). SQLite: every write transaction is IMMEDIATE and so already serialised
        across processes; the lock is always granted."""
        if self.db.engine.dialect.name != "postgresql":
            yield True
            return
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        with self.db.engine.connect() as conn:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
