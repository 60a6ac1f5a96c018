"""Gallery and search at 100 k and 1 M generations, through the real ``Store``.

Seeded databases (``bench.seed``) are cached under ``bench/results/cache/`` keyed by row count and a
fingerprint of the schema a fresh Store creates, so a schema change re-seeds. Each query runs warm
(page cache hot) N times; the row's value is the median. Peers are the same questions asked the way
peer galleries ask them, with raw ``sqlite3``: OFFSET paging for deep pages, ``LIKE '%word%'`` for
search, and the identical SQL for first page and facets (which isolates the ORM's cost).
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import seed as seeding
from bench.common import RESULTS, Row, Timing, child_env, measure, python

PAGE = 48
GOALS = {"page": 0.100, "search": 0.050, "facet": 0.050, "cold": 3.0}
_PAGE_SQL = (
    "SELECT g.*, a.thumb_path FROM (SELECT * FROM generation WHERE deleted_at IS NULL "
    "ORDER BY id DESC LIMIT {limit} OFFSET {offset}) g "
    "LEFT JOIN generation_asset ga ON ga.generation_id = g.id "
    "LEFT JOIN asset a ON a.id = ga.asset_id ORDER BY g.id DESC"
)
_LIKE_SQL = (
    "SELECT * FROM generation WHERE deleted_at IS NULL AND (prompt LIKE ? OR text LIKE ?) "
    "ORDER BY id DESC LIMIT ?"
)
_FACET_SQL = "SELECT {col}, count(*) FROM generation WHERE deleted_at IS NULL GROUP BY {col}"
_COLD_STUDIO = (
    "import sys, time; t = time.perf_counter(); from studio.storage import Store; "
    "s = Store(sys.argv[1]); page = s.gallery.page(limit=48); assert page; print(time.perf_counter() - t)"
)
_COLD_PEER = (
    "import sys, sqlite3, time; t = time.perf_counter(); c = sqlite3.connect(sys.argv[1]); "
    "page = c.execute(sys.argv[2]).fetchall(); assert page; print(time.perf_counter() - t)"
)


def schema_fingerprint() -> str:
    """Hash of the SQL a fresh Store creates: a changed migration means a new cache key."""
    from studio.storage import Store

    with tempfile.TemporaryDirectory(prefix="bench-schema-") as tmp:
        Store(Path(tmp)).close()
        conn = sqlite3.connect(Path(tmp) / "studio.db")
        try:
            sql = [r[0] or "" for r in conn.execute("SELECT sql FROM sqlite_master ORDER BY type, name")]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        finally:
            conn.close()
    return f"v{version}-{hashlib.sha256(chr(10).join(sql).encode()).hexdigest()[:10]}"


def seeded_dir(rows: int, cache_dir: Path | None = None, log: Callable[[str], None] | None = None) -> Path:
    """A data dir holding ``rows`` seeded generations, from the cache or freshly seeded into it."""
    cache_dir = cache_dir or RESULTS / "cache"
    target = cache_dir / f"gallery-{rows}-{schema_fingerprint()}"
    if (target / "SEEDED").exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    started = time.perf_counter()
    seeding.seed(target, rows, log=log)
    (target / "SEEDED").write_text(f"{rows} rows seeded in {time.perf_counter() - started:.1f} s\n")
    return target


def _ro(db: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True, check_same_thread=False)


def _read_thumbs(records: list[Any]) -> int:
    total = 0
    for record in records:
        for image in record.images:
            if image.thumb_path is not None:
                total += len(image.thumb_path.read_bytes())
    return total


def _cold(data_dir: Path, n: int) -> tuple[list[float], list[float]]:
    ours, peer = [], []
    for _ in range(n):
        for code, args, out in (
            (_COLD_STUDIO, [str(data_dir)], ours),
            (_COLD_PEER, [str(data_dir / "studio.db"), _PAGE_SQL.format(limit=PAGE, offset=0)], peer),
        ):
            started = time.perf_counter()
            subprocess.run([python(), "-c", code, *args], check=True, capture_output=True, env=child_env())
            out.append(time.perf_counter() - started)
    return ours, peer


def _facets(store, **filters: Any) -> dict:
    """Every facet the History page shows (model, status, ratio, size, tag, collection) in one call."""
    from studio.storage import GalleryFilter

    return store.gallery.facets(GalleryFilter(**filters))


def bench_rows(data_dir: Path, rows: int, n: int) -> list[Row]:
    from studio.storage import Store

    store = Store(data_dir)
    conn = _ro(data_dir / "studio.db")
    mid = rows // 2
    out: list[Row] = []

    def add(
        name: str, ours: Callable[[], Any], peer_name: str, peer: Callable[[], Any], goal: str | None
    ) -> None:
        t, p = measure(ours, n, warmup=1), measure(peer, n, warmup=1)
        limit = GOALS.get(goal or "")
        out.append(
            Row(
                f"gallery.{rows}.{name}",
                t.p50,
                "s",
                peer_name,
                p.p50,
                f"≤ {limit * 1000:.0f} ms" if limit else "",
                t.p50 <= limit if limit else None,
                extra=t.extra() | {"peer_max": p.max},
            )
        )

    try:
        add(
            "page_first",
            lambda: store.gallery.page(limit=PAGE),
            "raw sqlite3, same query",
            lambda: conn.execute(_PAGE_SQL.format(limit=PAGE, offset=0)).fetchall(),
            "page",
        )
        add(
            "page_first+thumbs",
            lambda: _read_thumbs(store.gallery.page(limit=PAGE)),
            "raw sqlite3 + thumbs",
            lambda: [
                Path(data_dir / r[-1]).read_bytes()
                for r in conn.execute(_PAGE_SQL.format(limit=PAGE, offset=0)).fetchall()
                if r[-1]
            ],
            "page",
        )
        add(
            "page_deep_keyset",
            lambda: store.gallery.page(limit=PAGE, before_id=mid),
            "OFFSET paging, same depth",
            lambda: conn.execute(_PAGE_SQL.format(limit=PAGE, offset=rows - mid)).fetchall(),
            "page",
        )
        for kind, word in (("common", seeding.COMMON_WORD), ("rare", seeding.RARE_WORD)):
            add(
                f"search_{kind}",
                lambda w=word: store.gallery.page(search=w, limit=PAGE),
                f"LIKE '%{word}%'",
                lambda w=word: conn.execute(_LIKE_SQL, (f"%{w}%", f"%{w}%", PAGE)).fetchall(),
                "search",
            )
        like_count = ("SELECT count(*) FROM generation WHERE prompt LIKE ?", (f"%{seeding.COMMON_WORD}%",))
        add(
            "count_search_common_capped",
            lambda: store.gallery.count(search=seeding.COMMON_WORD, cap=1000),
            "LIKE count",
            lambda: conn.execute(*like_count).fetchall(),
            "facet",
        )
        add(
            "count_search_common_exact",
            lambda: store.gallery.count(search=seeding.COMMON_WORD),
            "LIKE count",
            lambda: conn.execute(*like_count).fetchall(),
            None,
        )
        add(
            "facets_all",
            lambda: _facets(store),
            "raw sqlite3, GROUP BY status",
            lambda: conn.execute(_FACET_SQL.format(col="status")).fetchall(),
            "facet",
        )
        add(
            "facets_status_filtered",
            lambda: _facets(store, status="succeeded"),
            "raw sqlite3, GROUP BY model",
            lambda: conn.execute(
                _FACET_SQL.format(col="model").replace("WHERE", "WHERE status='succeeded' AND")
            ).fetchall(),
            "facet",
        )
        add(
            "facets_search_common",
            lambda: _facets(store, search=seeding.COMMON_WORD),
            "LIKE count",
            lambda: conn.execute(*like_count).fetchall(),
            "facet",
        )
        add(
            "totals_all",
            lambda: store.gallery.totals(),
            "raw sqlite3, sum(cost_usd)",
            lambda: conn.execute(
                "SELECT count(*), total(cost_usd) FROM generation WHERE deleted_at IS NULL"
            ).fetchall(),
            "facet",
        )
        add(
            "count_status",
            lambda: store.gallery.count(status="failed"),
            "raw sqlite3 count",
            lambda: conn.execute(
                "SELECT count(*) FROM generation WHERE status='failed' AND deleted_at IS NULL"
            ).fetchall(),
            "facet",
        )
        page_thumbs = [
            str(data_dir / r[-1]) for r in conn.execute(_PAGE_SQL.format(limit=PAGE, offset=0)) if r[-1]
        ]
        script, floor = _script_times(data_dir, page_thumbs, n)
        out.append(
            Row(
                f"gallery.{rows}.history_page_script",
                script.p50,
                "s",
                f"bare script: {len(page_thumbs)} st.image thumbnails",
                floor.p50,
                "≤ 100 ms",
                script.p50 <= GOALS["page"],
                note="AppTest rerun of studio/app/screens/history.py, warm",
                extra=script.extra(),
            )
        )
        ours, peer = _cold(data_dir, max(1, min(n, 3)))
        med = sorted(ours)[len(ours) // 2]
        peer_med = sorted(peer)[len(peer) // 2]
        out.append(
            Row(
                f"gallery.{rows}.cold_start",
                med,
                "s",
                "python + sqlite3 first page",
                peer_med,
                "≤ 3 s",
                med <= GOALS["cold"],
                note="new process: import + Store() + first page",
                extra={"p50": med, "max": max(ours), "n": len(ours)},
            )
        )
    finally:
        conn.close()
        store.close()
    return out


_BARE_PAGE = """
import json, os
import streamlit as st
cols = st.columns(6)
for i, path in enumerate(json.loads(os.environ["BENCH_THUMBS"])):
    cols[i % 6].image(path)
