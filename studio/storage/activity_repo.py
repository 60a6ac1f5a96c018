"""``ActivityRepository`` (``store.activity``): the audit log on the ``activity`` table of revision 0003.

Who did what, when: admin actions on people, tags, collections, trash. Rows are only ever added. A change
and its log line belong in one transaction: ``write_activity(session, ...)`` adds the line inside a write
another repository has open (``PeopleRepository`` does); ``record`` is the standalone form.
"""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session, col, select

from studio.domain.people import ActivityRecord
from studio.storage.database import Database
from studio.storage.tables import Activity, utc_now

#: The most rows one ``list`` returns.
MAX_LIMIT = 10_000


def write_activity(
    session: Session, actor: str, action: str, subject: str = "", detail: dict[str, Any] | None = None
) -> None:
    """Add one line to the audit log inside ``session``'s write transaction."""
    session.add(
        Activity(
            at=utc_now(),
            actor=actor,
            action=action,
            subject=subject,
            detail_json=json.dumps(detail or {}, ensure_ascii=False, sort_keys=True),
        )
    )


def _record(row: Activity) -> ActivityRecord:
    try:
        detail = json.loads(row.detail_json or "{}")
    except ValueError:
        detail = {"text": row.detail_json}
    return ActivityRecord(
        id=int(row.id or 0),
        at=row.at,
        actor=row.actor,
        action=row.action,
        subject=row.subject,
        detail=detail if isinstance(detail, dict) else {"value": detail},
    )


class ActivityRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(
        self, actor: str, action: str, subject: str = "", detail: dict[str, Any] | None = None
    ) -> None:
        """Add one line to the audit log (its own transaction)."""
        with self.db.write() as session:
            write_activity(session, actor, action, subject, detail)

    def list(
        self,
        *,
        since: str | None = None,
        until: str | None = None,
        actor: str | None = None,
        action_prefix: str | None = None,
        limit: int = 500,
    ) -> list[ActivityRecord]:
        """The newest lines first. ``since`` (inclusive) and ``until`` (exclusive) are UTC ISO texts (a date
        ``"2026-11-30"`` works: it sorts before that day's times); ``action_prefix`` "users." matches
        "users.add", "users.set", ..."""
        stmt = select(Activity)
        if since:
            stmt = stmt.where(col(Activity.at) >= since)
        if until:
            stmt = stmt.where(col(Activity.at) < until)
        if actor:
            stmt = stmt.where(col(Activity.actor) == actor)
        if action_prefix:
            stmt = stmt.where(col(Activity.action).startswith(action_prefix, autoescape=True))
        stmt = stmt.order_by(col(Activity.at).desc(), col(Activity.id).desc())
        stmt = stmt.limit(max(1, min(int(limit), MAX_LIMIT)))
        with self.db.read() as session:
            return [_record(row) for row in session.exec(stmt).all()]
