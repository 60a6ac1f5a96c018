"""Schema migrations: Alembic (``studio/storage/alembic``) for both dialects, after the legacy numbered
SQLite migrations below.

Alembic's revision ``0001`` is the schema exactly as the legacy migrations m001-m007 leave it (on SQLite it
runs them; on PostgreSQL it is the equivalent DDL). Opening a history:
- a fresh database is created by ``alembic upgrade head``;
- an existing SQLite file from before Alembic (``PRAGMA user_version`` 1..7, no ``alembic_version``) is
  backed up, brought to 7 by the legacy migrations, stamped ``0001`` and upgraded to head, in place;
- a revision this code does not know (a newer Studio wrote it) opens read-only.
Several processes starting at once take turns: on SQLite a lock file beside the database (an upgrade can take
longer than the 5 s busy timeout on a loaded machine, so the others wait for it rather than for SQLite), then
the IMMEDIATE write lock; on PostgreSQL an advisory lock.

Legacy migrations (below, frozen): each runs in its own IMMEDIATE transaction together with the version bump, so a crash
leaves the database at the previous version. An existing database is copied with SQLite's backup API
before it is migrated. Migrations are append-only: never edit one that has shipped.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

from studio.domain.errors import StoreError
from studio.storage.database import writer
from studio.storage.files import contained

Migration = Callable[[Connection], None]
MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


def _run(conn: Connection, script: str) -> None:
    for statement in script.split(";;"):
        if statement.strip():
            conn.exec_driver_sql(statement)


@migration
def m001_initial(conn: Connection) -> None:
    _run(
        conn,
        """
