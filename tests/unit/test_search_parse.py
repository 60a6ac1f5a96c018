"""The History search language (studio.domain.search) and its FTS5 form (studio.storage.filter_sql.fts_query),
run against real in-memory FTS5 tables with the studio's tokenizers."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from studio.domain.search import parse_search
from studio.storage import filter_sql
from studio.storage.filter_sql import FtsQuery, fts_match, fts_query

# Monday 30 Nov 2026, 14:05 at UTC+1
NOW = datetime(2026, 11, 30, 14, 5, tzinfo=timezone(timedelta(hours=1)))


def local(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=NOW.tzinfo)


def test_words_phrases_and_exclusions() -> None:
    q = parse_search('teapots "red car" -bakery -"old town"', NOW)
    assert q.words == ("teapots",)
    assert q.phrases == ("red car",)
    assert q.excluded == ("bakery", "old town")
    assert q.dates is None and q.has_text
    assert q.describe() == "matching teapots and “red car” · without bakery, old town"


def test_unbalanced_quote_runs_to_the_end_and_stray_quotes_stay_in_words() -> None:
    assert parse_search('cat "red car', NOW).phrases == ("red car",)
    assert parse_search('say"hi"', NOW).words == ('say"hi"',)
    assert parse_search('"', NOW).is_empty and parse_search('""', NOW).is_empty


def test_punctuation_only_and_lone_minus_are_dropped() -> None:
    q = parse_search("- -- *** ( ) , -*", NOW)
    assert q.is_empty and fts_query(" - *** ") is None


def test_only_exclusions_has_no_text() -> None:
    q = parse_search("-bakery", NOW)
    assert q.excluded == ("bakery",) and not q.has_text and not q.is_empty
    assert fts_query("-bakery") is None  # FTS5's NOT needs a left side: storage uses NOT IN instead


def test_today_yesterday_and_weeks_are_local_half_open_ranges() -> None:
    today = parse_search("today", NOW).dates
    assert today and (today.start, today.end) == (local(2026, 11, 30), local(2026, 12, 1))
    assert today.label == "today (Mon 30 Nov)"
    yesterday = parse_search("Yesterday", NOW).dates
    assert yesterday and (yesterday.start, yesterday.end) == (local(2026, 11, 29), local(2026, 11, 30))
    assert yesterday.label == "yesterday (Sun 29 Nov)"
    last = parse_search("last week", NOW).dates
    assert last and (last.start, last.end) == (local(2026, 11, 23), local(2026, 11, 30))
    assert last.label == "last week (23–29 Nov)"
    this = parse_search("this week", NOW).dates
    assert this and (this.start, this.end) == (local(2026, 11, 30), local(2026, 12, 1))


def test_months_years_and_last_n_days() -> None:
    month = parse_search("this month", NOW).dates
    assert month and (month.start, month.end) == (local(2026, 11, 1), local(2026, 12, 1))
    prev = parse_search("last month", datetime(2026, 1, 15, tzinfo=UTC)).dates
    assert prev and (prev.start, prev.end) == (
        datetime(2025, 12, 1, tzinfo=UTC),
        datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert prev.label == "last month (December 2025)"
    seven = parse_search("last 7 days", NOW).dates
    assert seven and (seven.start, seven.end) == (local(2026, 11, 24), local(2026, 12, 1))
    assert seven.label == "last 7 days (24–30 Nov)"
    two = parse_search("past two weeks", NOW).dates
    assert two and two.start == local(2026, 11, 17)
    huge = parse_search("last 999999 days", NOW).dates  # clamped, never an overflow
    assert huge and huge.start.year >= 2016
    assert parse_search("this year", NOW).dates.start == local(2026, 1, 1)  # type: ignore[union-attr]


def test_last_year_and_every_number_word() -> None:
    q = parse_search("teapot last year", NOW)
    assert q.words == ("teapot",) and q.dates is not None
    assert (q.dates.start, q.dates.end) == (local(2025, 1, 1), local(2026, 1, 1))
    assert q.describe() == "matching teapot · last year (2025)"
    for word, n in [("eight", 8), ("nine", 9), ("twelve", 12), ("thirty", 30)]:
        days = parse_search(f"last {word} days", NOW).dates
        assert days and days.start == local(2026, 11, 30) - timedelta(days=n - 1), word
        assert days.label.startswith(f"last {n} days"), word
    nine = parse_search("past nine weeks", NOW).dates
    assert nine and nine.start == local(2026, 11, 30) - timedelta(days=62)
    assert parse_search('"last year"', NOW).dates is None  # quoted: the words themselves


def test_dates_mix_with_words_and_quoting_keeps_the_word() -> None:
    q = parse_search("teapot yesterday -blue", NOW)
    assert q.words == ("teapot",) and q.excluded == ("blue",) and q.dates is not None
    assert q.describe() == "matching teapot · without blue · yesterday (Sun 29 Nov)"
    quoted = parse_search('"today" special', NOW)
    assert quoted.dates is None and quoted.phrases == ("today",) and quoted.words == ("special",)
    assert parse_search("-today", NOW).excluded == ("today",)
    # "last" alone, or "last night", is not a date: the words stay words
    assert parse_search("the last samurai", NOW).words == ("the", "last", "samurai")
    assert parse_search("last 0 days", NOW).dates is None
    assert parse_search("last ² days", NOW).dates is None  # a superscript is a digit to Python, not a number


def test_two_dates_intersect() -> None:
    q = parse_search("this month yesterday", NOW)
    assert q.dates and (q.dates.start, q.dates.end) == (local(2026, 11, 29), local(2026, 11, 30))
    empty = parse_search("today yesterday", NOW).dates
    assert empty and empty.start == empty.end  # nothing can match: an empty range, not an error


def test_boundaries_across_a_dst_change_use_each_days_own_offset() -> None:
    berlin = ZoneInfo("Europe/Berlin")  # clocks went forward at 02:00 on Sunday 29 Mar 2026
    now = datetime(2026, 3, 30, 12, 0, tzinfo=berlin)
    q = parse_search("yesterday", now)
    assert q.dates is not None
    assert q.dates.start.astimezone(UTC) == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)  # 00:00 CET
    assert q.dates.end.astimezone(UTC) == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)  # 00:00 CEST
    week = parse_search("last week", now).dates
    assert week and week.start.astimezone(UTC) == datetime(2026, 3, 22, 23, 0, tzinfo=UTC)
    assert week.end.astimezone(UTC) == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)


def test_fts_query_shape() -> None:
    assert fts_query("teapots") == FtsQuery(last='"teapots"')
    assert fts_query('teapot car "red car" -bakery') == FtsQuery(
        stemmed='"teapot"', last='"car"', phrases='"red car"', excluded='"bakery"'
    )
    assert fts_query("yesterday") is None


# -- every string is a valid FTS5 query --------------------------------------------------------------

SCHEMA = [
    "CREATE TABLE generation (id INTEGER PRIMARY KEY, prompt TEXT, text TEXT)",
    "CREATE VIRTUAL TABLE generation_fts USING fts5(prompt, text, content='generation', content_rowid='id',"
    " tokenize='porter unicode61')",
    "CREATE VIRTUAL TABLE generation_fts_raw USING fts5(prompt, text, content='generation', content_rowid='id',"
    " tokenize='unicode61')",
]


@pytest.fixture(scope="module")
def fts() -> sqlite3.Connection:
    con = sqlite3.connect(":memory:")
    for statement in SCHEMA:
        con.execute(statement)
    rows = ["a ceramic teapot", "teapots on a shelf", "a bakery at dawn", "red car", "car, red", "猫 🐈"]
    rows += ["running shoes", "redwood carpet", "a painted wall", "painting a wall"]
    con.executemany("INSERT INTO generation (id, prompt, text) VALUES (?, ?, '')", enumerate(rows, 1))
    for index in ("generation_fts", "generation_fts_raw"):
        con.execute(f"INSERT INTO {index} ({index}) VALUES ('rebuild')")
    return con


def match(con: sqlite3.Connection, search: str) -> list[int]:
    """The ids the storage layer's WHERE term (``fts_match``) selects, run on the two real FTS5 indexes."""
    query = fts_query(search)
    assert query is not None
    where = fts_match(query).compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
    sql = "SELECT generation.id FROM generation JOIN generation_fts ON generation_fts.rowid = generation.id"
    return [r[0] for r in con.execute(f"{sql} WHERE {where} ORDER BY generation.id")]


