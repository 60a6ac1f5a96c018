"""What ``studio doctor`` reads from the history, without opening a ``Store``: no migration runs and
nothing is written (``Database.open_readonly``), so it works before an upgrade and on a damaged file."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlmodel import col, select

from studio.storage.database import Database
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


def integrity(db_path: Path) -> str:
    """``ok`` or SQLite's first complaint (a damaged file that cannot even be opened included)."""
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


def library(db_path: Path) -> LibraryRows:
    """Assets, model turns, statuses and active rows; a SQLite failure raises ``DatabaseError``."""
    db = Database.open_readonly(db_path)
    try:
        with db.engine.connect() as conn:
            return _library(conn)
    except DBAPIError as exc:
        if isinstance(exc.orig, sqlite3.Error):
            raise exc.orig from exc
        raise
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
