"""Prompt templates and style presets: the ``template`` table of migration 2 (kind 'template'|'preset').

``TemplateRepository`` (``store.templates``) holds the queries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import func
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from studio.domain.errors import InputError
from studio.storage.database import Database, rowcount
from studio.storage.tables import Template, utc_now

KINDS = ("template", "preset")


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


def _record(row: Template) -> TemplateRecord:
    assert row.id is not None  # a primary key read back from its table
    tags = tuple(t for t in (row.tags or "").split(",") if t)
    return TemplateRecord(
        id=row.id,
        kind=row.kind,
        name=row.name,
        body=row.body,
        tags=tags,
        notes=row.notes,
        created_at=datetime.fromisoformat(row.created_at),
        updated_at=datetime.fromisoformat(row.updated_at),
    )


def _clean_tags(tags: Any) -> str:
    words = [" ".join(str(t).replace(",", " ").split()) for t in tags]
    return ",".join(dict.fromkeys(w for w in words if w))


def _duplicate(kind: str, name: str) -> InputError:
    return InputError(f"A {kind} named “{name}” already exists. Choose another name or edit that one.")


def _taken(session: Session, kind: str, name: str, but: int | None = None) -> bool:
    found = session.exec(
        select(Template.id).where(col(Template.kind) == kind, col(Template.name) == name)
    ).first()
    return found is not None and found != but


class TemplateRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def insert(self, *, kind: str, name: str, body: str, tags: Iterable[str] = (), notes: str = "") -> int:
        now = utc_now()
        row = Template(
            kind=kind,
            name=name,
            body=body,
            tags=_clean_tags(tags),
            notes=notes,
            created_at=now,
            updated_at=now,
        )
        with self.db.write() as session:  # checked inside the write lock, so two tabs cannot both insert
            if _taken(session, kind, name):
                raise _duplicate(kind, name)
            session.add(row)
            try:  # PostgreSQL: another process may insert the same name between the check and here
                session.flush()
            except IntegrityError:
                raise _duplicate(kind, name) from None
            assert row.id is not None
            return row.id

    def update(
        self, template_id: int, *, name: str, body: str, tags: Iterable[str] = (), notes: str = ""
    ) -> None:
        current = self.get(template_id)
        if current is None:
            raise InputError(f"Template {template_id} is not in the library.")
        with self.db.write() as session:
            if _taken(session, current.kind, name, but=template_id):
                raise _duplicate(current.kind, name)
            try:  # PostgreSQL: the unique (kind, name) decides a race the check above cannot see
                session.exec(
                    sql_update(Template)
                    .where(col(Template.id) == template_id)
                    .values(name=name, body=body, tags=_clean_tags(tags), notes=notes, updated_at=utc_now())
                )
            except IntegrityError:
                raise _duplicate(current.kind, name) from None

    def delete(self, template_id: int) -> bool:
        with self.db.write() as session:
            return bool(rowcount(session.exec(sql_delete(Template).where(col(Template.id) == template_id))))

    def get(self, template_id: int) -> TemplateRecord | None:
        with self.db.read() as session:
            row = session.get(Template, template_id)
            return _record(row) if row is not None else None

    def list_all(self, kind: str = "template") -> list[TemplateRecord]:
        stmt = (
            select(Template)
            .where(col(Template.kind) == kind)
            .order_by(func.lower(Template.name), col(Template.name))
        )
        with self.db.read() as session:
            return [_record(row) for row in session.exec(stmt).all()]
