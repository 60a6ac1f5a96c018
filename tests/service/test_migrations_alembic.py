"""Alembic on both dialects: a fresh database, and a real SQLite history made by Studio before Alembic
(tests/data/studio-v7.db, written by tests/data/make_v7_db.py with the pre-Alembic code) upgraded in
place, every row kept and searchable."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from studio.storage import Store, migrations
from studio.storage.filter_sql import GalleryFilter

V7 = Path(__file__).parent.parent / "data" / "studio-v7.db"


def _v7_copy(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copyfile(V7, data / "studio.db")
    return data


def _open_at_once(data: Path, count: int) -> int:
    """Open ``count`` stores on ``data`` from as many threads at once; how many opened (any error raised)."""
    errors: list[BaseException] = []
    stores: list[Store] = []

    def open_one() -> None:
        try:
            stores.append(Store(data))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert errors == []
    return len(stores)


def test_fixture_is_a_pre_alembic_history() -> None:
    con = sqlite3.connect(V7)
    try:
        assert con.execute("PRAGMA user_version").fetchone() == (7,)
        assert con.execute("SELECT name FROM sqlite_master WHERE name = 'alembic_version'").fetchall() == []
        assert con.execute("SELECT count(*) FROM generation").fetchone() == (5,)
    finally:
        con.close()


def test_v7_history_upgrades_in_place(tmp_path: Path) -> None:
    data = _v7_copy(tmp_path)
    before = sqlite3.connect(data / "studio.db")
    # later revisions add columns (at the end); the columns a v7 history had keep every value
    columns = {
        table: ", ".join(row[1] for row in before.execute(f"PRAGMA table_info({table})"))
        for table in ("generation", "run")
    }
    rows_before = {
        table: before.execute(f"SELECT {columns.get(table, '*')} FROM {table} ORDER BY 1").fetchall()  # noqa: S608
        for table in (
            "generation",
            "asset",
            "generation_asset",
            "tag",
            "generation_tag",
            "collection",
            "collection_item",
            "run",
            "template",
            "interruption_ack",
            "generation_stats",
        )
    }
    before.close()
    store = Store(data)
    try:
        assert not store.readonly
        with store.db.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).all() == [
                (migrations.head(),)
            ]
            for table, rows in rows_before.items():
                selected = columns.get(table, "*")
                assert conn.execute(text(f"SELECT {selected} FROM {table} ORDER BY 1")).all() == rows, table
        # every row is readable and searchable through the store
        assert store.gallery.count() == 4 and store.gallery.count(GalleryFilter(deleted=True)) == 1
        [teapots] = store.gallery.page(search="teapot bakery")
        assert teapots.prompt == "three teapots on a bakery shelf" and teapots.favourite
        assert sorted(teapots.tags) == ["Warm", "keep"] and teapots.images
        assert [g.prompt for g in store.gallery.page(search="runn")] == ["a running fox in the snow"]
        assert [g.prompt for g in store.gallery.page(search='"painted lighthouse"')] == [
            "portrait of a painted lighthouse"
        ]
        assert store.gallery.page(search="fox -snow") == []
        assert {t for t, _ in store.organise.tags()} == {"Warm", "keep"}
        [run] = store.runs.list_runs()
        assert run.name == "teapot grid"
        assert [t.name for t in store.templates.list_all()] == ["Product shot"]
        assert store.gallery.totals()["count"] == 4
        # new work lands next to the old
        gen = store.generations.create_pending(prompt="after the upgrade", model="m", settings={}, owner="p")
        assert store.gallery.page(search="upgrade")[0].id == gen
    finally:
        store.close()
    [backup] = list((data / "backups").iterdir())
    con = sqlite3.connect(backup)
    assert con.execute("PRAGMA user_version").fetchone() == (7,)
    assert con.execute("SELECT count(*) FROM generation").fetchone() == (5,)
    con.close()


def test_legacy_v4_file_goes_through_every_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as old:
        old.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:4])
        Store(tmp_path).close()
    con = sqlite3.connect(tmp_path / "studio.db")
    assert con.execute("PRAGMA user_version").fetchone() == (4,)
    # a row as version four wrote it (today's ORM names columns that version did not have)
    with con:
        con.execute(
            "INSERT INTO generation (created_at, updated_at, status, prompt, model, owner) "
            "VALUES ('2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00', 'pending', "
            "'made at version four', 'm', 'p')"
        )
    con.close()
    s = Store(tmp_path)
    try:
        assert [g.prompt for g in s.gallery.page(search="four")] == ["made at version four"]
        with s.db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA user_version").scalar_one() == 7
            assert (
                conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
                == migrations.head()
            )
    finally:
        s.close()


def test_several_processes_upgrade_one_file_at_once(tmp_path: Path) -> None:
    data = _v7_copy(tmp_path)
    assert _open_at_once(data, 4) == 4
    con = sqlite3.connect(data / "studio.db")
    assert con.execute("SELECT count(*) FROM generation").fetchone() == (5,)
    assert con.execute("SELECT version_num FROM alembic_version").fetchall() == [(migrations.head(),)]
    con.close()


def test_processes_starting_beside_a_slow_upgrade_wait_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CI once saw one of four openers give up: the upgrade outlasted SQLite's busy timeout on a loaded
    machine. Here the upgrade takes three times the (shortened) busy timeout; every opener still waits its
    turn, and the file is upgraded once."""
    from alembic import command

    from studio.storage import database

    data = _v7_copy(tmp_path)
    monkeypatch.setattr(database, "BUSY_TIMEOUT_MS", 300)
    upgrades: list[float] = []
    real_upgrade = command.upgrade

    def slow_upgrade(cfg, rev):  # type: ignore[no-untyped-def]
        time.sleep(0.9)  # inside the IMMEDIATE transaction: the write lock is held all this time
        upgrades.append(time.monotonic())
        return real_upgrade(cfg, rev)

    monkeypatch.setattr(command, "upgrade", slow_upgrade)
    assert _open_at_once(data, 3) == 3
    assert len(upgrades) == 1  # the others found it done when their turn came
    con = sqlite3.connect(data / "studio.db")
    assert con.execute("SELECT version_num FROM alembic_version").fetchall() == [(migrations.head(),)]
    con.close()