CREATE TABLE generation (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    status TEXT NOT NULL,
    prompt TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL,
    settings_json TEXT NOT NULL DEFAULT '{}',
    composition_json TEXT,
    text TEXT NOT NULL DEFAULT '',
    thoughts_text TEXT NOT NULL DEFAULT '',
    finish_reason TEXT,
    block_reason TEXT,
    error_kind TEXT,
    error_message TEXT,
    usage_json TEXT NOT NULL DEFAULT '{}',
    prompt_tokens INTEGER,
    output_tokens INTEGER,
    total_tokens INTEGER,
    cost_usd REAL,
    latency_ms INTEGER,
    parent_id INTEGER REFERENCES generation(id) ON DELETE SET NULL,
    run_id INTEGER,
    variant_index INTEGER NOT NULL DEFAULT 0,
    owner TEXT NOT NULL DEFAULT '',
    model_content_sha TEXT,
    grounding_json TEXT,
    favourite BOOLEAN NOT NULL DEFAULT 0,
    rating INTEGER,
    deleted_at TEXT
);;
CREATE INDEX ix_generation_deleted_id ON generation (deleted_at, id);;
CREATE INDEX ix_generation_status ON generation (status);;
CREATE INDEX ix_generation_model ON generation (model);;
CREATE INDEX ix_generation_parent ON generation (parent_id);;
CREATE INDEX ix_generation_run ON generation (run_id);;
CREATE TABLE asset (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256 TEXT NOT NULL UNIQUE,
    mime_type TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    path TEXT NOT NULL,
    thumb_path TEXT,
    created_at TEXT NOT NULL
);;
CREATE TABLE generation_asset (
    generation_id INTEGER NOT NULL REFERENCES generation(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    position INTEGER NOT NULL,
    asset_id INTEGER NOT NULL REFERENCES asset(id),
    name TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (generation_id, role, position)
);;
CREATE INDEX ix_generation_asset_asset ON generation_asset (asset_id);;
CREATE VIRTUAL TABLE generation_fts USING fts5(prompt, text, content='generation', content_rowid='id');;
CREATE TRIGGER generation_fts_ai AFTER INSERT ON generation BEGIN
    INSERT INTO generation_fts (rowid, prompt, text) VALUES (new.id, new.prompt, new.text);
END;;
CREATE TRIGGER generation_fts_ad AFTER DELETE ON generation BEGIN
    INSERT INTO generation_fts (generation_fts, rowid, prompt, text) VALUES ('delete', old.id, old.prompt, old.text);
END;;
CREATE TRIGGER generation_fts_au AFTER UPDATE OF prompt, text ON generation BEGIN
    INSERT INTO generation_fts (generation_fts, rowid, prompt, text) VALUES ('delete', old.id, old.prompt, old.text);
    INSERT INTO generation_fts (rowid, prompt, text) VALUES (new.id, new.prompt, new.text);
END
""",
    )


@migration
def m002_gallery_and_runs(conn: Connection) -> None:
    """Tags, collections (boards), runs (matrix/batch/conversation), templates and presets; facet columns."""
    _run(
        conn,
        """
CREATE TABLE tag (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE
);;
CREATE TABLE generation_tag (
    generation_id INTEGER NOT NULL REFERENCES generation(id) ON DELETE CASCADE,
    tag_id INTEGER NOT NULL REFERENCES tag(id) ON DELETE CASCADE,
    PRIMARY KEY (generation_id, tag_id)
);;
CREATE INDEX ix_generation_tag_tag ON generation_tag (tag_id, generation_id);;
CREATE TABLE collection (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    created_at TEXT NOT NULL
);;
CREATE TABLE collection_item (
    collection_id INTEGER NOT NULL REFERENCES collection(id) ON DELETE CASCADE,
    generation_id INTEGER NOT NULL REFERENCES generation(id) ON DELETE CASCADE,
    added_at TEXT NOT NULL,
    PRIMARY KEY (collection_id, generation_id)
);;
CREATE INDEX ix_collection_item_generation ON collection_item (generation_id);;
CREATE TABLE run (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    spec_json TEXT NOT NULL DEFAULT '{}',
    source_sha TEXT,
    status TEXT NOT NULL DEFAULT 'open'
);;
CREATE INDEX ix_run_source ON run (source_sha);;
CREATE TABLE template (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL DEFAULT 'template',
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (kind, name)
);;
ALTER TABLE generation ADD COLUMN cell_key TEXT;;
ALTER TABLE generation ADD COLUMN aspect_ratio TEXT
    GENERATED ALWAYS AS (json_extract(settings_json, '$.aspect_ratio')) VIRTUAL;;
ALTER TABLE generation ADD COLUMN image_size TEXT
    GENERATED ALWAYS AS (json_extract(settings_json, '$.image_size')) VIRTUAL;;
CREATE INDEX ix_generation_run_cell ON generation (run_id, cell_key);;
CREATE INDEX ix_generation_aspect ON generation (aspect_ratio);;
CREATE INDEX ix_generation_size ON generation (image_size);;
CREATE INDEX ix_generation_favourite ON generation (favourite, id);;
CREATE INDEX ix_generation_rating ON generation (rating, id);;
CREATE INDEX ix_generation_created ON generation (created_at)
""",
    )


@migration
def m003_gallery_stats(conn: Connection) -> None:
    """Facet counts and totals at a million rows: a small cube kept exact by triggers.

    Counting 1 M rows per facet takes 0.5-1.6 s even with indexes; the cube has one row per
    (live, status, model, ratio, size) combination, so unfiltered or facet-filtered counts are a
    sum over a few hundred rows. ``n_images`` (output images per generation) is kept by triggers on
    ``generation_asset`` so totals need no join.
    """
    _run(
        conn,
        """
ALTER TABLE generation ADD COLUMN n_images INTEGER NOT NULL DEFAULT 0;;
UPDATE generation SET n_images = (SELECT count(*) FROM generation_asset a
                                  WHERE a.generation_id = generation.id AND a.role = 'output');;
CREATE TABLE generation_stats (
    live INTEGER NOT NULL,
    status TEXT NOT NULL,
    model TEXT NOT NULL,
    aspect_ratio TEXT NOT NULL,
    image_size TEXT NOT NULL,
    n INTEGER NOT NULL DEFAULT 0,
    images INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    total_tokens INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (live, status, model, aspect_ratio, image_size)
);;
INSERT INTO generation_stats (live, status, model, aspect_ratio, image_size, n, images, cost_usd, prompt_tokens, output_tokens, total_tokens)
    SELECT deleted_at IS NULL, status, model, coalesce(aspect_ratio, ''), coalesce(image_size, ''), count(*),
           total(n_images), total(cost_usd), total(prompt_tokens), total(output_tokens), total(total_tokens)
    FROM generation GROUP BY 1, 2, 3, 4, 5;;
CREATE TRIGGER generation_stats_ai AFTER INSERT ON generation BEGIN
    INSERT INTO generation_stats (live, status, model, aspect_ratio, image_size, n, images, cost_usd, prompt_tokens, output_tokens, total_tokens)
    VALUES (new.deleted_at IS NULL, new.status, new.model, coalesce(new.aspect_ratio, ''),
            coalesce(new.image_size, ''), 1, new.n_images, coalesce(new.cost_usd, 0),
            coalesce(new.prompt_tokens, 0), coalesce(new.output_tokens, 0), coalesce(new.total_tokens, 0))
    ON CONFLICT (live, status, model, aspect_ratio, image_size) DO UPDATE SET n = n + 1, images = images + excluded.images,
        cost_usd = cost_usd + excluded.cost_usd, prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        output_tokens = output_tokens + excluded.output_tokens, total_tokens = total_tokens + excluded.total_tokens;
END;;
CREATE TRIGGER generation_stats_ad AFTER DELETE ON generation BEGIN
    UPDATE generation_stats SET n = n - 1, images = images - old.n_images,
        cost_usd = cost_usd - coalesce(old.cost_usd, 0), prompt_tokens = prompt_tokens - coalesce(old.prompt_tokens, 0),
        output_tokens = output_tokens - coalesce(old.output_tokens, 0),
        total_tokens = total_tokens - coalesce(old.total_tokens, 0)
    WHERE live = (old.deleted_at IS NULL) AND status = old.status AND model = old.model
      AND aspect_ratio = coalesce(old.aspect_ratio, '') AND image_size = coalesce(old.image_size, '');
END;;
CREATE TRIGGER generation_stats_au AFTER UPDATE OF status, model, settings_json, deleted_at, cost_usd,
        prompt_tokens, output_tokens, total_tokens, n_images ON generation BEGIN
    UPDATE generation_stats SET n = n - 1, images = images - old.n_images,
        cost_usd = cost_usd - coalesce(old.cost_usd, 0), prompt_tokens = prompt_tokens - coalesce(old.prompt_tokens, 0),
        output_tokens = output_tokens - coalesce(old.output_tokens, 0),
        total_tokens = total_tokens - coalesce(old.total_tokens, 0)
    WHERE live = (old.deleted_at IS NULL) AND status = old.status AND model = old.model
      AND aspect_ratio = coalesce(old.aspect_ratio, '') AND image_size = coalesce(old.image_size, '');
    INSERT INTO generation_stats (live, status, model, aspect_ratio, image_size, n, images, cost_usd, prompt_tokens, output_tokens, total_tokens)
    VALUES (new.deleted_at IS NULL, new.status, new.model, coalesce(new.aspect_ratio, ''),
            coalesce(new.image_size, ''), 1, new.n_images, coalesce(new.cost_usd, 0),
            coalesce(new.prompt_tokens, 0), coalesce(new.output_tokens, 0), coalesce(new.total_tokens, 0))
    ON CONFLICT (live, status, model, aspect_ratio, image_size) DO UPDATE SET n = n + 1, images = images + excluded.images,
        cost_usd = cost_usd + excluded.cost_usd, prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        output_tokens = output_tokens + excluded.output_tokens, total_tokens = total_tokens + excluded.total_tokens;
END;;
CREATE TRIGGER generation_asset_images_ai AFTER INSERT ON generation_asset WHEN new.role = 'output' BEGIN
    UPDATE generation SET n_images = n_images + 1 WHERE id = new.generation_id;
END;;
CREATE TRIGGER generation_asset_images_ad AFTER DELETE ON generation_asset WHEN old.role = 'output' BEGIN
    UPDATE generation SET n_images = n_images - 1 WHERE id = old.generation_id;
END
""",
    )


@migration
def m004_turn_index(conn: Connection) -> None:
    """Emptying the trash asks which generations still use a model turn; without an index that scans
    every row while holding the write lock."""
    conn.exec_driver_sql("CREATE INDEX ix_generation_model_content ON generation (model_content_sha)")


@migration
def m005_interruption_notices(conn: Connection) -> None:
    """Which interrupted generations the designer has retried or dismissed from the notice on Generate and
    History. A mark of its own, so the history row (status, error) stays exactly as it was. Rows interrupted
    before notices existed are marked as seen: a first start after upgrading must not offer to pay again for
    work stopped months ago."""
    _run(
        conn,
        """
CREATE TABLE interruption_ack (
    generation_id INTEGER PRIMARY KEY REFERENCES generation(id) ON DELETE CASCADE,
    action TEXT NOT NULL,
    at TEXT NOT NULL
);;
INSERT INTO interruption_ack (generation_id, action, at)
    SELECT id, 'before_notices', strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now') FROM generation
    WHERE status = 'interrupted'
""",
    )


@migration
def m006_drafts(conn: Connection) -> None:
    """The composer's draft (prompt, settings, the reference tray's file hashes, the last runs) kept across a
    browser reload and a restart of the studio. One row per owner: '' today (one person on loopback); a later
    per-person studio keys it by user without another migration. No existing row changes meaning."""
    _run(
        conn,
        """
