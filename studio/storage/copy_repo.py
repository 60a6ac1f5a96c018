"""Copy a history's rows into another database, table by table (``studio copy-to``; services.copying).

SQLAlchemy Core over the tables of ``tables.py``, in foreign-key order, ids kept as they are. A row already
in the target (same primary key) is skipped, so a second run copies nothing and a run killed halfway
resumes: each batch of ``BATCH`` rows is one transaction, so a kill loses at most one batch. A row that
changed in the source since an earlier copy (a rating, a tag name, the trash) is brought up to date; rows
deleted from the source since then stay in the target. A row whose
id the target already uses for something else (another history) stops the copy with a sentence instead of
mixing two histories.

Derived data is not copied but rebuilt by the target itself: ``generation_stats`` and the full-text index
(SQLite's FTS5 tables, kept by their triggers), ``generation.n_images`` (kept by triggers on SQLite, set
once at the end where the target has none), computed columns. On PostgreSQL each table's sequence is moved
past the copied ids so the next generation gets a new one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Connection, Table, and_, func, insert, select, text, tuple_, update
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError
from sqlmodel import SQLModel

from studio.domain.errors import InputError, StoreError
from studio.storage import database, files
from studio.storage import tables as _tables  # noqa: F401  (registers every table on SQLModel.metadata)
from studio.storage.database import Database

BATCH = 500
SKIPPED = frozenset({"generation_stats", "worker"})  # derived (triggers keep it) and live processes (leases)
# Columns that say a row with this primary key is the same record (not another history's).
IDENTITY: dict[str, tuple[str, ...]] = {
    "generation": ("created_at",),
    "asset": ("sha256",),
    "tag": ("name",),
    "collection": ("name", "created_at"),
    "run": ("created_at", "kind"),
    "template": ("kind", "name"),
}
ZEROED = {"generation": {"n_images": 0}}  # kept by the target (triggers / the final reconcile)

Progress = Callable[[str, int, int], None]


# -- URLs -----------------------------------------------------------------------------------------


def parse_url(url: str) -> URL:
    """A database URL, or an InputError naming what is wrong with it (the password never shown)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise InputError(
            "--database must be a database URL such as sqlite:////path/studio.db or "
            "postgresql+psycopg://user@host:5432/studio."
        ) from None
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise InputError(
            f"The studio keeps its history in SQLite or PostgreSQL, not {parsed.get_backend_name()!r}."
        )
    if parsed.get_backend_name() == "sqlite" and not parsed.database:
        raise InputError("A SQLite --database URL must name a file, e.g. sqlite:////path/studio.db.")
    return parsed


def shown(url: str | URL) -> str:
    """A URL as it may be printed: the password hidden."""
    if not isinstance(url, str):
        url = url.render_as_string(hide_password=False)
    return database.shown(url)  # the password hidden, in the address and in its query too


def _identity(url: URL) -> tuple[str, ...]:
    if url.get_backend_name() == "sqlite":
        return ("sqlite", str(Path(url.database or "").expanduser().resolve()))
    return (url.get_backend_name(), url.host or "", str(url.port or 5432), url.database or "")


def same_database(a: str | URL, b: str | URL) -> bool:
    """Whether two URLs name the same database (drivers, users and passwords aside)."""
    return _identity(make_url(a) if isinstance(a, str) else a) == _identity(
        make_url(b) if isinstance(b, str) else b
    )


def fingerprint(db: Database) -> tuple[str, ...]:
    """What the database IS, whatever URL reached it (``same_database`` compares URLs: ``localhost`` and
    ``127.0.0.1``, or a TCP address and the server's socket, name one database differently): a SQLite file's
    device and inode; a PostgreSQL server's start time, port and the database's oid (no privilege needed)."""
    if db.engine.dialect.name == "sqlite":
        try:
            st = Path(db.path).stat()
        except OSError:
            return ("sqlite", str(db.path))
        return ("sqlite", str(st.st_dev), str(st.st_ino))
    with db.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT pg_postmaster_start_time()::text, current_setting('port'), "
                "(SELECT oid::text FROM pg_database WHERE datname = current_database())"
            )
        ).one()
    return ("postgresql", *(str(v) for v in row))


def database_url(db: Database) -> URL:
    """The URL a database was opened with (a SQLite file's path made absolute)."""
    url = db.engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return url.set(database=str(db.path))
    return url


# -- what to copy ---------------------------------------------------------------------------------


def copied_tables() -> list[Table]:
    """The history's tables, parents before children."""
    return [t for t in SQLModel.metadata.sorted_tables if t.name not in SKIPPED]


