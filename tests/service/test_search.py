"""Searching the history on a real SQLite file: stems, prefixes, phrases, exclusions and relative dates,
through every gallery read (page, count, facets, totals); and the m007 upgrade of an existing database."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from studio.storage import GalleryFilter, Store, filter_sql, migrations
from tests.stores import db_execute, legacy_row, open_store, sqlite_only

pytestmark = pytest.mark.usefixtures("backend")

F = GalleryFilter


@pytest.fixture
def store(tmp_path: Path):
    s = open_store(tmp_path / "data")
    yield s
    s.close()


def add(store: Store, prompt: str, *, days_ago: int = 0, model: str = "gemini-2.5-flash-image") -> int:
    gen = store.generations.create_pending(
        prompt=prompt, model=model, settings={"aspect_ratio": "1:1"}, owner="proc-1"
    )
    if days_ago:
        when = (datetime.now(UTC) - timedelta(days=days_ago)).isoformat(timespec="microseconds")
        db_execute(store, "UPDATE generation SET created_at = ? WHERE id = ?", (when, gen))
    return gen


def ids(store: Store, search: str, **kw) -> list[int]:
    return [r.id for r in store.gallery.page(F(search=search, **kw))]


def test_stem_prefix_phrase_and_exclusions(store: Store) -> None:
    pot = add(store, "A ceramic teapot on a wooden table")
    bakery = add(store, "A bakery window at dawn, a teapot inside")
    red = add(store, "A red car in the rain")
    loose = add(store, "A car that is red, parked")
    assert ids(store, "teapots") == [bakery, pot]  # stem
    assert ids(store, "teap") == [bakery, pot]  # prefix
    assert ids(store, "teapots -bakery") == [pot]
    assert ids(store, "-bakery") == [loose, red, pot]  # exclusions alone
    assert ids(store, "-bakeries -car") == [pot]  # the exclusion is stemmed too
    assert ids(store, '"red car"') == [red]  # the phrase, not both words anywhere
    assert ids(store, "red car") == [loose, red]
    assert store.gallery.count(F(search="-bakery")) == 3
    assert store.gallery.count(F(search="-bakery"), cap=10) == 3
    assert store.gallery.count(F(search="teapots -bakery"), cap=10) == 1
    assert store.gallery.totals(F(search="-bakery"))["count"] == 3
    facets = store.gallery.facets(F(search="-bakery"))
    assert sum(n for _, n in facets["model"]) == 3


def test_partial_words_match_as_typed_and_whole_words_by_stem(store: Store) -> None:
    rows = {
        p: add(store, p)
        for p in [
            "running shoes",
            "baking bread",
            "a happiness jar",
            "a university campus",
            "illustrated cinematic lighting",
            "redwood carpet",
            "a red car",
            "a painted wall",
            "painting a wall",
        ]
    }
    for typed, prompt in [
        ("runn", "running shoes"),
        ("bakin", "baking bread"),
        ("happines", "a happiness jar"),
        ("universit", "a university campus"),
        ("illustrat", "illustrated cinematic lighting"),
        ("cinemati", "illustrated cinematic lighting"),
        ("lightin", "illustrated cinematic lighting"),
    ]:
        assert ids(store, typed) == [rows[prompt]], typed
        assert store.gallery.count(F(search=typed), cap=10) == 1, typed
        assert store.gallery.totals(F(search=typed))["count"] == 1, typed
    assert ids(store, "red car") == [rows["a red car"]]  # "red" is a whole word: not "redwood carpet"
    assert ids(store, '"painted"') == [rows["a painted wall"]]  # a phrase is not stemmed
    assert ids(store, "wall painted") == [rows["painting a wall"], rows["a painted wall"]]


def test_both_indexes_follow_inserts_updates_and_deletes(store: Store) -> None:
    gen = add(store, "a copper kettle")
    assert (
        ids(store, "kettles") == [gen]
        and ids(store, "kett") == [gen]
        and ids(store, '"copper kettle"') == [gen]
    )
    db_execute(store, "UPDATE generation SET prompt = 'a brass lantern' WHERE id = ?", (gen,))
    assert ids(store, "kett") == [] and ids(store, "kettle") == [] and ids(store, '"copper kettle"') == []
    assert (
        ids(store, "lanterns") == [gen]
        and ids(store, "lant") == [gen]
        and ids(store, '"brass lantern"') == [gen]
    )
    db_execute(store, "DELETE FROM generation_asset WHERE generation_id = ?", (gen,))
    db_execute(store, "DELETE FROM generation WHERE id = ?", (gen,))
    assert ids(store, "lant") == [] and ids(store, "lantern") == [] and ids(store, '"brass lantern"') == []
    if store.db.dialect == "sqlite":  # PostgreSQL's tsvector columns are generated: nothing to drift
        con = sqlite3.connect(store.db_path)
        for index in ("generation_fts", "generation_fts_raw"):  # each index agrees with the rows it indexes
            con.execute(f"INSERT INTO {index} ({index}, rank) VALUES ('integrity-check', 1)")
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        con.close()


def test_relative_dates_filter_by_day(store: Store) -> None:
    today = add(store, "teapot today")
    yesterday = add(store, "teapot yesterday", days_ago=1)
    old = add(store, "teapot long ago", days_ago=40)
    assert ids(store, "yesterday") == [yesterday]
    assert ids(store, "teapot today") == [today]
    assert ids(store, "teapot last 7 days") == [yesterday, today]  # newest id first
    assert ids(store, "-yesterday today") == [today]  # "-yesterday" leaves out the word, "today" is the date
    assert ids(store, '"long ago"') == [old]
    assert store.gallery.count(F(search="yesterday")) == 1
    assert store.gallery.count(F(search="teapot yesterday"), cap=5) == 1
    assert store.gallery.totals(F(search="yesterday"))["count"] == 1
    assert sum(n for _, n in store.gallery.facets(F(search="teapot yesterday"))["model"]) == 1
    assert sum(n for _, n in store.gallery.facets(F(search="yesterday"))["status"]) == 1
    # keyset paging inside a date search
    assert ids(store, "last 90 days") == [old, yesterday, today]
    assert [r.id for r in store.gallery.page(F(search="last 90 days"), limit=1, before_id=yesterday)] == [
        today
    ]


def test_dates_follow_the_injected_clock(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    gen = add(store, "a lantern")
    tomorrow = datetime.now().astimezone() + timedelta(days=1)
    monkeypatch.setattr(filter_sql, "local_now", lambda: tomorrow)
    assert ids(store, "yesterday") == [gen] and ids(store, "today") == []


@pytest.fixture
def berlin(monkeypatch: pytest.MonkeyPatch):
    """The machine's zone is Europe/Berlin (TZ + tzset), restored afterwards."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def at(store: Store, prompt: str, when: datetime) -> int:
    gen = add(store, prompt)
    db_execute(
        store,
        "UPDATE generation SET created_at = ? WHERE id = ?",
        (when.isoformat(timespec="microseconds"), gen),
    )
    return gen