CREATE TABLE draft (
    owner TEXT PRIMARY KEY NOT NULL DEFAULT '',
    body TEXT NOT NULL,
    updated_at TEXT NOT NULL
)
""",
    )


@migration
def m007_search_stemming(conn: Connection) -> None:
    """Search by stem: "teapots" finds "teapot", "bakery" leaves out "bakeries" too. The full-text index is
    rebuilt with the porter tokenizer over unicode61 (diacritics still folded) from the generation rows it
    indexes (an external-content table, so no row changes). The triggers that keep it current name the
    table, not its tokenizer, and stay as they are.

    A second index of the same rows, ``generation_fts_raw`` (unicode61, unstemmed), matches what is being
    typed as a prefix ("runn" finds "running", which porter indexes as "run") and quoted phrases exactly;
    its own triggers keep it current like the first."""
    _run(
        conn,
        """
DROP TABLE generation_fts;;
CREATE VIRTUAL TABLE generation_fts USING fts5(
    prompt, text, content='generation', content_rowid='id', tokenize='porter unicode61'
);;
INSERT INTO generation_fts (generation_fts) VALUES ('rebuild');;
CREATE VIRTUAL TABLE generation_fts_raw USING fts5(
    prompt, text, content='generation', content_rowid='id', tokenize='unicode61'
);;
INSERT INTO generation_fts_raw (generation_fts_raw) VALUES ('rebuild');;
CREATE TRIGGER generation_fts_raw_ai AFTER INSERT ON generation BEGIN
    INSERT INTO generation_fts_raw (rowid, prompt, text) VALUES (new.id, new.prompt, new.text);
