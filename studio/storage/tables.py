"""History tables (SQLModel) and the plain records the store hands out.

The tables mirror the DDL in ``migrations.py`` (a test checks they agree); the DDL is the source of
truth so that an old migration never changes when a model gains a column. Callers only ever see
``GenerationRecord``/``ImageRecord`` dataclasses (``domain/records.py``), never live ORM objects.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Computed, Float, String, delete
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, Session, SQLModel, col, select

from studio.domain.records import GenerationRecord, ImageRecord


class _CaseFree(ColumnElement[str]):
    """A bound name compared ignoring case: as it is on SQLite (the column is ``COLLATE NOCASE``),
    cast to ``citext`` on PostgreSQL (psycopg would send it as ``varchar``, compared case by case)."""

    inherit_cache = True

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.type = inner.type


@compiles(_CaseFree)
def _case_free(element: _CaseFree, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.inner, **kw))


@compiles(_CaseFree, "postgresql")
def _case_free_pg(element: _CaseFree, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({compiler.process(element.inner, **kw)} AS CITEXT)"


class NoCase(TypeDecorator[str]):
    """A name unique and compared ignoring case (``COLLATE NOCASE`` / ``citext``)."""

    impl = String
    cache_ok = True

    def bind_expression(self, bindvalue: Any) -> Any:
        return _CaseFree(bindvalue)


class Generation(SQLModel, table=True):
    """One image generation request and what came back; a row exists before the paid call."""

    __tablename__ = "generation"

    id: int | None = Field(default=None, primary_key=True)
    created_at: str  # UTC ISO 8601 text: sorts correctly, readable in any SQLite shell
    updated_at: str
    status: str
    prompt: str = ""
    model: str
    settings_json: str = "{}"
    composition_json: str | None = None
    text: str = ""
    thoughts_text: str = ""
    finish_reason: str | None = None
    block_reason: str | None = None
    error_kind: str | None = None
    error_message: str | None = None
    usage_json: str = "{}"
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cost_usd: float | None = None
    latency_ms: int | None = None
    parent_id: int | None = Field(default=None, foreign_key="generation.id")
    run_id: int | None = None
    variant_index: int = 0
    owner: str = ""  # which process runs it; orphans of dead owners become "interrupted"
    model_content_sha: str | None = None  # turns/<sha>.json holds the verbatim model turn
    grounding_json: str | None = None
    favourite: bool = False
    rating: int | None = None
    deleted_at: str | None = None
    n_images: int = 0  # output images; kept by triggers (migration 3), never written by the ORM
    cell_key: str | None = None  # a run's cell identity: a resumed batch skips cells already paid for
    author: str | None = None  # who asked for it (revision 0003); "local" without sign-in, NULL before
    private: bool = False  # seen only by its author and admins
    estimate_usd: float | None = None  # reserved against the budget while active; cost_usd counts once final
    review_status: str | None = None  # the latest review decision (revision 0004); None: open
    # Facet columns computed by SQLite from settings_json (migration 2); the ORM never writes them.
    aspect_ratio: str | None = Field(
        default=None, sa_column=Column(String, Computed("json_extract(settings_json, '$.aspect_ratio')"))
    )
    image_size: str | None = Field(
        default=None, sa_column=Column(String, Computed("json_extract(settings_json, '$.image_size')"))
    )


class Asset(SQLModel, table=True):
    """An image file, stored once per content hash however many generations use it."""

    __tablename__ = "asset"

    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(unique=True)
    mime_type: str
    width: int
    height: int
    bytes: int
    path: str  # relative to the data directory
    thumb_path: str | None = None
    created_at: str


class GenerationAsset(SQLModel, table=True):
    """Links a generation to its output, thought and reference images, in order."""

    __tablename__ = "generation_asset"

    generation_id: int = Field(foreign_key="generation.id", primary_key=True)
    role: str = Field(primary_key=True)  # "output" | "thought" | "reference"
    position: int = Field(primary_key=True)
    asset_id: int = Field(foreign_key="asset.id")
    name: str = ""


class Tag(SQLModel, table=True):
    """A free-form label; names are unique ignoring case (``COLLATE NOCASE`` in the DDL)."""

    __tablename__ = "tag"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=NoCase)


class GenerationTag(SQLModel, table=True):
    __tablename__ = "generation_tag"

    generation_id: int = Field(foreign_key="generation.id", primary_key=True)
    tag_id: int = Field(foreign_key="tag.id", primary_key=True)


class Collection(SQLModel, table=True):
    """A named board; deleting it removes its items, never the generations."""

    __tablename__ = "collection"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=NoCase)
    created_at: str


class CollectionItem(SQLModel, table=True):
    __tablename__ = "collection_item"

    collection_id: int = Field(foreign_key="collection.id", primary_key=True)
    generation_id: int = Field(foreign_key="generation.id", primary_key=True)
    added_at: str


class Run(SQLModel, table=True):
    """A matrix run or a batch (migration 2)."""

    __tablename__ = "run"

    id: int | None = Field(default=None, primary_key=True)
    created_at: str
    updated_at: str
    kind: str  # "matrix" | "batch"
    name: str = ""
    spec_json: str = "{}"
    source_sha: str | None = None
    status: str = "open"  # "open" | "running" | "done" | "cancelled"
    author: str | None = None  # who started it (revision 0003)


class Person(SQLModel, table=True):
    """A member of a team studio (revision 0003)."""

    __tablename__ = "person"

    email: str = Field(primary_key=True)  # stored lower case (domain.people.normalise_email)
    role: str  # "admin" | "designer" | "reviewer"
    budget_usd: float | None = None  # per calendar month (UTC); None: no personal cap
    disabled: bool = False
    joined: str = "cli"  # "cli" | "admin" | "domain"
    created_at: str
    updated_at: str


class Activity(SQLModel, table=True):
    """Who did what, when: tags, collections, trash and admin actions (the audit log)."""

    __tablename__ = "activity"

    id: int | None = Field(default=None, primary_key=True)
    at: str
    actor: str
    action: str  # dotted: "users.add", "tags.add", "trash.move", ...
    subject: str = ""  # what it was done to: an email, "generation:12,13", "collection:4"
    detail_json: str = "{}"


class CollectionShare(SQLModel, table=True):
    """A collection shared with one person, or with the whole team (``email`` "*"), to view or review."""

    __tablename__ = "collection_share"

    collection_id: int = Field(foreign_key="collection.id", primary_key=True)
    email: str = Field(primary_key=True)
    access: str = "view"  # "view" | "review"
    shared_by: str = ""
    shared_at: str


class Decision(SQLModel, table=True):
    """A review decision on a generation (revision 0004): the log; ``generation.review_status`` is the latest."""

    __tablename__ = "decision"

    id: int | None = Field(default=None, primary_key=True)
    generation_id: int = Field(foreign_key="generation.id")
    collection_id: int | None = None
    status: str  # "approved" | "changes" | "rejected" | "open" (cleared)
    by: str  # an email, "local", or "guest:<name>"
    at: str


class Comment(SQLModel, table=True):
    """A comment on a generation, threaded by ``parent_id``, optionally pinned (``pin_json``)."""

    __tablename__ = "comment"

    id: int | None = Field(default=None, primary_key=True)
    generation_id: int = Field(foreign_key="generation.id")
    collection_id: int | None = None
    parent_id: int | None = Field(default=None, foreign_key="comment.id")
    author: str
    body: str
    pin_json: str | None = None  # {"x":..,"y":..} or {"x":..,"y":..,"w":..,"h":..}: fractions of the image
    created_at: str
    resolved: bool = False
    version_id: int | None = Field(default=None, foreign_key="generation.id")  # the version made from it


class CommentSeen(SQLModel, table=True):
    """A comment a person has read (the unread counts)."""

    __tablename__ = "comment_seen"

    email: str = Field(primary_key=True)
    comment_id: int = Field(foreign_key="comment.id", primary_key=True)


class ShareLink(SQLModel, table=True):
    """A client link to one collection: only the sha256 of its token is kept."""

    __tablename__ = "share_link"

    id: int | None = Field(default=None, primary_key=True)
    collection_id: int = Field(foreign_key="collection.id")
    token_hash: str = Field(unique=True)
    created_by: str = ""
    created_at: str
    expires_at: str
    revoked_at: str | None = None
    feedback: bool = False
    include_prompts: bool = False


class Template(SQLModel, table=True):
    """A prompt template or style preset (migration 2); (kind, name) is unique."""

    __tablename__ = "template"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = "template"
    name: str
    body: str
    tags: str = ""  # comma-separated
    notes: str = ""
    created_at: str
    updated_at: str


class InterruptionAck(SQLModel, table=True):
    """An interrupted generation the designer retried or dismissed from the notice (migration 5)."""

    __tablename__ = "interruption_ack"

    generation_id: int = Field(foreign_key="generation.id", primary_key=True)
    action: str
    at: str


class RemovedSpend(SQLModel, table=True):
    """The money columns of a generation deleted by ``empty_trash`` (revision 0005): a month's spend and the
    spend report count them with the history's rows, so emptying the trash never gives budget back."""

    __tablename__ = "removed_spend"

    id: int | None = Field(default=None, primary_key=True)
    generation_id: int
    created_at: str
    author: str | None = None
    model: str
    status: str
    cost_usd: float | None = None
    n_images: int = 0
    total_tokens: int | None = None
    removed_at: str


