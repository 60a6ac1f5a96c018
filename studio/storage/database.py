"""The history's engine: the SQLite file in the data directory (the default), or any SQLAlchemy URL
(PostgreSQL through psycopg 3, ``STUDIO_DATABASE_URL``).

SQLite: durable settings on every connection and ``BEGIN IMMEDIATE`` for writes.

pysqlite's own implicit BEGIN is switched off (``isolation_level=None``) and SQLAlchemy's ``begin``
event emits the BEGIN instead (SQLAlchemy SQLite dialect docs, "Serializable isolation / Savepoints /
Transactional DDL"). A deferred transaction that later writes fails with "database is locked" at once,
without waiting for busy_timeout; an IMMEDIATE one takes the write lock up front and waits its turn.

PostgreSQL runs READ COMMITTED with a pool sized for the workers and ``pool_pre_ping`` (a restarted server
costs one reconnect, not a failed page). There is no single-writer lock, so every write that reads first
(insert if absent, counters, max()+1) is one statement: ``upsert`` (ON CONFLICT), ``UPDATE ... RETURNING``,
or ``SELECT ... FOR UPDATE``.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, cast

from sqlalchemy import URL, Connection, CursorResult, Engine, create_engine, event, make_url, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from studio.domain.errors import ConfigError, DiskFull, StoreError

BUSY_TIMEOUT_MS = 5000
_BEGIN_OPTION = "studio_begin"


#: PostgreSQL connections per process: UI sessions, the job workers (16 at most) and the CLI share them.
PG_POOL_SIZE, PG_MAX_OVERFLOW = 10, 20


_SECRET_PARAM = re.compile(r"pass|secret|key|token", re.I)


def shown(url: str) -> str:
    """The URL as it may be shown or logged: the password hidden."""
    try:
        parsed = make_url(url)
        secret = [k for k in parsed.query if _SECRET_PARAM.search(k)]  # libpq also takes ?password=
        if secret:
            parsed = parsed.update_query_dict({k: "hidden" for k in secret})
        return parsed.render_as_string(hide_password=True)
    except ArgumentError:
        return "(a database URL that cannot be read)"


def _pg_url(url: str) -> URL:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 (the one PostgreSQL driver installed)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            f"STUDIO_DATABASE_URL {shown(url)} is not a database URL; write it like "
            "postgresql+psycopg://user:password@host:5432/studio."
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() != "postgresql":
        raise ConfigError(
            f"STUDIO_DATABASE_URL {shown(url)} names a database Studio does not support; use PostgreSQL "
            "(postgresql+psycopg://...) or leave it unset for the SQLite file in the data directory."
        )
    return parsed


def make_pg_engine(url: str, *, readonly: bool = False) -> Engine:
    """A pooled PostgreSQL engine (READ COMMITTED); ``readonly``: every transaction is read-only."""
    options = "-c default_transaction_read_only=on" if readonly else ""
    return create_engine(
        _pg_url(url),
        pool_size=PG_POOL_SIZE,
        max_overflow=PG_MAX_OVERFLOW,
        pool_pre_ping=True,
        isolation_level="READ COMMITTED",
        execution_options={"preserve_rowcount": True},  # INSERT ... SELECT counts, as on SQLite
        connect_args={"connect_timeout": 5, "options": options} if options else {"connect_timeout": 5},
    )


def make_engine(db_path: Path, *, readonly: bool = False) -> Engine:
    url = URL.create("sqlite", database=str(db_path))
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        # UI sessions, job workers and the CLI share one pool; SQLite connections are cheap.
        pool_size=8,
        max_overflow=32,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            if readonly:
                cur.execute("PRAGMA query_only=ON")
            else:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")  # a row pointing at a paid image must survive an OS crash
            cur.execute("PRAGMA foreign_keys=ON")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def writer(engine: Engine) -> Engine:
    """The same pool, but every transaction begins IMMEDIATE (SQLite; PostgreSQL needs no such option)."""
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})


#: pg_advisory_xact_lock key of the content-addressed files ("files" in ASCII); budgets use "budget".
FILES_LOCK_KEY = 0x66696C6573


def lock_files(session: Any, *, shared: bool) -> None:
    """For the rest of this write transaction, no file is removed by ``empty_trash`` (``shared``: a save
    that found its file already stored and is about to commit a row naming it), or no save of such a file
    commits (exclusive: ``empty_trash`` checking that nothing names a file, then removing it). PostgreSQL's
    advisory lock; SQLite's write transaction (``BEGIN IMMEDIATE``) already has one writer at a time."""
    if session.get_bind().dialect.name == "postgresql":
        fn = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        session.execute(text(f"SELECT {fn}(:k)"), {"k": FILES_LOCK_KEY})