END;;
CREATE TRIGGER generation_fts_raw_ad AFTER DELETE ON generation BEGIN
    INSERT INTO generation_fts_raw (generation_fts_raw, rowid, prompt, text)
    VALUES ('delete', old.id, old.prompt, old.text);
END;;
CREATE TRIGGER generation_fts_raw_au AFTER UPDATE OF prompt, text ON generation BEGIN
    INSERT INTO generation_fts_raw (generation_fts_raw, rowid, prompt, text)
    VALUES ('delete', old.id, old.prompt, old.text);
    INSERT INTO generation_fts_raw (rowid, prompt, text) VALUES (new.id, new.prompt, new.text);
END
""",
    )


LATEST = len(MIGRATIONS)
LEGACY = tuple(MIGRATIONS)  # frozen: revision 0001 on SQLite


def user_version(conn: Connection) -> int:
    return int(conn.exec_driver_sql("PRAGMA user_version").scalar_one())


def _has_tables(conn: Connection) -> bool:
    return bool(conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar_one())


def backup(db_path: Path, version: int) -> Path:
    """Copy the live database (WAL included) to ``backups/studio-<version>-<timestamp>.db``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = contained(db_path.parent, "backups", f"studio-{version}-{stamp}.db")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    src = sqlite3.connect(db_path)
    try:
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
    tmp.replace(target)  # a half-written backup never carries the final name
    return target


def migrate_legacy(engine: Engine, db_path: Path) -> int:
    """Bring a SQLite database to the last legacy version; returns the version found before migrating."""
    with engine.connect() as conn:
        found = user_version(conn)
        needs_backup = found < LATEST and (found > 0 or _has_tables(conn))
    if found >= LATEST:
        return found
    if needs_backup:
        backup(db_path, found)
    for number, fn in enumerate(MIGRATIONS, start=1):
        with writer(engine).begin() as conn:
            # Re-read inside the write lock: another process may have migrated meanwhile.
            if user_version(conn) >= number:
                continue
            fn(conn)
            conn.exec_driver_sql(f"PRAGMA user_version = {number}")
    return found


def legacy_schema(conn: Connection) -> None:
    """Revision 0001 on SQLite: the legacy migrations the file still lacks, inside the caller's
    transaction (a fresh file gets all seven)."""
    have = user_version(conn)
    for number, fn in enumerate(LEGACY, start=1):
        if have < number:
            fn(conn)
            conn.exec_driver_sql(f"PRAGMA user_version = {number}")


# -- Alembic ------------------------------------------------------------------------------------------

