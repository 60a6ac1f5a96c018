"""Runs (matrix runs, batches) and the generations that belong to them; lineage queries.

Plain SQL on the ``run`` table of migration 2 (no ORM class: the DDL is the contract). Every function
takes the ``Store`` and hands back plain dataclasses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, text
from sqlmodel import col, select

from studio.domain.requests import ACTIVE_STATUSES, SUCCEEDED
from studio.storage.generation_repo import Store, _now
from studio.storage.tables import Generation, GenerationRecord


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


_COLUMNS = "id, created_at, updated_at, kind, name, spec_json, source_sha, status"


def _run(row: Any) -> RunRecord:
    return RunRecord(
        id=row[0],
        created_at=datetime.fromisoformat(row[1]),
        updated_at=datetime.fromisoformat(row[2]),
        kind=row[3],
        name=row[4],
        spec=json.loads(row[5] or "{}"),
        source_sha=row[6],
        status=row[7],
    )


def create_run(
    store: Store, *, kind: str, name: str, spec: dict[str, Any], source_sha: str | None = None
) -> int:
    now = _now()
    with store._write() as session:
        result = session.execute(
            text(
                "INSERT INTO run (created_at, updated_at, kind, name, spec_json, source_sha, status) "
                "VALUES (:now, :now, :kind, :name, :spec, :sha, 'open')"
            ),
            {
                "now": now,
                "kind": kind,
                "name": name,
                "spec": json.dumps(spec, ensure_ascii=False),
                "sha": source_sha,
            },
        )
        # DML: a CursorResult at run time, typed as the base Result
        return int(cast("CursorResult[Any]", result).lastrowid)


def update_run(
    store: Store,
    run_id: int,
    *,
    status: str | None = None,
    spec: dict[str, Any] | None = None,
    name: str | None = None,
) -> None:
    values: dict[str, Any] = {"id": run_id, "now": _now()}
    sets = ["updated_at = :now"]
    for column, value in (
        ("status", status),
        ("name", name),
        ("spec_json", None if spec is None else json.dumps(spec, ensure_ascii=False)),
    ):
        if value is not None:
            sets.append(f"{column} = :{column}")
            values[column] = value
    with store._write() as session:
        session.execute(text(f"UPDATE run SET {', '.join(sets)} WHERE id = :id"), values)


def get_run(store: Store, run_id: int) -> RunRecord | None:
    with store._read() as session:
        row = session.execute(text(f"SELECT {_COLUMNS} FROM run WHERE id = :id"), {"id": run_id}).first()
    return _run(row) if row is not None else None


def find_by_source(store: Store, source_sha: str, kind: str = "batch") -> RunRecord | None:
    """The newest run made from a file with this sha256 (a rerun of the same file resumes it)."""
    with store._read() as session:
        row = session.execute(
            text(
                f"SELECT {_COLUMNS} FROM run WHERE source_sha = :sha AND kind = :kind "
                "ORDER BY id DESC LIMIT 1"
            ),
            {"sha": source_sha, "kind": kind},
        ).first()
    return _run(row) if row is not None else None


def list_runs(store: Store, *, kind: str | None = None, limit: int = 50) -> list[RunRecord]:
    where = "WHERE kind = :kind" if kind else ""
    with store._read() as session:
        rows = session.execute(
            text(f"SELECT {_COLUMNS} FROM run {where} ORDER BY id DESC LIMIT :limit"),
            {"kind": kind, "limit": max(1, min(limit, 1000))},
        ).all()
    return [_run(row) for row in rows]


def run_generations(store: Store, run_id: int) -> list[GenerationRecord]:
    """Every generation of a run, oldest first."""
    stmt = select(Generation.id).where(col(Generation.run_id) == run_id).order_by(col(Generation.id))
    with store._read() as session:
        ids = [i for i in session.exec(stmt).all() if i is not None]
    return store.records(ids)


def cell_statuses(store: Store, run_id: int) -> dict[str, list[tuple[int, str]]]:
    """cell_key -> [(generation id, status), ...] oldest first, without loading images."""
    stmt = (
        select(Generation.cell_key, Generation.id, Generation.status)
        .where(col(Generation.run_id) == run_id)
        .order_by(col(Generation.id))
    )
    out: dict[str, list[tuple[int, str]]] = {}
    with store._read() as session:
        for key, gen_id, status in session.exec(stmt).all():
            if key is not None and gen_id is not None:
                out.setdefault(key, []).append((gen_id, status))
    return out


def settled_cells(store: Store, run_id: int) -> set[str]:
    """Cells that need no new paid call: one generation succeeded, or one is still pending/running."""
    return {
        key
        for key, rows in cell_statuses(store, run_id).items()
        if any(status == SUCCEEDED or status in ACTIVE_STATUSES for _, status in rows)
    }
