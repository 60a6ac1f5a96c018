"""Work a stopped studio left unfinished: the interrupted generations the designer has not yet retried or
dismissed from the notice on Generate and History.

Plain SQL on the ``interruption_ack`` table of migration 5 (no ORM class: the DDL is the contract). A mark
there never changes the history row itself. Every function takes the ``Store``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import CursorResult, text

from studio.storage.filter_sql import unique_ids
from studio.storage.generation_repo import Store, _now

RETRIED, DISMISSED = "retried", "dismissed"

#: Interrupted when a studio stopped (not cancelled, not failed), live, and not yet acknowledged.
_OPEN = (
    "FROM generation g WHERE g.status = 'interrupted' AND g.error_kind = 'interrupted' "
    "AND g.deleted_at IS NULL "
    "AND NOT EXISTS (SELECT 1 FROM interruption_ack a WHERE a.generation_id = g.id)"
)


def open_ids(store: Store) -> list[int]:
    """Ids of the interrupted generations still to tell the designer about, oldest first."""
    with store._read() as session:
        return [row[0] for row in session.execute(text(f"SELECT g.id {_OPEN} ORDER BY g.id")).all()]


def cell_key(store: Store, gen_id: int) -> str | None:
    """A run cell's identity (not part of ``GenerationRecord``): a retry keeps it, so a resumed batch or
    experiment finds the cell taken and does not pay for it again."""
    with store._read() as session:
        row = session.execute(text("SELECT cell_key FROM generation WHERE id = :id"), {"id": gen_id}).first()
    return row[0] if row is not None else None


def acknowledge(store: Store, ids: Iterable[int], action: str) -> list[int]:
    """Mark ``ids`` as retried or dismissed; returns the ids this call marked. An id already marked (a second
    click, another tab) is not returned, so a retry claimed here is sent once."""
    wanted = unique_ids(ids)
    if not wanted:
        return []
    claimed: list[int] = []
    now = _now()
    with store._write() as session:
        for gen_id in wanted:
            result = session.execute(
                text(
                    "INSERT OR IGNORE INTO interruption_ack (generation_id, action, at) "
                    f"SELECT g.id, :action, :now {_OPEN} AND g.id = :id"
                ),
                {"action": action, "now": now, "id": gen_id},
            )
            # DML: a CursorResult at run time, typed as the base Result
            if cast("CursorResult[Any]", result).rowcount:
                claimed.append(gen_id)
    return claimed


def release(store: Store, ids: Iterable[int]) -> None:
    """Undo a claim whose retry could not be sent, so the notice still offers it."""
    wanted = unique_ids(ids)
    if not wanted:
        return
    with store._write() as session:
        for gen_id in wanted:
            session.execute(
                text("DELETE FROM interruption_ack WHERE generation_id = :id AND action = :action"),
                {"id": gen_id, "action": RETRIED},
            )