SCRIPTS = Path(__file__).with_name("alembic")
_SHIPPED = SCRIPTS
#: The newest revision shipped (a test checks it is the scripts' head). A history already there opens without
#: loading Alembic at all: importing it costs a new process about 0.1 s, every CLI command and worker included.
HEAD = "0005"
#: pg_advisory_xact_lock key: one studio process upgrades the schema at a time ("studio" in ASCII).
LOCK_KEY = 0x73747564696F


def alembic_config(conn: Connection | None = None) -> Config:
    """Alembic configured in code (no alembic.ini): the scripts shipped in the package, and the
    connection to run them on."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


def head() -> str:
    from alembic.script import ScriptDirectory

    return str(ScriptDirectory.from_config(alembic_config()).get_current_head())


def _at_shipped_head(rev: str | None) -> bool:
    return rev == HEAD and SCRIPTS == _SHIPPED


def known_schema() -> str:
    """What this code knows, for the read-only sentence."""
    return f"revision {head()}"


def current_revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    return str(rows[0][0]) if len(rows) == 1 else None  # Alembic keeps one row on a linear history


def newer_than_code(engine: Engine) -> int | str | None:
    """The schema found when it is newer than this code (a revision it does not know, or a legacy
    version past the last legacy one), else None."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            found = user_version(conn)
            if found > LATEST:
                return found
        rev = current_revision(conn)
        if rev is not None:
            if _at_shipped_head(rev):
                return None
            from alembic.script import ScriptDirectory
            from alembic.util.exc import CommandError

            try:
                ScriptDirectory.from_config(alembic_config()).get_revision(rev)
            except CommandError:
                return rev
    return None


def migrate(engine: Engine, db_path: Path) -> int | str | None:
    """Bring the database to Alembic's head; returns what was found before (a legacy version or a
    revision; None for a fresh database)."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            rev = current_revision(conn)
        if _at_shipped_head(rev):
            return rev  # the everyday case: nothing to do, and Alembic never loaded
        with upgrade_turn(db_path):
            return _upgrade_sqlite(engine, db_path)
    with engine.connect() as conn:
        if _at_shipped_head(current_revision(conn)):
            return HEAD
    from alembic import command

    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
        found = current_revision(conn)
        if found != head():
            command.upgrade(alembic_config(conn), "head")
    return found


#: How long a process starting beside an upgrade waits for it before saying so.
UPGRADE_WAIT_S = 600.0


@contextlib.contextmanager
def upgrade_turn(db_path: Path) -> Iterator[None]:
    """One process at a time upgrades a SQLite file: an advisory lock on a file beside it, released by the
    kernel if the holder dies. Without it the waiting processes gave up after SQLite's 5 s busy timeout while
    a slow machine was still upgrading. Where the lock file cannot be made (a read-only folder, no fcntl),
    SQLite's own write lock is the only turn-taking."""
    try:
        import fcntl

        handle = open(db_path.with_name(db_path.name + ".upgrade-lock"), "a")  # noqa: SIM115 - held below
    except (ImportError, OSError):
        yield
        return
    with handle:
        deadline = time.monotonic() + UPGRADE_WAIT_S
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreError(
                        "Another studio process has been upgrading the history for more than "
                        f"{UPGRADE_WAIT_S / 60:.0f} minutes; stop it, or wait for it to finish, and start again."
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _upgrade_sqlite(engine: Engine, db_path: Path) -> int | str | None:
    """migrate() on SQLite, in this process's turn: what was found is read again (the process before may
    have upgraded the file meanwhile)."""
    found: int | str | None = None
    with engine.connect() as conn:
        rev = current_revision(conn)
        version = user_version(conn)
        has_tables = _has_tables(conn)
    if _at_shipped_head(rev):
        return rev
    if rev is None and (version or has_tables):
        if version >= LATEST:  # a last-legacy file about to be stamped: a copy first, as for any upgrade
            backup(db_path, version)
        found = migrate_legacy(engine, db_path)  # backs up first, then 1..7 in place
        if user_version_of(engine) < len(LEGACY):
            return found  # a shortened legacy list (tests making an old file): stop there
    elif rev is None and len(MIGRATIONS) < len(LEGACY):
        return migrate_legacy(engine, db_path)  # tests making an old file: never stamp it
    elif rev is not None and rev != head():
        backup(db_path, version)
    found = rev if rev is not None else found
    from alembic import command

    with writer(engine).begin() as conn:  # IMMEDIATE: readers see the old schema or the new one
        command.upgrade(alembic_config(conn), "head")
    return found


def user_version_of(engine: Engine) -> int:
    with engine.connect() as conn:
        return user_version(conn)
