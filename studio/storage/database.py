"""The SQLite engine: durable settings on every connection and ``BEGIN IMMEDIATE`` for writes.

pysqlite's own implicit BEGIN is switched off (``isolation_level=None``) and SQLAlchemy's ``begin``
event emits the BEGIN instead (SQLAlchemy SQLite dialect docs, "Serializable isolation / Savepoints /
Transactional DDL"). A deferred transaction that later writes fails with "database is locked" at once,
without waiting for busy_timeout; an IMMEDIATE one takes the write lock up front and waits its turn.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, cast

from sqlalchemy import URL, Connection, CursorResult, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from studio.domain.errors import DiskFull, StoreError

BUSY_TIMEOUT_MS = 5000
_BEGIN_OPTION = "studio_begin"


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
    """The same pool, but every transaction begins IMMEDIATE."""
    return engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})


def map_db_error(exc: BaseException, db_path: Path) -> StoreError:
    """A designer's sentence for a SQLite failure."""
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
def session_scope(engine: Engine, db_path: Path, *, write: bool) -> Iterator[Session]:
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
    """One SQLite file: its engine, short read sessions and IMMEDIATE write transactions.

    ``open`` migrates (or opens read-only when the file is newer than this code); ``open_readonly`` never
    migrates, so doctor can look at a database before it is upgraded, or a damaged one.
    """

    def __init__(self, path: Path, engine: Engine, *, readonly: bool = False, found_version: int = 0) -> None:
        self.path = path
        self.engine = engine
        self.readonly = readonly
        self._found_version = found_version  # a newer schema than this code knows (read-only)

    @classmethod
    def open(cls, path: Path) -> Database:
        """The history, migrated to the latest schema; read-only when a newer Studio wrote it."""
        from studio.storage import migrations  # migrations imports this module

        engine = make_engine(path)
        try:
            with engine.connect() as conn:
                found = migrations.user_version(conn)
            if found > migrations.LATEST:
                engine.dispose()
                engine = make_engine(path, readonly=True)
                return cls(path, engine, readonly=True, found_version=found)
            migrations.migrate(engine, path)
        except DBAPIError as exc:
            engine.dispose()
            raise map_db_error(exc, path) from exc
        except BaseException:
            engine.dispose()
            raise
        return cls(path, engine)

    @classmethod
    def open_readonly(cls, path: Path) -> Database:
        """The file as it is (``mode=ro``: never created, never migrated, never written)."""

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)

        engine = create_engine("sqlite://", creator=connect, poolclass=NullPool)
        return cls(path, engine, readonly=True)

    def read(self) -> AbstractContextManager[Session]:
        return session_scope(self.engine, self.path, write=False)

    def check_writable(self) -> None:
        """Fail before any file is written when the history is read-only."""
        if self.readonly:
            from studio.storage import migrations

            raise StoreError(
                f"The history in {self.path} was written by a newer version of Studio (schema "
                f"{self._found_version}; this one knows {migrations.LATEST}), so it is open read-only. "
                "Upgrade Studio to add to it."
            )

    def write(self) -> AbstractContextManager[Session]:
        """One IMMEDIATE transaction, committed on exit."""
        self.check_writable()
        return session_scope(self.engine, self.path, write=True)

    def close(self) -> None:
        self.engine.dispose()


def rowcount(result: Any) -> int:
    """Rows a DML statement touched (a CursorResult at run time, typed as the base Result)."""
    return int(cast("CursorResult[Any]", result).rowcount)
