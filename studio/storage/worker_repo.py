"""``WorkerRepository``: the studio processes sharing one history, each with a heartbeat lease.

Every long-lived studio process (``studio run``, ``studio generate`` and ``studio batch`` while they run)
registers its owner id here and renews ``lease_expires_at`` every third of a lease. A process on another
machine cannot be asked whether it is alive (its pid means nothing here), so its lease decides: once it
has expired, its pending generations may be adopted (``GenerationRepository.claim_orphans``).

Times are UTC ISO text with microseconds (``tables.utc_now``'s format), compared as text. Lease times are
taken from the database's clock where it has one (PostgreSQL's ``clock_timestamp()``), so the machines'
clocks never have to agree: the owner writes its expiry and every other process compares it with the same
clock. SQLite's clock is this machine's anyway (one file, one machine).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from studio.domain.requests import ACTIVE_STATUSES
from studio.storage.database import Database, rowcount
from studio.storage.tables import Generation, Worker


def stamp(moment: datetime) -> str:
    """A moment as the history stores it (``tables.utc_now``'s format)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def now() -> datetime:
    """This machine's clock (only where the database has no clock of its own: SQLite)."""
    return datetime.now(UTC)


def db_now(session: Session) -> datetime:
    """The database's clock: PostgreSQL's ``clock_timestamp()`` (the moment of the call, not of the
    transaction's start), else this machine's."""
    if session.get_bind().dialect.name == "postgresql":
        moment = session.exec(select(func.clock_timestamp())).one()
        assert isinstance(moment, datetime)
        return moment.astimezone(UTC)
    return now()


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


def _lease(row: Worker) -> Lease:
    return Lease(row.owner, row.host, row.pid, row.started_at, row.heartbeat_at, row.lease_expires_at)


class WorkerRepository:
    """The ``worker`` table: register, heartbeat, forget, and who has let its lease expire."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def clock(self) -> datetime:
        """The moment now by the clock the leases are written with (the database's where it has one)."""
        with self.db.read() as session:
            return db_now(session)

    def register(self, owner: str, *, host: str, pid: int, lease_s: float) -> None:
        """Record a live process (again, if its row was removed while it was paused past its lease).

        One ``INSERT … ON CONFLICT (owner) DO UPDATE``: two registrations of one owner at the same moment
        (the UI thread's ``ensure_fresh`` and the keeper's beat) both succeed, neither meets a duplicate key."""
        dialect = self.db.engine.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        with self.db.write() as session:
            moment = db_now(session)
            values: dict[str, Any] = {
                "host": host,
                "pid": pid,
                "heartbeat_at": stamp(moment),
                "lease_expires_at": stamp(moment + timedelta(seconds=lease_s)),
            }
            stmt = insert(Worker).values(owner=owner, started_at=stamp(moment), **values)
            session.exec(stmt.on_conflict_do_update(index_elements=["owner"], set_=values))

    def heartbeat(self, owner: str, *, lease_s: float) -> bool:
        """Renew the lease (one UPDATE). False when the row is gone: the caller registers again."""
        with self.db.write() as session:
            moment = db_now(session)
            stmt = (
                update(Worker)
                .where(col(Worker.owner) == owner)
                .values(
                    heartbeat_at=stamp(moment), lease_expires_at=stamp(moment + timedelta(seconds=lease_s))
                )
            )
            return bool(rowcount(session.exec(stmt)))

    def forget(self, owner: str) -> None:
        """A clean stop: the process and its lease are gone (its rows are final already)."""
        with self.db.write() as session:
            session.exec(delete(Worker).where(col(Worker.owner) == owner))

    def get(self, owner: str) -> Lease | None:
        with self.db.read() as session:
            row = session.exec(select(Worker).where(col(Worker.owner) == owner)).first()
        return _lease(row) if row is not None else None

    def lease_of(self, owner: str) -> tuple[Lease | None, bool]:
        """``owner``'s lease and whether it still holds, judged now by the database's clock."""
        with self.db.read() as session:
            row = session.exec(select(Worker).where(col(Worker.owner) == owner)).first()
            if row is None:
                return None, False
            return _lease(row), not _lease(row).expired(db_now(session))

    def expired_owners(self, at: datetime | None = None) -> list[str]:
        """Owners whose lease had expired by ``at`` (now by the database's clock), oldest lease first."""
        with self.db.read() as session:
            moment = stamp(at or db_now(session))
            stmt = (
                select(Worker.owner)
                .where(col(Worker.lease_expires_at) <= moment)
                .order_by(col(Worker.lease_expires_at))
            )
            return list(session.exec(stmt).all())

    def forget_expired(self, at: datetime | None = None) -> int:
        """Remove the rows of expired owners that no longer own an active generation (after adoption)."""
        owns_active = exists().where(
            col(Generation.owner) == col(Worker.owner), col(Generation.status).in_(ACTIVE_STATUSES)
        )
        with self.db.write() as session:
            moment = stamp(at or db_now(session))
            stmt = delete(Worker).where(col(Worker.lease_expires_at) <= moment, ~owns_active)
            return rowcount(session.exec(stmt))