def test_relative_dates_across_a_dst_change(
    store: Store, berlin: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Monday 30 Mar 2026 noon in Berlin; the clocks went forward (CET -> CEST) at 02:00 on Sunday 29 Mar
    monkeypatch.setattr(filter_sql, "utc_now", lambda: datetime(2026, 3, 30, 10, 0, tzinfo=UTC))
    saturday_late = at(store, "lamp", datetime(2026, 3, 28, 22, 30, tzinfo=UTC))  # Sat 23:30 CET
    sunday_late = at(store, "lamp", datetime(2026, 3, 29, 21, 30, tzinfo=UTC))  # Sun 23:30 CEST
    monday_early = at(store, "lamp", datetime(2026, 3, 29, 22, 30, tzinfo=UTC))  # Mon 00:30 CEST
    assert ids(store, "yesterday") == [sunday_late]
    assert ids(store, "today") == [monday_early]
    assert ids(store, "lamp last week") == [sunday_late, saturday_late]
    assert ids(store, "this week") == [monday_early]
    assert store.gallery.count(F(search="yesterday")) == 1


@pytest.mark.parametrize(
    "query", ['"', "-", '-"', "- -", '"" -""', "-*", "NOT -NOT", 'a -"b', "today -", "0\ud800"]
)
def test_hostile_searches_never_raise(store: Store, query: str) -> None:
    add(store, 'cat and dog (NEAR) "quoted"')
    assert isinstance(store.gallery.page(F(search=query)), list)
    assert isinstance(store.gallery.count(F(search=query), cap=5), int)
    store.gallery.facets(F(search=query))
    store.gallery.totals(F(search=query))


def test_m007_rebuilds_the_index_of_an_existing_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite_only("a legacy SQLite file's FTS5 tables")
    upto = migrations.MIGRATIONS.index(migrations.m005_interruption_notices) + 1
    with monkeypatch.context() as m:  # a database made by the code before stemming
        m.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:upto])
        m.setattr(migrations, "LATEST", upto)
        old = Store(tmp_path)
        db_path = old.db_path
        old.close()
    # rows as that schema wrote them (today's ORM names columns it did not have); its triggers index them
    pot = legacy_row(db_path, "A ceramic teapot")
    legacy_row(db_path, "A bakery at dawn")
    con = sqlite3.connect(db_path)
    teapots = "SELECT rowid FROM generation_fts WHERE generation_fts MATCH 'teapots'"
    assert con.execute(teapots).fetchall() == []  # no stemming yet
    con.close()
    s = Store(tmp_path)
    try:
        assert ids(s, "teapots") == [pot] and ids(s, "teapots -bakery") == [pot]
        con = sqlite3.connect(s.db_path)
        assert con.execute("PRAGMA user_version").fetchone() == (migrations.LATEST,)
        sql = con.execute("SELECT sql FROM sqlite_master WHERE name = 'generation_fts'").fetchone()[0]
        assert "porter" in sql
        raw = con.execute("SELECT sql FROM sqlite_master WHERE name = 'generation_fts_raw'").fetchone()[0]
        assert "porter" not in raw and "unicode61" in raw
        for index in ("generation_fts", "generation_fts_raw"):
            con.execute(f"INSERT INTO {index} ({index}, rank) VALUES ('integrity-check', 1)")
        con.close()
        later = add(s, "teapots in a row")  # the triggers still index new rows
        assert ids(s, "teapot") == [later, pot] and ids(s, "teapo") == [later, pot]
    finally:
        s.close()
    backups = list((tmp_path / "backups").iterdir())
    assert [b.name.startswith(f"studio-{upto}-") for b in backups] == [True]


