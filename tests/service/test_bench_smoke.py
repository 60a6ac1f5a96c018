"""Each benchmark's entry point runs in quick mode and returns well-formed rows (no timing assertions)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

# bench/ is a top-level folder of the repository, not part of the installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench import blob_save, browser, client_path, gallery, gallery_pg, memory, team, variants  # noqa: E402
from bench import seed as seeding  # noqa: E402
from bench.__main__ import table  # noqa: E402
from bench.common import Row  # noqa: E402


def _check(rows: list[Row], prefix: str) -> None:
    assert rows, "a benchmark returned no rows"
    names = [r.name for r in rows]
    assert len(names) == len(set(names)), f"duplicate row names: {names}"
    for r in rows:
        assert r.name.startswith(prefix + "."), r.name
        if r.value is None:  # only a skip may carry no value, and it says why
            assert r.note.startswith("skipped:"), r
            continue
        assert isinstance(r.value, (int, float)) and math.isfinite(r.value), r
        assert r.unit, r
        if r.unit == "s":
            assert r.value > 0, r
        if r.peer_value:
            assert r.peer and r.ratio is not None
            assert math.isclose(r.ratio, r.value / r.peer_value, rel_tol=1e-9), r
        if r.goal:
            assert isinstance(r.passed, bool), r
        json.dumps(r.to_json())  # serialisable for latest.json
    assert all(name in table(rows) for name in names)


def test_client_path_quick() -> None:
    rows = client_path.run(quick=True)
    _check(rows, "client_path")
    assert any(r.name.endswith("4K.studio") and r.peer == "google-genai SDK" for r in rows)


def test_variants_quick() -> None:
    rows = variants.run(quick=True, latency=0.2)
    _check(rows, "variants")
    assert {"variants.1", "variants.4", "variants.8"} <= {r.name for r in rows}


def test_memory_quick() -> None:
    rows = memory.run(quick=True)
    _check(rows, "memory")
    assert any("rss_peak" in r.name for r in rows)


def test_gallery_quick(tmp_path) -> None:
    rows = gallery.run(quick=True, rows=(500,), cache_dir=tmp_path, n=1)
    _check(rows, "gallery")
    cached = list(tmp_path.glob("gallery-500-*/SEEDED"))
    assert len(cached) == 1  # a second run reuses the cache


def test_gallery_pg_quick(tmp_path) -> None:
    """The same rows on PostgreSQL (bulk-loaded, checked to answer like SQLite before any timing)."""
    rows = gallery_pg.run(quick=True, rows=(300,), cache_dir=tmp_path, n=1)
    _check(rows, "gallery_pg")
    names = {r.name for r in rows}
    assert {"gallery_pg.300.search_rare", "gallery_pg.300.facets_all", "gallery_pg.300.seed"} <= names
    assert all(r.peer == "SQLite, same Store call" for r in rows if r.goal)


def test_team_quick() -> None:
    rows = team.run(quick=True)
    _check(rows, "team")
    assert {r.name for r in rows} == {
        "team.endpoint_floor",
        "team.processes.sqlite",
        "team.processes.postgresql",
        "team.cpu_per_generation.sqlite",
        "team.cpu_per_generation.postgresql",
    }
    cpu = {r.name: r for r in rows if r.name.startswith("team.cpu_per_generation")}
    assert all(r.value is not None and r.value > 0 for r in cpu.values())  # measured in the children
    for r in cpu.values():  # the whole machine spent at least what the studios did (/proc/stat ticks: 10 ms)
        assert r.value is not None and r.extra["machine_cpu_s_per_generation"] * 1000 >= r.value - 10 / 8
    for r in rows:
        if r.name.startswith("team.processes."):
            assert r.extra["cores_bound_s"] >= r.peer_value  # one generation plus the others' CPU share


def test_blob_save_quick() -> None:
    rows = blob_save.run(quick=True)
    _check(rows, "blob_save")
    assert any(r.name.startswith("blob_save.save_4k") for r in rows)


def test_seed_matches_the_store_schema(tmp_path) -> None:
    import sqlite3

    from studio.storage import Store

    Store(tmp_path / "fresh").close()
    seeding.seed(tmp_path / "seeded", 300)

    def schema(d):
        conn = sqlite3.connect(d / "studio.db")
        try:
            return (
                conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall(),
                conn.execute("PRAGMA user_version").fetchone(),
            )
        finally:
            conn.close()

    assert schema(tmp_path / "seeded") == schema(tmp_path / "fresh")
    store = Store(tmp_path / "seeded")
    try:
        assert store.gallery.count() == 300
        assert store.gallery.page(search=seeding.COMMON_WORD, limit=5)
        page = store.gallery.page(limit=48)
        thumbs = [i.thumb_path for r in page for i in r.images]
        assert thumbs and all(p is not None and p.read_bytes()[:2] == b"\xff\xd8" for p in thumbs)
    finally:
        store.close()


@pytest.mark.browser
def test_browser_quick() -> None:
    rows = browser.run(quick=True)
    _check(rows, "browser")
