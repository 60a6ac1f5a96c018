"""Opening the history the way the two-backend fixture (``backend`` in tests/conftest.py) asks: the SQLite
file and folders in the data directory, or the fresh PostgreSQL database and bucket it put in
STUDIO_DATABASE_URL and STUDIO_STORAGE_URL."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from studio.storage import Store


def open_store(data_dir: Path) -> Store:
    """``Store(data_dir)`` on the backend under test."""
    return Store(
        data_dir,
        database_url=os.environ.get("STUDIO_DATABASE_URL") or None,
        storage_url=os.environ.get("STUDIO_STORAGE_URL") or None,
        s3_endpoint_url=os.environ.get("STUDIO_S3_ENDPOINT_URL") or None,
    )


def on_postgres() -> bool:
    return bool(os.environ.get("STUDIO_DATABASE_URL"))


def sqlite_only(why: str) -> None:
    """Skip on PostgreSQL a test that reads SQLite's own file (PRAGMAs, FTS5 tables, a damaged file)."""
    if on_postgres():
        pytest.skip(f"SQLite only: {why}")


def db_execute(store: Store, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Run one statement with ``?`` placeholders on the store's own database (either backend), committed."""
    if store.db.dialect == "postgresql":
        sql = sql.replace("?", "%s")
    with store.db.engine.begin() as conn:
        result = conn.exec_driver_sql(sql, params)
        return [tuple(r) for r in result.fetchall()] if result.returns_rows else []


def stored_keys(store: Store, prefix: str) -> list[str]:
    """The keys under ``prefix`` (e.g. ``"drafts/"``) in the store's own storage, sorted: the data
    directory's folders on ``sqlite``, the bucket on ``postgresql``."""
    return sorted(store.files.blobs.list(prefix))


def stored_bytes(store: Store, key: str) -> bytes:
    """The bytes under ``key`` in the store's own storage (either backend)."""
    return store.files.blobs.get(key)


def is_stored(store: Store, path: Path) -> bool:
    """Whether the store's own storage holds the file a record's ``path`` names (the file itself on
    ``sqlite``; the bucket's object, not a cached copy, on ``postgresql``)."""
    return store.files.blobs.exists(store.files.key_of(path))


def legacy_row(
    db_path: Path, prompt: str, *, status: str = "pending", owner: str = "p", settings: str = "{}"
) -> int:
    """A generation row written as an older schema had it (plain SQL: today's ORM names columns, such as
    ``author``, that the legacy migrations had not made yet). Returns its id."""
    import sqlite3

    now = "2026-01-01T00:00:00+00:00"
    con = sqlite3.connect(db_path)
    try:
        with con:
            cur = con.execute(
                "INSERT INTO generation (created_at, updated_at, status, prompt, model, settings_json, owner) "
                "VALUES (?, ?, ?, ?, 'gemini-2.5-flash-image', ?, ?)",
                (now, now, status, prompt, settings, owner),
            )
        assert cur.lastrowid is not None
        return cur.lastrowid
    finally:
        con.close()