class GenerationStats(SQLModel, table=True):
    """The facet cube (migration 3): sums per dimension tuple, kept by triggers, never written here."""

    __tablename__ = "generation_stats"

    live: int = Field(primary_key=True)
    status: str = Field(primary_key=True)
    model: str = Field(primary_key=True)
    aspect_ratio: str = Field(primary_key=True)
    image_size: str = Field(primary_key=True)
    n: int = 0
    images: int = 0
    cost_usd: float = 0.0
    prompt_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _load(value: str | None) -> Any:
    return json.loads(value) if value else None


def image_record(link: GenerationAsset, asset: Asset, data_dir: Path) -> ImageRecord:
    return ImageRecord(
        id=asset.id or 0,
        sha256=asset.sha256,
        mime_type=asset.mime_type,
        width=asset.width,
        height=asset.height,
        size_bytes=asset.bytes,
        path=data_dir / asset.path,
        thumb_path=data_dir / asset.thumb_path if asset.thumb_path else None,
        role=link.role,
        position=link.position,
        name=link.name,
    )


def generation_record(row: Generation, images: list[ImageRecord]) -> GenerationRecord:
    return GenerationRecord(
        id=row.id or 0,
        created_at=datetime.fromisoformat(row.created_at),
        updated_at=_time(row.updated_at),  # type: ignore[arg-type]  # updated_at is NOT NULL in the schema
        status=row.status,
        prompt=row.prompt,
        model=row.model,
        settings=_load(row.settings_json) or {},
        composition=_load(row.composition_json),
        text=row.text,
        thoughts_text=row.thoughts_text,
        finish_reason=row.finish_reason,
        block_reason=row.block_reason,
        error_kind=row.error_kind,
        error_message=row.error_message,
        usage=_load(row.usage_json) or {},
        cost_usd=row.cost_usd,
        latency_ms=row.latency_ms,
        parent_id=row.parent_id,
        run_id=row.run_id,
        variant_index=row.variant_index,
        owner=row.owner,
        favourite=bool(row.favourite),
        rating=row.rating,
        deleted_at=_time(row.deleted_at),
        images=[i for i in images if i.role == "output"],
        thought_images=[i for i in images if i.role == "thought"],
        references=[i for i in images if i.role == "reference"],
        grounding=_load(row.grounding_json),
        has_model_content=bool(row.model_content_sha),
        author=row.author,
        private=bool(row.private),
        review_status=row.review_status,
    )


