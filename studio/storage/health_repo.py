"""What ``studio doctor`` reads from the history, without opening a ``Store``: no migration runs and
nothing is written (``Database.open_readonly``), so it works before an upgrade and on a damaged file.

On PostgreSQL (``url``) the integrity check is: the server answers, the schema revision is one this code
knows, and the rows agree with each other (the facet cube with the rows it counts, ``n_images`` with the
links, no generation naming a missing parent run). Backups there are the team's own (``pg_dump``)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlmodel import col, select

from studio.storage.database import Database, map_db_error
from studio.storage.tables import Asset, Generation

#: What a read here raises when SQLite fails (locked, unreadable, damaged): SQLite's own error.
DatabaseError = sqlite3.Error


@dataclass(frozen=True)
class LibraryRows:
    """What the history says exists."""

    assets: list[tuple[int, str, str, str | None]]  # id, sha256, path, thumb_path
    turns: dict[str, list[int]]  # turn sha -> generation ids
    statuses: dict[int, str]
    active: list[tuple[int, str]]  # pending/running generation id, owner
    store_failed: set[int]  # failed only because the history could not be written


#: What the doctor says instead of copying a PostgreSQL database.
PG_BACKUP_ADVICE = (
    "The history is on PostgreSQL: back it up with the team's own tools before repairing "
    "(pg_dump --format=custom), the doctor does not copy a server's database."
)

_PG_CHECKS = (
    (
        "the facet counts disagree with the generations",
        "SELECT (SELECT coalesce(sum(n), 0) FROM generation_stats) <> (SELECT count(*) FROM generation)"
        " OR EXISTS (SELECT 1 FROM generation_stats WHERE n < 0)",
    ),
    (
        "a generation's image count disagrees with its images",
        "SELECT EXISTS (SELECT 1 FROM generation g WHERE g.n_images <> (SELECT count(*) FROM generation_asset a"
        " WHERE a.generation_id = g.id AND a.role = 'output'))",
    ),
    (
        "a generation names a run that is not in the history",
        "SELECT EXISTS (SELECT 1 FROM generation g WHERE g.run_id IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM run r WHERE r.id = g.run_id))",
    ),
)


def _pg_integrity(db_path: Path, url: str) -> str:
    from studio.storage import migrations  # migrations imports database, which this module imports

    db = Database.open_readonly(db_path, url)
    try:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
            rev = migrations.current_revision(conn)
            if rev is None:
                return f"{db.label} holds no studio history yet (no schema revision)"
            if rev != migrations.head():
                return f"{db.label} is at schema revision {rev}; this studio expects {migrations.head()}"
            complaints = [what for what, sql in _PG_CHECKS if conn.exec_driver_sql(sql).scalar_one()]
    except DBAPIError as exc:
        return str(map_db_error(exc, url))
    finally:
        db.close()
    return "; ".join(complaints) or "ok"


def integrity(db_path: Path, url: str | None = None) -> str:
    """``ok`` or the first complaint: SQLite's own (a damaged file that cannot even be opened included),
    or, with ``url``, PostgreSQL's reachability, schema revision and row agreement."""
    if url:
        return _pg_integrity(db_path, url)
    db = Database.open_readonly(db_path)
    try:
        with db.engine.connect() as conn:
            rows = conn.exec_driver_sql("PRAGMA integrity_check").fetchall()
    except DBAPIError as exc:
        return str(exc.orig)
    except sqlite3.Error as exc:
        return str(exc)
    finally:
        db.close()
    text = "; ".join(str(r[0]) for r in rows[:5])
    return "ok" if text == "ok" else text


def library(db_path: Path, url: str | None = None) -> LibraryRows:
    """Assets, model turns, statuses and active rows; a SQLite failure raises ``DatabaseError`` (a
    PostgreSQL one, ``StoreError`` with its sentence)."""
    db = Database.open_readonly(db_path, url)
    try:
        with db.engine.connect() as conn:
            return _library(conn)
    except DBAPIError as exc:
        if isinstance(exc.orig, sqlite3.Error):
            raise exc.orig from exc
        raise map_db_error(exc, url or db_path) from exc
    finally:
        db.close()


def _library(conn: Connection) -> LibraryRows:
    g = Generation
    assets = [
        (int(i), sha, path, thumb)
        for i, sha, path, thumb in conn.execute(
            select(Asset.id, Asset.sha256, Asset.path, Asset.thumb_path).order_by(col(Asset.id))
        )
    ]
    turns: dict[str, list[int]] = {}
    for gen_id, sha in conn.execute(
        select(g.id, g.model_content_sha).where(col(g.model_content_sha).is_not(None))
    ):
        turns.setdefault(sha, []).append(gen_id)
    statuses = {int(i): status for i, status in conn.execute(select(g.id, g.status))}
    active = [
        (int(i), owner)
        for i, owner in conn.execute(select(g.id, g.owner).where(col(g.status).in_(("pending", "running"))))
    ]
    store_failed = {
        int(i)
        for (i,) in conn.execute(
            select(g.id).where(col(g.status) == "failed", col(g.error_kind).in_(("store", "disk_full")))
        )
    }
    return LibraryRows(assets, turns, statuses, active, store_failed)