def test_postgres_fresh_database_by_alembic(tmp_path: Path, pg_server) -> None:
    url = pg_server.create_database()
    stores: list[Store] = []
    errors: list[BaseException] = []

    def open_one(n: int) -> None:
        try:
            stores.append(Store(tmp_path / f"p{n}", database_url=url))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one, args=(n,)) for n in range(3)]  # they take turns
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == [] and len(stores) == 3
        s = stores[0]
        assert s.db.dialect == "postgresql" and not s.readonly
        with s.db.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).all() == [
                (migrations.head(),)
            ]
            cols = {
                r[0]
                for r in conn.execute(
                    text("SELECT column_name FROM information_schema.columns WHERE table_name = 'generation'")
                )
            }
        assert {"search_stem", "search_raw", "aspect_ratio", "n_images"} <= cols
    finally:
        for s in stores:
            s.close()


def test_postgres_unknown_revision_opens_read_only(tmp_path: Path, pg_server) -> None:
    url = pg_server.create_database()
    s = Store(tmp_path, database_url=url)
    gen = s.generations.create_pending(prompt="x", model="m", settings={}, owner="p")
    with s.db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00d'"))
    s.close()
    s = Store(tmp_path, database_url=url)
    try:
        assert s.readonly and s.generations.get(gen) is not None
        with pytest.raises(Exception, match="newer version"):
            s.generations.create_pending(prompt="y", model="m", settings={}, owner="p")
    finally:
        s.close()


def test_head_constant_is_the_scripts_head_and_a_history_at_head_opens_without_alembic(
    tmp_path: Path,
) -> None:
    """Opening a history already at the shipped head is the everyday case (every CLI command, every worker
    process): it must not load Alembic, whose import costs a new process about 0.1 s."""
    import subprocess
    import sys

    assert migrations.HEAD == migrations.head()
    Store(tmp_path / "data").close()  # created (and stamped) by Alembic
    probe = (
        "import sys; from pathlib import Path; from studio.storage import Store; "
        f"s = Store(Path({str(tmp_path / 'data')!r})); s.close(); "
        "print(sorted(m for m in sys.modules if m == 'alembic' or m.startswith('alembic.')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