# -- helpers every repository shares ------------------------------------------------------------------

_SEP = "\x1f"  # unit separator: cannot occur in a tag name (control characters are removed)


def utc_now() -> str:
    """The ``created_at``/``updated_at`` timestamp: UTC ISO text with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def drop_unused_tags(session: Session) -> None:
    """Delete tags no generation carries any more."""
    used = select(GenerationTag.tag_id).where(col(GenerationTag.tag_id) == Tag.id)
    session.exec(delete(Tag).where(~used.exists()))


class joined(FunctionElement[str]):  # noqa: N801 - an SQL function's name
    """``group_concat(value, sep)`` on SQLite, ``string_agg(value::text, sep)`` on PostgreSQL."""

    type = String()
    inherit_cache = True
    name = "joined"


@compiles(joined)
def _joined_sqlite(element: joined, compiler: SQLCompiler, **kw: Any) -> str:
    return f"group_concat({compiler.process(element.clauses, **kw)})"


@compiles(joined, "postgresql")
def _joined_pg(element: joined, compiler: SQLCompiler, **kw: Any) -> str:
    value, sep = list(element.clauses)
    return f"string_agg(CAST({compiler.process(value, **kw)} AS TEXT), {compiler.process(sep, **kw)})"


class total(FunctionElement[float]):  # noqa: N801 - an SQL function's name
    """SQLite's ``total(x)`` (a float sum, 0.0 over no rows) on both dialects."""

    type = Float()
    inherit_cache = True
    name = "total"


