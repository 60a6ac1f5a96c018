"""Runs (matrix runs, batches) and the generations that belong to them: ``RunRepository`` (``store.runs``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from studio.domain.records import GenerationRecord
from studio.domain.requests import ACTIVE_STATUSES, SUCCEEDED
from studio.storage.database import Database
from studio.storage.tables import Generation, Run, utc_now


@dataclass(frozen=True)
class RunRecord:
    id: int
    created_at: datetime
    updated_at: datetime
    kind: str  # "matrix" | "batch"
    name: str
    spec: dict[str, Any]
    source_sha: str | None
    status: str  # "open" | "running" | "done" | "cancelled"
    author: str | None = None  # who started it ("local" without sign-in; None before accounts)


def _run(row: Run) -> RunRecord:
    assert row.id is not None  # a primary key read back from its table
    return RunRecord(
        id=row.id,
        created_at=datetime.fromisoformat(row.created_at),
        updated_at=datetime.fromisoformat(row.updated_at),
        kind=row.kind,
        name=row.name,
        spec=json.loads(row.spec_json or "{}"),
        source_sha=row.source_sha,
        status=row.status,
        author=row.author,
    )


class RunRepository:
    """The ``run`` table, and a run's generations by cell."""

    def __init__(self, db: Database, records: Callable[[Iterable[int]], list[GenerationRecord]]) -> None:
        self.db = db
        self._records = records  # the gallery's records(ids)

    def create(
        self,
        *,
        kind: str,
        name: str,
        spec: dict[str, Any],
        source_sha: str | None = None,
        author: str | None = None,
    ) -> int:
        now = utc_now()
        row = Run(
            created_at=now,
            updated_at=now,
            kind=kind,
            name=name,
            spec_json=json.dumps(spec, ensure_ascii=False),
            source_sha=source_sha,
            status="open",
            author=author,
        )
        with self.db.write() as session:
            session.add(row)
            session.flush()
            assert row.id is not None
            return row.id

    def update(
        self,
        run_id: int,
        *,
        status: str | None = None,
        spec: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        values: dict[str, Any] = {"updated_at": utc_now()}
        for column, value in (
            ("status", status),
            ("name", name),
            ("spec_json", None if spec is None else json.dumps(spec, ensure_ascii=False)),
        ):
            if value is not None:
                values[column] = value
        with self.db.write() as session:
            session.exec(update(Run).where(col(Run.id) == run_id).values(**values))

    def get(self, run_id: int) -> RunRecord | None:
        with self.db.read() as session:
            row = session.get(Run, run_id)
            return _run(row) if row is not None else None

    def find_by_source(self, source_sha: str, kind: str = "batch") -> RunRecord | None:
        """The newest run made from a file with this sha256 (a rerun of the same file resumes it)."""
        stmt = (
            select(Run)
            .where(col(Run.source_sha) == source_sha, col(Run.kind) == kind)
            .order_by(col(Run.id).desc())
            .limit(1)
        )
        with self.db.read() as session:
            row = session.exec(stmt).first()
            return _run(row) if row is not None else None

    def list_runs(self, *, kind: str | None = None, limit: int = 50) -> list[RunRecord]:
        stmt = select(Run)
        if kind:
            stmt = stmt.where(col(Run.kind) == kind)
        stmt = stmt.order_by(col(Run.id).desc()).limit(max(1, min(limit, 1000)))
        with self.db.read() as session:
            return [_run(row) for row in session.exec(stmt).all()]

    def generations(self, run_id: int) -> list[GenerationRecord]:
        """Every generation of a run, oldest first."""
        stmt = select(Generation.id).where(col(Generation.run_id) == run_id).order_by(col(Generation.id))
        with self.db.read() as session:
            ids = [i for i in session.exec(stmt).all() if i is not None]
        return self._records(ids)

    def cell_statuses(self, run_id: int) -> dict[str, list[tuple[int, str]]]:
        """cell_key -> [(generation id, status), ...] oldest first, without loading images."""
        stmt = (
            select(Generation.cell_key, Generation.id, Generation.status)
            .where(col(Generation.run_id) == run_id)
            .order_by(col(Generation.id))
        )
        out: dict[str, list[tuple[int, str]]] = {}
        with self.db.read() as session:
            for key, gen_id, status in session.exec(stmt).all():
                if key is not None and gen_id is not None:
                    out.setdefault(key, []).append((gen_id, status))
        return out

    def settled_cells(self, run_id: int) -> set[str]:
        """Cells that need no new paid call: one generation succeeded, or one is still pending/running."""
        return {
            key
            for key, rows in self.cell_statuses(run_id).items()
            if any(status == SUCCEEDED or status in ACTIVE_STATUSES for _, status in rows)
        }