def upsert(session_or_conn: Any, model: Any) -> Any:
    """``INSERT`` for the dialect at hand, with ``on_conflict_do_nothing`` / ``on_conflict_do_update``
    (SQLite and PostgreSQL spell ON CONFLICT alike; SQLAlchemy has one insert per dialect)."""
    bind = session_or_conn.get_bind() if hasattr(session_or_conn, "get_bind") else session_or_conn
    dialect = bind.dialect.name if hasattr(bind, "dialect") else "sqlite"
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


def _pg_error(exc: BaseException, where: str) -> StoreError | None:
    """A designer's sentence for a PostgreSQL failure (psycopg's SQLSTATE first, its message else)."""
    orig = getattr(exc, "orig", exc)
    state = str(getattr(orig, "sqlstate", "") or "")
    text = str(orig).lower()
    if state == "53100" or "no space left" in text or "disk full" in text:
        return DiskFull(
            f"The PostgreSQL server holding the history ({where}) has run out of disk space; ask whoever "
            "runs it to free some space, then retry — nothing already saved was lost."
        )
    if state == "53300" or "too many connections" in text or "remaining connection slots" in text:
        return StoreError(
            f"The PostgreSQL server ({where}) refuses more connections (too many clients); close some "
            "studio processes or raise max_connections, then retry."
        )
    unknown_role = "role" in text and "does not exist" in text
    if state in ("28P01", "28000") or "authentication" in text or unknown_role:
        return StoreError(
            f"PostgreSQL refused the studio's user and password for {where}; check the user and password "
            "in STUDIO_DATABASE_URL."
        )
    if state == "3D000" or ("database" in text and "does not exist" in text):
        return StoreError(
            f"The database named in STUDIO_DATABASE_URL ({where}) does not exist on that server; create "
            "it (createdb) or correct the URL."
        )
    if (
        state.startswith("08")
        or "connection refused" in text
        or "could not connect" in text
        or ("connection" in text and ("failed" in text or "timeout" in text or "closed" in text))
    ):
        return StoreError(
            f"The PostgreSQL server for the history ({where}) cannot be reached; check that it is running "
            "and that STUDIO_DATABASE_URL names the right host and port, then retry."
        )
    if state == "25006" or "read-only transaction" in text:
        return StoreError(f"The history database {where} is read-only for this studio.")
    if state in ("40001", "40P01"):
        return StoreError("The history database was busy with another studio process; try again in a moment.")
    return None


def map_db_error(exc: BaseException, db_path: Path | str) -> StoreError:
    """A designer's sentence for a database failure (``db_path``: the SQLite file, or the database URL,
    shown without its password)."""
    if isinstance(db_path, str):
        where = shown(db_path)
        mapped = _pg_error(exc, where)
        if mapped is not None:
            return mapped
        detail = str(getattr(exc, "orig", exc)).strip().splitlines()[0:1]
        return StoreError(
            f"The history database {where} could not be used ({detail[0] if detail else type(exc).__name__})."
        )
    text = str(getattr(exc, "orig", exc)).lower()
    if "full" in text:
        return DiskFull(
            f"The disk holding the studio's data directory ({db_path.parent}) is full; free some space "
            "and retry — nothing already saved was lost."
        )
    if "locked" in text or "busy" in text:
        return StoreError("The history database stayed busy for more than 5 seconds; try again in a moment.")
    if "readonly" in text or "read-only" in text:
        return StoreError(f"The history database {db_path} is read-only; check the file's permissions.")
    if "malformed" in text or "not a database" in text:
        return StoreError(
            f"The history database {db_path} is damaged. Restore a copy from {db_path.parent / 'backups'}."
        )
    return StoreError(f"The history database {db_path} could not be used ({text}).")


