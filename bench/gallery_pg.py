"""The gallery's questions at 1 M generations on PostgreSQL, next to SQLite, through the real ``Store``.

Both backends hold the same rows: the SQLite data directory ``bench.gallery`` seeds (cached), bulk-loaded
into a PostgreSQL database that Alembic migrated (``Store(..., database_url=...)`` on the empty database).
The load is COPY per table with ``session_replication_role = replica`` (no per-row triggers or foreign-key
checks), the secondary indexes dropped during the load and re-created from their own definitions, the
trigger-kept facet cube (``generation_stats``) rebuilt with one ``INSERT ... SELECT`` (``n_images`` is copied,
it is the same on both), then ``VACUUM ANALYZE``. The finished database is checked against what the
migration made (same indexes) and against SQLite (same facets and totals) before anything is timed.

Each row: PostgreSQL's median (value) and SQLite's median for the same ``Store`` call in the same run (peer).
The server is the one the tests start (``tests/servers.py``: Debian's PostgreSQL 15 on a free loopback port,
default settings but ``fsync=off``), stopped at the end. Thumbnails stay in the data directory on both.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import gallery
from bench import seed as seeding
from bench.common import Row, measure

GOAL_S = 0.050
PAGE = gallery.PAGE
#: Tables copied as they are; ``generation_stats`` is rebuilt from ``generation`` (the triggers' sum).
TABLES = (
    "asset",
    "run",
    "generation",
    "generation_asset",
    "tag",
    "generation_tag",
    "collection",
    "collection_item",
    "template",
    "interruption_ack",
    "draft",
)
_STATS = (
    "INSERT INTO generation_stats (live, status, model, aspect_ratio, image_size, n, images, cost_usd, "
    "prompt_tokens, output_tokens, total_tokens) "
    "SELECT (deleted_at IS NULL)::int, status, model, coalesce(aspect_ratio, ''), coalesce(image_size, ''), "
    "count(*), sum(n_images), coalesce(sum(cost_usd), 0), coalesce(sum(prompt_tokens), 0), "
    "coalesce(sum(output_tokens), 0), coalesce(sum(total_tokens), 0) FROM generation GROUP BY 1, 2, 3, 4, 5"
)
_SECONDARY_INDEXES = (
    "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
    "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid "
    "WHERE t.relname = ANY(%s) AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) "
    "ORDER BY 1"
)
_COPIED_COLUMNS = (
    "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped "
    "AND attgenerated = '' ORDER BY attnum"
)


def _libpq(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def load(sqlite_db: Path, url: str, log: Callable[[str], None] | None = None) -> dict[str, float]:
    """Migrate the empty database at ``url`` with Alembic and bulk-load every row of ``sqlite_db`` into it.

    Returns the seconds each step took."""
    import psycopg

    from studio.storage import Store

    steps: dict[str, float] = {}
    t = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-pg-migrate-") as tmp:
        Store(Path(tmp), database_url=url).close()
    steps["migrate"] = time.perf_counter() - t
    src = sqlite3.connect(f"file:{sqlite_db}?mode=ro", uri=True)
    try:
        with psycopg.connect(_libpq(url)) as pg, pg.cursor() as cur:
            cur.execute("SET session_replication_role = replica")  # no user triggers, no FK checks
            cur.execute("SET maintenance_work_mem = '256MB'")
            tables = [t for t in TABLES if src.execute(f'SELECT 1 FROM "{t}" LIMIT 1').fetchone()]
            indexes = cur.execute(_SECONDARY_INDEXES, (list(tables),)).fetchall()
            for name, _ in indexes:
                cur.execute(f'DROP INDEX "{name}"')
            t = time.perf_counter()
            for table in tables:
                pg_cols = [r[0] for r in cur.execute(_COPIED_COLUMNS, (table,)).fetchall()]
                lite_cols = {r[1] for r in src.execute(f'PRAGMA table_xinfo("{table}")')}
                cols = [c for c in pg_cols if c in lite_cols]
                names = ", ".join(f'"{c}"' for c in cols)
                with cur.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                    for row in src.execute(f'SELECT {names} FROM "{table}"'):
                        copy.write_row(row)
                if "id" in cols:
                    cur.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f'(SELECT coalesce(max(id), 1) FROM "{table}"))'
                    )
                if log:
                    log(f"postgresql: copied {table} ({time.perf_counter() - t:.0f} s)")
            steps["copy"] = time.perf_counter() - t
            t = time.perf_counter()
            for _, definition in indexes:
                cur.execute(definition)
            steps["indexes"] = time.perf_counter() - t
            cur.execute("DELETE FROM generation_stats")
            cur.execute(_STATS)
            if cur.execute(_SECONDARY_INDEXES, (list(tables),)).fetchall() != indexes:
                raise RuntimeError("the loaded database's indexes differ from the migration's")
            pg.commit()
        t = time.perf_counter()
        with psycopg.connect(_libpq(url), autocommit=True) as pg:
            pg.execute("VACUUM ANALYZE")
        steps["vacuum_analyze"] = time.perf_counter() - t
        if log:
            log(f"postgresql: loaded, {', '.join(f'{k} {v:.1f} s' for k, v in steps.items())}")
    finally:
        src.close()
    return steps


def questions(rows: int) -> list[tuple[str, Callable[[Any], Any]]]:
    """The gallery's questions, as calls on a ``Store`` (the same on both backends)."""
    from studio.storage import GalleryFilter

    mid = rows // 2
    common, rare = seeding.COMMON_WORD, seeding.RARE_WORD
    return [
        ("page_first", lambda s: s.gallery.page(limit=PAGE)),
        ("page_deep_keyset", lambda s: s.gallery.page(limit=PAGE, before_id=mid)),
        ("search_common", lambda s: s.gallery.page(search=common, limit=PAGE)),
        ("search_rare", lambda s: s.gallery.page(search=rare, limit=PAGE)),
        ("count_search_common_capped", lambda s: s.gallery.count(search=common, cap=1000)),
        ("facets_all", lambda s: s.gallery.facets(GalleryFilter())),
        ("facets_status_filtered", lambda s: s.gallery.facets(GalleryFilter(status="succeeded"))),
        ("facets_search_common", lambda s: s.gallery.facets(GalleryFilter(search=common))),
        ("totals_all", lambda s: s.gallery.totals()),
    ]