def test_date_only_and_exclusion_only_totals_and_facets_are_exact(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from studio.storage import gallery_repo

    monkeypatch.setattr(gallery_repo, "SEARCH_WINDOW", 3)  # a small window: 5 rows overflow it
    for i in range(5):
        add(store, f"lamp {i}", days_ago=1)
    add(store, "a bakery", days_ago=1)
    add(store, "lamp today")
    for search, n in (("yesterday", 6), ("-bakery", 6), ("yesterday -bakery", 5)):
        assert store.gallery.totals(F(search=search))["count"] == n, search
        assert sum(c for _, c in store.gallery.facets(F(search=search))["model"]) == n, search
        assert store.gallery.count(F(search=search)) == n, search
    # a search with words still counts within its newest matches (the documented window)
    assert store.gallery.totals(F(search="lamp"))["count"] == 3


def test_the_services_describe_the_box_for_a_page(monkeypatch: pytest.MonkeyPatch) -> None:
    from studio.services import search_box as search

    monkeypatch.setattr(filter_sql, "local_now", lambda: datetime(2026, 11, 30, 14, 5, tzinfo=UTC))
    assert (
        search.describe("teapot -bakery last year") == "matching teapot · without bakery · last year (2025)"
    )
    assert search.describe("yesterday") == "yesterday (Sun 29 Nov)"
    assert search.describe("") == "" and search.understand("  ").is_empty


def test_a_one_word_search_pages_newest_first_through_both_indexes(store: Store) -> None:
    made = [add(store, p) for p in ["lighting", "a light", "lights", "dark", "lighthouse", "alight", "light"]]
    other = add(store, "light", model="gemini-3-pro-image")
    want = [other, made[6], made[4], made[2], made[1], made[0]]  # stem "light" or typed prefix "light*"
    assert ids(store, "light") == want
    pages, before = [], None
    while True:
        page = [r.id for r in store.gallery.page(F(search="light"), limit=2, before_id=before)]
        if not page:
            break
        pages += page
        before = page[-1]
    assert pages == want
    assert ids(store, "light", model="gemini-3-pro-image") == [other]
    assert ids(store, "light -lighthouse") == [other, made[6], made[2], made[1], made[0]]
    assert ids(store, 'lig "a light"') == [made[1]]
    assert store.gallery.count(F(search="light"), cap=3) == 4  # counting stops at cap + 1
    assert store.gallery.count(F(search="light"), cap=10) == 6
    store.trash_bin.trash([made[6]])
    assert ids(store, "light")[:2] == [other, made[4]]
