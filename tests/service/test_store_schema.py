"""The ORM classes against the schema the migrations build (the migrations are the source of truth)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlmodel import SQLModel

from studio.storage import Store, health_repo


def _migrated(tmp_path: Path) -> Store:
    return Store(tmp_path)


def test_every_table_has_an_orm_class(tmp_path: Path) -> None:
    store = _migrated(tmp_path)
    try:
        with store.db.engine.connect() as conn:
            names = {
                row[0]
                for row in conn.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                )
            }
    finally:
        store.close()
    # generation_fts (FTS5) and its shadow tables are maintained by triggers and read through MATCH only;
    # alembic_version is Alembic's own
    plain = {n for n in names if not n.startswith("generation_fts") and n != "alembic_version"}
    assert plain == set(SQLModel.metadata.tables)


def test_orm_columns_match_pragma_table_info(tmp_path: Path) -> None:
    store = _migrated(tmp_path)
    try:
        with store.db.engine.connect() as conn:
            for name, table in SQLModel.metadata.tables.items():
                # table_xinfo: table_info plus the generated columns (aspect_ratio, image_size)
                info = conn.exec_driver_sql(f"PRAGMA table_xinfo({name})").all()
                assert {c[1] for c in info} == set(table.columns.keys()), name
                assert {c[1] for c in info if c[5]} == {c.name for c in table.primary_key}, name
                for _cid, column, _type, notnull, _default, pk, _hidden in info:
                    if not pk:  # SQLite lets an INTEGER PRIMARY KEY be NULL on insert (rowid)
                        assert bool(notnull) == (not table.columns[column].nullable), f"{name}.{column}"
    finally:
        store.close()


def test_health_reads_never_create_nor_migrate(tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    assert health_repo.integrity(missing) != "ok"
    assert not missing.exists()  # mode=ro: no empty database left behind

    old = tmp_path / "old.db"
    with sqlite3.connect(old) as con:  # a schema-less file at user_version 0
        con.execute("CREATE TABLE asset (id INTEGER PRIMARY KEY, sha256 TEXT, path TEXT, thumb_path TEXT)")
    assert health_repo.integrity(old) == "ok"
    with pytest.raises(health_repo.DatabaseError):
        health_repo.library(old)  # no generation table: SQLite's own error, for the doctor's sentence
    with sqlite3.connect(old) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == 0
        assert {r[0] for r in con.execute("SELECT name FROM sqlite_master")} == {"asset"}