"""


def _script_times(data_dir: Path, thumbs: list[str], n: int) -> tuple[Timing, Timing]:
    """Script time of the real History page (48 cards with filters, counts, totals) and of a bare page
    showing the same thumbnails: Streamlit's own floor for a gallery page."""
    import json
    import os

    from streamlit.testing.v1 import AppTest

    import studio

    saved = {k: os.environ.get(k) for k in ("STUDIO_DATA_DIR", "BENCH_THUMBS")}
    os.environ.update(STUDIO_DATA_DIR=str(data_dir), BENCH_THUMBS=json.dumps(thumbs))
    try:
        history = AppTest.from_file(
            str(Path(studio.__file__).parent / "app" / "screens" / "history.py"), default_timeout=120
        )
        bare = AppTest.from_string(_BARE_PAGE, default_timeout=60)
        return measure(history.run, n, warmup=1), measure(bare.run, n, warmup=1)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run(
    quick: bool = False,
    rows: tuple[int, ...] | None = None,
    cache_dir: Path | None = None,
    n: int | None = None,
    log: Callable[[str], None] | None = None,
) -> list[Row]:
    sizes = rows or ((2000,) if quick else (100_000, 1_000_000))
    n = n or (3 if quick else 7)
    out: list[Row] = []
    for size in sizes:
        out += bench_rows(seeded_dir(size, cache_dir, log), size, n)
    return out
