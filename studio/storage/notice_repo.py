"""Work a stopped studio left unfinished: the interrupted generations the designer has not yet retried or
dismissed from the notice on Generate and History.

``NoticeRepository`` (``store.notices``) on the ``interruption_ack`` table of migration 5. A mark there never
changes the history row itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, literal
from sqlmodel import col, select

from studio.storage.database import Database, rowcount, upsert
from studio.storage.filter_sql import unique_ids
from studio.storage.tables import Generation, InterruptionAck, utc_now

RETRIED, DISMISSED = "retried", "dismissed"


def _open() -> list[Any]:
    """Interrupted when a studio stopped (not cancelled, not failed), live, and not yet acknowledged."""
    acked = (
        select(InterruptionAck.generation_id)
        .where(col(InterruptionAck.generation_id) == Generation.id)
        .correlate(Generation)
    )
    return [
        col(Generation.status) == "interrupted",
        col(Generation.error_kind) == "interrupted",
        col(Generation.deleted_at).is_(None),
        ~acked.exists(),
    ]


class NoticeRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def open_ids(self) -> list[int]:
        """Ids of the interrupted generations still to tell the designer about, oldest first."""
        stmt = select(Generation.id).where(*_open()).order_by(col(Generation.id))
        with self.db.read() as session:
            return [i for i in session.exec(stmt).all() if i is not None]

    def cell_key(self, gen_id: int) -> str | None:
        """A run cell's identity (not part of ``GenerationRecord``): a retry keeps it, so a resumed batch or
        experiment finds the cell taken and does not pay for it again."""
        with self.db.read() as session:
            return session.exec(select(Generation.cell_key).where(col(Generation.id) == gen_id)).first()

    def acknowledge(self, ids: Iterable[int], action: str) -> list[int]:
        """Mark ``ids`` as retried or dismissed; returns the ids this call marked. An id already marked (a
        second click, another tab) is not returned, so a retry claimed here is sent once."""
        wanted = unique_ids(ids)
        if not wanted:
            return []
        claimed: list[int] = []
        now = utc_now()
        with self.db.write() as session:
            for gen_id in wanted:
                rows = select(Generation.id, literal(action), literal(now)).where(
                    *_open(), col(Generation.id) == gen_id
                )
                stmt = (
                    upsert(session, InterruptionAck)
                    .from_select(["generation_id", "action", "at"], rows)
                    .on_conflict_do_nothing()
                )
                if rowcount(session.exec(stmt)):
                    claimed.append(gen_id)
        return claimed

    def release(self, ids: Iterable[int]) -> None:
        """Undo a claim whose retry could not be sent, so the notice still offers it."""
        wanted = unique_ids(ids)
        if not wanted:
            return
        with self.db.write() as session:
            for gen_id in wanted:
                session.exec(
                    delete(InterruptionAck).where(
                        col(InterruptionAck.generation_id) == gen_id, col(InterruptionAck.action) == RETRIED
                    )
                )