def test_stems_prefixes_phrases_and_exclusions_on_fts5(fts: sqlite3.Connection) -> None:
    assert match(fts, "teapots") == [1, 2]
    assert match(fts, "teap") == [1, 2]
    assert match(fts, "bakeries") == [3]
    assert match(fts, '"red car"') == [4]
    assert match(fts, "red car") == [4, 5]
    assert match(fts, "a -bakery") == [1, 2, 9, 10]


def test_only_the_last_word_is_a_prefix_and_phrases_are_not_stemmed(fts: sqlite3.Connection) -> None:
    assert match(fts, "runn") == [7]  # porter indexes "running" as "run": the prefix is read unstemmed
    assert match(fts, "shoes runn") == [7]
    assert match(fts, "red car") == [4, 5]  # "red" is a whole word: not "redwood"
    assert match(fts, "red carp") == []
    assert match(fts, "carpet redw") == [8]
    assert match(fts, '"painted"') == [9]  # a phrase is what was typed: not "painting"
    assert match(fts, "painted") == [9, 10]  # a word is its stem
    assert match(fts, '"red car') == [4]


HOSTILE = st.text(
    alphabet=st.sampled_from(list("\"-*()^:+{}'\\ \t\nNOTANDORNEAR,.abcé猫🐈_\u0301\u202e"))
    | st.characters(),
    max_size=60,
)


DATE_WORDS = ["today", "yesterday", "this", "last", "past", "week", "month", "year", "days", "weeks", "day"]
NUMBERS = ["0", "1", "7", "999999", "0000000", "²", "٣", "-3", "two", "ten", '"', "-"]
PHRASES = st.lists(st.sampled_from(DATE_WORDS + NUMBERS) | HOSTILE, max_size=8).map(" ".join)


@settings(max_examples=400, deadline=None)
@given(HOSTILE | PHRASES)
@example("last ² days")
@example('past ٣ weeks -"today')
@example("0\ud800 yesterday")
def test_any_text_parses_and_is_a_valid_fts5_query(text: str) -> None:
    con = sqlite3.connect(":memory:")
    con.execute("CREATE VIRTUAL TABLE f USING fts5(prompt, text, tokenize='porter unicode61')")
    con.execute("INSERT INTO f (rowid, prompt, text) VALUES (1, 'cat and dog (NEAR) \"quoted\"', '')")
    q = parse_search(text, NOW)
    q.describe()
    query = fts_query(text)
    assert (query is None) == (not q.has_text)
    if query is not None:
        con.execute("CREATE VIRTUAL TABLE generation_fts_raw USING fts5(prompt, text)")
        for index, part in query.parts():  # never an FTS5 syntax error
            table = "f" if index == "generation_fts" else index
            con.execute(f"SELECT rowid FROM {table} WHERE {table} MATCH ?", (part,)).fetchall()
    lone = filter_sql._excluded_only(q)  # the NOT IN (...) form of a search of exclusions only
    if lone is not None:
        con.execute("SELECT rowid FROM f WHERE f MATCH ?", (lone,)).fetchall()