def _same_answers(lite: Any, pg: Any, rows: int) -> None:
    """Both backends must answer alike before their speed is compared."""
    for name, ask in questions(rows):
        a, b = ask(lite), ask(pg)
        if name.startswith(("page", "search")):
            a, b = [r.id for r in a], [r.id for r in b]
        if a != b:
            raise RuntimeError(f"{name}: PostgreSQL and SQLite answer differently ({b!r:.200} vs {a!r:.200})")


def bench_rows(data_dir: Path, rows: int, url: str, n: int, seeded_s: float) -> list[Row]:
    from studio.storage import Store

    lite = Store(data_dir)
    pg = Store(data_dir, database_url=url)
    out: list[Row] = []
    try:
        _same_answers(lite, pg, rows)
        for name, ask in questions(rows):
            ours_lite = measure(lambda a=ask: a(lite), n, warmup=1)
            ours_pg = measure(lambda a=ask: a(pg), n, warmup=1)
            out.append(
                Row(
                    f"gallery_pg.{rows}.{name}",
                    ours_pg.p50,
                    "s",
                    "SQLite, same Store call",
                    ours_lite.p50,
                    f"≤ {GOAL_S * 1000:.0f} ms",
                    ours_pg.p50 <= GOAL_S,
                    extra=ours_pg.extra() | {"sqlite": ours_lite.extra()},
                )
            )
    finally:
        pg.close()
        lite.close()
    out.append(
        Row(
            f"gallery_pg.{rows}.seed",
            seeded_s,
            "s",
            "",
            None,
            "",
            None,
            note="PostgreSQL: Alembic migration + COPY of the SQLite seed + indexes + VACUUM ANALYZE",
        )
    )
    return out


def run(
    quick: bool = False,
    rows: tuple[int, ...] | None = None,
    cache_dir: Path | None = None,
    n: int | None = None,
    log: Callable[[str], None] | None = None,
) -> list[Row]:
    from tests.servers import postgres_server

    sizes = rows or ((2000,) if quick else (1_000_000,))
    n = n or (3 if quick else 7)
    out: list[Row] = []
    with postgres_server() as server:
        for size in sizes:
            data_dir = gallery.seeded_dir(size, cache_dir, log)
            url = server.create_database(f"bench_gallery_{size}")
            started = time.perf_counter()
            load(data_dir / "studio.db", url, log)
            out += bench_rows(data_dir, size, url, n, time.perf_counter() - started)
            server.drop_database(f"bench_gallery_{size}")
    return out