def _columns(table: Table) -> list[Column[Any]]:
    return [c for c in table.columns if c.computed is None]


@dataclass
class SourceFiles:
    """Every object the source's rows name, by key (``images/ab/<sha>.<ext>``, ...)."""

    originals: dict[str, str] = field(default_factory=dict)  # key -> sha256 the bytes must have
    derived: set[str] = field(default_factory=set)  # thumbnails: copied as they are, if present
    turns: dict[str, str] = field(default_factory=dict)  # key -> sha256
    drafts: set[str] = field(default_factory=set)  # sha256 of reference-tray images a draft names
    shas: set[str] = field(default_factory=set)  # every asset's sha256 (for previews)
    users: dict[str, list[int]] = field(default_factory=dict)  # key -> generations that use it


class Copier:
    """One copy: a consistent read of the source (one read transaction) and batches into the target."""

    def __init__(self, source: Database, target: Database, *, batch: int = BATCH) -> None:
        self.source, self.target, self.batch = source, target, max(1, batch)
        self._session_cm = source.read()
        self._session = self._session_cm.__enter__()
        self._src: Connection = self._session.connection()
        if self._src.dialect.name == "postgresql":  # one snapshot for the whole copy
            self._src.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")

    def close(self) -> None:
        self._session_cm.__exit__(None, None, None)

    def __enter__(self) -> Copier:
        return self

    def __exit__(self, kind: Any, value: Any, trace: Any) -> None:
        self._session_cm.__exit__(kind, value, trace)  # a database error becomes a StoreError sentence

    # -- reading --------------------------------------------------------------------------------

    def files(self) -> SourceFiles:
        t = SQLModel.metadata.tables
        out = SourceFiles()
        asset, link, gen, draft = t["asset"], t["generation_asset"], t["generation"], t["draft"]
        users: dict[int, list[int]] = {}
        for asset_id, gen_id in self._src.execute(select(link.c.asset_id, link.c.generation_id)):
            users.setdefault(asset_id, []).append(gen_id)
        rows = self._src.execute(select(asset.c.id, asset.c.sha256, asset.c.path, asset.c.thumb_path))
        for asset_id, sha, path, thumb in rows:
            out.originals[path] = sha
            out.shas.add(sha)
            out.users[path] = sorted(users.get(asset_id, []))
            if thumb:
                out.derived.add(thumb)
        stmt = select(gen.c.id, gen.c.model_content_sha).where(gen.c.model_content_sha.is_not(None))
        for gen_id, sha in self._src.execute(stmt):
            key = files.turn_relpath(sha)
            out.turns[key] = sha
            out.users.setdefault(key, []).append(gen_id)
        for (body,) in self._src.execute(select(draft.c.body)):
            try:
                tray = json.loads(body).get("tray") or []
            except (ValueError, AttributeError):
                continue
            out.drafts |= {str(i["sha256"]) for i in tray if isinstance(i, dict) and i.get("sha256")}
        return out

    def counts(self) -> dict[str, int]:
        return {
            t.name: int(self._src.execute(select(func.count()).select_from(t)).scalar_one())
            for t in copied_tables()
        }

    def _pages(self, table: Table) -> Iterator[list[dict[str, Any]]]:
        pk = list(table.primary_key.columns)
        cols = _columns(table)
        last: tuple[Any, ...] | None = None
        while True:
            stmt = select(*cols).order_by(*pk).limit(self.batch)
            if last is not None:
                stmt = stmt.where(tuple_(*pk) > tuple_(*last))
            rows = [dict(r._mapping) for r in self._src.execute(stmt)]
            if not rows:
                return
            yield rows
            last = tuple(rows[-1][c.name] for c in pk)

    def check_target(self, page: int = 5000) -> None:
        """Refuse, before anything is written, a target whose rows are another history's: a row under one
        of this studio's ids that is a different record (another creation time, another image)."""
        for name, ident in IDENTITY.items():
            table = SQLModel.metadata.tables[name]
            (pk,) = table.primary_key.columns
            after = None
            while True:
                with self.target.read() as session:
                    stmt = select(pk, *(table.c[n] for n in ident)).order_by(pk).limit(page)
                    if after is not None:
                        stmt = stmt.where(pk > after)
                    theirs = {r[0]: tuple(r[1:]) for r in session.connection().execute(stmt)}
                if not theirs:
                    break
                after = max(theirs)
                stmt = select(pk, *(table.c[n] for n in ident)).where(pk.in_(list(theirs)))
                for row in self._src.execute(stmt):
                    if theirs[row[0]] != tuple(row[1:]):
                        raise StoreError(_foreign(name, (row[0],)))

    def target_keys(self) -> list[str]:
        """Every file the target's rows name that must exist (originals, references, model turns)."""
        t = SQLModel.metadata.tables
        asset, gen = t["asset"], t["generation"]
        with self.target.read() as session:
            conn = session.connection()
            keys = [p for (p,) in conn.execute(select(asset.c.path))]
            stmt = select(gen.c.model_content_sha).where(gen.c.model_content_sha.is_not(None)).distinct()
            keys += [files.turn_relpath(sha) for (sha,) in conn.execute(stmt)]
        return keys

    # -- writing --------------------------------------------------------------------------------

    def copy_rows(self, progress: Progress | None = None) -> tuple[dict[str, int], dict[str, int]]:
        """Copy every table: the rows inserted and the rows brought up to date (a rating, a tag, the trash
        changed since an earlier copy) per table; both 0 everywhere on a second run."""
        inserted: dict[str, int] = {}
        updated: dict[str, int] = {}
        totals = self.counts()
        for table in copied_tables():
            inserted[table.name] = updated[table.name] = done = 0
            for rows in self._pages(table):
                new, changed = self._write_batch(table, rows)
                inserted[table.name] += new
                updated[table.name] += changed
                done += len(rows)
                if progress:
                    progress(table.name, done, totals[table.name])
        with self.target.write() as session:
            conn = session.connection()
            self._reconcile_images(conn)
            if conn.dialect.name == "postgresql":
                self._reset_sequences(conn)
        return inserted, updated

    def _write_batch(self, table: Table, rows: list[dict[str, Any]]) -> tuple[int, int]:
        """One transaction: insert the rows the target lacks, update the ones that differ."""
        pk = list(table.primary_key.columns)
        names = [c.name for c in _columns(table) if c.name not in ZEROED.get(table.name, {})]
        first = tuple(rows[0][c.name] for c in pk)
        last = tuple(rows[-1][c.name] for c in pk)
        ident = IDENTITY.get(table.name, ())
        with self.target.write() as session:
            conn = session.connection()
            stmt = select(*(table.c[n] for n in names)).where(
                and_(tuple_(*pk) >= tuple_(*first), tuple_(*pk) <= tuple_(*last))
            )
            there = {tuple(r[c.name] for c in pk): dict(r) for r in conn.execute(stmt).mappings()}
            missing, changed = [], 0
            try:
                for row in rows:
                    key = tuple(row[c.name] for c in pk)
                    have = there.get(key)
                    if have is None:
                        missing.append(row | ZEROED.get(table.name, {}))
                    elif any(have[n] != row[n] for n in ident):
                        raise StoreError(_foreign(table.name, key))
                    elif any(have[n] != row[n] for n in names):
                        where = and_(*(c == row[c.name] for c in pk))
                        conn.execute(update(table).where(where).values({n: row[n] for n in names}))
                        changed += 1
                if missing:
                    conn.execute(insert(table), missing)
            except IntegrityError as exc:  # a unique name or hash the target holds under another id
                raise StoreError(
                    f"The target database already holds a different history (a {table.name} row "
                    "clashes with one of this studio's); copy into an empty database, or into an "
                    "earlier copy of this studio."
                ) from exc
            return len(missing), changed

    def _reconcile_images(self, conn: Connection) -> None:
        """``n_images`` where the target keeps no trigger for it (SQLite's triggers already did)."""
        t = SQLModel.metadata.tables
        gen, link = t["generation"], t["generation_asset"]
        count = (
            select(func.count())
            .select_from(link)
            .where(link.c.generation_id == gen.c.id, link.c.role == "output")
            .scalar_subquery()
        )
        conn.execute(update(gen).where(gen.c.n_images != count).values(n_images=count))

    def _reset_sequences(self, conn: Connection) -> None:
        """PostgreSQL: move each serial/identity sequence past the ids the copy inserted."""
        for table in copied_tables():
            pk = list(table.primary_key.columns)
            if len(pk) != 1 or pk[0].type.python_type is not int:
                continue
            name = table.name
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence(:t, :c), "  # noqa: S608  (names from metadata)
                    f"(SELECT COALESCE(MAX({pk[0].name}), 0) + 1 FROM {name}), false)"
                ),
                {"t": name, "c": pk[0].name},
            )


def _foreign(table: str, key: tuple[Any, ...]) -> str:
    what = f"{table} #{key[0]}" if len(key) == 1 else f"a {table} row"
    return (
        f"The target database already holds a different {what} than this studio; it holds another "
        "history. Copy into an empty database, or into an earlier copy of this studio."
    )
