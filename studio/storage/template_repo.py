"""Prompt templates and style presets: the ``template`` table of migration 2 (kind 'template'|'preset')."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, text

from studio.domain.errors import InputError
from studio.storage.generation_repo import Store, _now

KINDS = ("template", "preset")
_COLUMNS = "id, kind, name, body, tags, notes, created_at, updated_at"


@dataclass(frozen=True)
class TemplateRecord:
    id: int
    kind: str
    name: str
    body: str
    tags: tuple[str, ...]
    notes: str
    created_at: datetime
    updated_at: datetime


def _record(row: Any) -> TemplateRecord:
    tags = tuple(t for t in (row[4] or "").split(",") if t)
    return TemplateRecord(
        id=row[0],
        kind=row[1],
        name=row[2],
        body=row[3],
        tags=tags,
        notes=row[5],
        created_at=datetime.fromisoformat(row[6]),
        updated_at=datetime.fromisoformat(row[7]),
    )


def _clean_tags(tags: Any) -> str:
    words = [" ".join(str(t).replace(",", " ").split()) for t in tags]
    return ",".join(dict.fromkeys(w for w in words if w))


def _duplicate(kind: str, name: str) -> InputError:
    return InputError(f"A {kind} named “{name}” already exists. Choose another name or edit that one.")


def _taken(session: Any, kind: str, name: str, but: int | None = None) -> bool:
    row = session.execute(
        text("SELECT id FROM template WHERE kind = :kind AND name = :name"), {"kind": kind, "name": name}
    ).first()
    return row is not None and row[0] != but


def insert(
    store: Store, *, kind: str, name: str, body: str, tags: Iterable[str] = (), notes: str = ""
) -> int:
    now = _now()
    with store._write() as session:  # checked inside the write lock, so two tabs cannot both insert
        if _taken(session, kind, name):
            raise _duplicate(kind, name)
        result = session.execute(
            text(
                "INSERT INTO template (kind, name, body, tags, notes, created_at, updated_at) "
                "VALUES (:kind, :name, :body, :tags, :notes, :now, :now)"
            ),
            {"kind": kind, "name": name, "body": body, "tags": _clean_tags(tags), "notes": notes, "now": now},
        )
        # DML: a CursorResult at run time, typed as the base Result
        return int(cast("CursorResult[Any]", result).lastrowid)


def update(
    store: Store, template_id: int, *, name: str, body: str, tags: Iterable[str] = (), notes: str = ""
) -> None:
    current = get(store, template_id)
    if current is None:
        raise InputError(f"Template {template_id} is not in the library.")
    with store._write() as session:
        if _taken(session, current.kind, name, but=template_id):
            raise _duplicate(current.kind, name)
        session.execute(
            text(
                "UPDATE template SET name = :name, body = :body, tags = :tags, notes = :notes, updated_at = :now "
                "WHERE id = :id"
            ),
            {
                "id": template_id,
                "name": name,
                "body": body,
                "tags": _clean_tags(tags),
                "notes": notes,
                "now": _now(),
            },
        )


def delete(store: Store, template_id: int) -> bool:
    with store._write() as session:
        result = session.execute(text("DELETE FROM template WHERE id = :id"), {"id": template_id})
        return bool(cast("CursorResult[Any]", result).rowcount)


def get(store: Store, template_id: int) -> TemplateRecord | None:
    with store._read() as session:
        row = session.execute(
            text(f"SELECT {_COLUMNS} FROM template WHERE id = :id"), {"id": template_id}
        ).first()
    return _record(row) if row is not None else None


def list_all(store: Store, kind: str = "template") -> list[TemplateRecord]:
    with store._read() as session:
        rows = session.execute(
            text(f"SELECT {_COLUMNS} FROM template WHERE kind = :kind ORDER BY name COLLATE NOCASE"),
            {"kind": kind},
        ).all()
    return [_record(row) for row in rows]