@contextmanager
def session_scope(engine: Engine, db_path: Path | str, *, write: bool) -> Iterator[Session]:
    """A short session; with ``write`` it is one IMMEDIATE transaction committed on exit."""
    try:
        with Session(writer(engine) if write else engine, expire_on_commit=False) as session:
            if write:
                with session.begin():
                    yield session
            else:
                yield session
    except DBAPIError as exc:
        raise map_db_error(exc, db_path) from exc
    except sqlite3.Error as exc:
        raise map_db_error(exc, db_path) from exc
    except PoolTimeout as exc:
        raise StoreError(
            "The history database is overloaded (no free connection); try again in a moment."
        ) from exc


class Database:
    """The history's database: its engine, short read sessions and write transactions.

    ``path`` is the SQLite file (also where the data directory lives); ``url``, when given, is the
    PostgreSQL database that holds the history instead. ``open`` migrates (or opens read-only when the
    schema is newer than this code); ``open_readonly`` never migrates, so doctor can look at a database
    before it is upgraded, or a damaged one.
    """

    def __init__(
        self,
        path: Path,
        engine: Engine,
        *,
        readonly: bool = False,
        found_version: int | str = 0,
        url: str | None = None,
    ) -> None:
        self.path = path
        self.url = url
        self.engine = engine
        self.readonly = readonly
        self._found_version = found_version  # a newer schema than this code knows (read-only)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @property
    def where(self) -> Path | str:
        """What error sentences name: the SQLite file, or the database URL (``map_db_error`` hides its
        password)."""
        return self.url if self.url else self.path

    @property
    def label(self) -> str:
        """The history as it may be shown: the file, or the URL without its password."""
        return shown(self.url) if self.url else str(self.path)

    @classmethod
    def open(cls, path: Path, url: str | None = None) -> Database:
        """The history, migrated to the latest schema; read-only when a newer Studio wrote it."""
        from studio.storage import migrations  # migrations imports this module

        engine = make_pg_engine(url) if url else make_engine(path)
        where: Path | str = url if url else path
        try:
            newer = migrations.newer_than_code(engine)
            if newer is not None:
                engine.dispose()
                engine = make_pg_engine(url, readonly=True) if url else make_engine(path, readonly=True)
                return cls(path, engine, readonly=True, found_version=newer, url=url)
            migrations.migrate(engine, path)
        except DBAPIError as exc:
            engine.dispose()
            raise map_db_error(exc, where) from exc
        except BaseException:
            engine.dispose()
            raise
        return cls(path, engine, url=url)

    @classmethod
    def open_readonly(cls, path: Path, url: str | None = None) -> Database:
        """The database as it is: never created, never migrated, never written (SQLite ``mode=ro``;
        PostgreSQL read-only transactions, one connection at a time)."""
        if url:
            engine = make_pg_engine(url, readonly=True)
            return cls(path, engine, readonly=True, url=url)

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)

        engine = create_engine("sqlite://", creator=connect, poolclass=NullPool)
        return cls(path, engine, readonly=True)

    def read(self) -> AbstractContextManager[Session]:
        return session_scope(self.engine, self.where, write=False)

    def check_writable(self) -> None:
        """Fail before any file is written when the history is read-only."""
        if self.readonly:
            from studio.storage import migrations

            raise StoreError(
                f"The history in {self.label} was written by a newer version of Studio (schema "
                f"{self._found_version}; this one knows {migrations.known_schema()}), so it is open read-only. "
                "Upgrade Studio to add to it."
            )

    def write(self) -> AbstractContextManager[Session]:
        """One write transaction (IMMEDIATE on SQLite), committed on exit."""
        self.check_writable()
        return session_scope(self.engine, self.where, write=True)

    def close(self) -> None:
        self.engine.dispose()


def sqlite_file(url: str) -> Path:
    """The file a ``sqlite:///path`` URL names (an in-memory database keeps no history: refused)."""
    try:
        name = make_url(url).database
    except ArgumentError:
        name = None
    if not name or name == ":memory:":
        raise ConfigError(f"{url!r} names no SQLite file; write it as sqlite:////absolute/path/studio.db.")
    return Path(name).expanduser().resolve()


def rowcount(result: Any) -> int:
    """Rows a DML statement touched (a CursorResult at run time, typed as the base Result)."""
    return int(cast("CursorResult[Any]", result).rowcount)