@compiles(total)
def _total_sqlite(element: total, compiler: SQLCompiler, **kw: Any) -> str:
    return f"total({compiler.process(element.clauses, **kw)})"


@compiles(total, "postgresql")
def _total_pg(element: total, compiler: SQLCompiler, **kw: Any) -> str:
    return f"coalesce(sum({compiler.process(element.clauses, **kw)}), 0)::float8"


def _tags_of() -> Any:
    return (
        select(joined(Tag.name, _SEP))
        .select_from(GenerationTag)
        .join(Tag, col(Tag.id) == GenerationTag.tag_id)
        .where(col(GenerationTag.generation_id) == Generation.id)
        .scalar_subquery()
    )


def _collections_of() -> Any:
    return (
        select(joined(CollectionItem.collection_id, ","))
        .where(col(CollectionItem.generation_id) == Generation.id)
        .scalar_subquery()
    )


def select_generations() -> Any:
    """Generation rows with their tag names and collection ids (sub-selects run only for returned rows)."""
    return select(Generation, _tags_of(), _collections_of())


def images_for(session: Session, ids: Sequence[int], data_dir: Path) -> dict[int, list[ImageRecord]]:
    """Every image of a page of generations in one query."""
    if not ids:
        return {}
    stmt = (
        select(GenerationAsset, Asset)
        .join(Asset, col(Asset.id) == GenerationAsset.asset_id)
        .where(col(GenerationAsset.generation_id).in_(ids))
        .order_by(col(GenerationAsset.generation_id), GenerationAsset.role, col(GenerationAsset.position))
    )
    out: dict[int, list[ImageRecord]] = {}
    for link, asset in session.exec(stmt):
        out.setdefault(link.generation_id, []).append(image_record(link, asset, data_dir))
    return out


def records(session: Session, rows: Sequence[Any], data_dir: Path) -> list[GenerationRecord]:
    """Records for rows of ``select_generations()``; a page's images in one more query (no N+1)."""
    by_gen = images_for(session, [r[0].id for r in rows if r[0].id is not None], data_dir)
    out = []
    for row, tags, collections in rows:
        record = generation_record(row, by_gen.get(row.id or 0, []))
        record.tags = sorted(tags.split(_SEP), key=str.casefold) if tags else []
        record.collections = sorted(int(c) for c in collections.split(",")) if collections else []
        out.append(record)
    return out


class Draft(SQLModel, table=True):
    """The composer's draft as JSON, one per owner ('' for now) (migration 6)."""

    __tablename__ = "draft"

    owner: str = Field(default="", primary_key=True)
    body: str
    updated_at: str


class Worker(SQLModel, table=True):
    """A live studio process and its heartbeat lease (migration 8; ``worker_repo``)."""

    __tablename__ = "worker"

    owner: str = Field(primary_key=True)
    host: str
    pid: int
    started_at: str
    heartbeat_at: str
    lease_expires_at: str = Field(index=True)
