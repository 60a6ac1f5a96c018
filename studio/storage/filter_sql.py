"""Which generations a gallery query or action applies to: ``GalleryFilter`` as WHERE terms, FTS5 search
text, tag/collection names, and id lists cut into IN (...) batches.

Search is an FTS5 sub-select ordered by recency (rowid), never by ``rank``: bm25 scores every match, so a
common term at a million rows takes about a second by rank and under a millisecond by rowid
(docs/reliability.md, "Search and paging").
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, TypeGuard, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Integer,
    String,
    and_,
    any_,
    bindparam,
    column,
    false,
    func,
    not_,
    or_,
    table,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.types import NullType
from sqlmodel import col, select

from studio.domain.errors import InputError
from studio.domain.review import OPEN, check_review_filter
from studio.domain.search import SearchQuery, parse_search
from studio.storage.tables import CollectionItem, CollectionShare, Generation, GenerationTag, Tag

fts_table = table("generation_fts", column("rowid"))  # porter stems: "teapots" is "teapot"
FTS_RAW = "generation_fts_raw"  # the same text, unstemmed: prefixes as typed ("runn*") and exact phrases


@dataclass(frozen=True)
class FtsQuery:
    """A search's FTS5 side, over the two indexes of the same rows (migration 7).

    ``stemmed``: the whole words (every word but the last), matched by stem on ``generation_fts``;
    ``last``: the word still being typed, matched by stem on ``generation_fts`` OR as typed plus a prefix on
    ``generation_fts_raw`` ("runn" finds "running", "organs" does not find "organic");
    ``phrases``: matched exactly on ``generation_fts_raw`` (``"painted"`` does not find "painting");
    ``excluded``: left out by stem. Each is an FTS5 query text with every typed word inside quotes.
    """

    stemmed: str | None = None
    last: str | None = None
    phrases: str | None = None
    excluded: str | None = None
    #: the same query as typed pieces, for PostgreSQL's tsquery (built from bind parameters, never text)
    words: tuple[str, ...] = field(default=(), compare=False, repr=False)
    last_word: str | None = field(default=None, compare=False, repr=False)
    phrase_list: tuple[str, ...] = field(default=(), compare=False, repr=False)
    excluded_list: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def stems(self) -> Spec:
        return ("and", tuple(("stem", w) for w in self.words))

    def exclusions(self) -> Spec:
        return ("or", tuple(("stem", x) for x in self.excluded_list))

    def exact(self) -> Spec:
        return ("and", tuple(("phrase", p) for p in self.phrase_list))

    def parts(self) -> list[tuple[str, str]]:
        """(index, FTS5 query) for every MATCH this query runs."""
        out = [("generation_fts", self.stemmed), ("generation_fts", self.last)]
        out += [(FTS_RAW, self.last and self.last + "*"), (FTS_RAW, self.phrases)]
        return [(index, q) for index, q in [*out, ("generation_fts", self.excluded)] if q]


#: A PostgreSQL tsquery as a tree: ("stem", word) | ("prefix", word) | ("phrase", text) |
#: ("and" | "or", (spec, ...)) | ("andnot", spec, spec)
Spec = tuple[Any, ...]


class Match(ColumnElement[bool]):
    """One full-text match on ``index`` (``generation_fts``: stems, ``generation_fts_raw``: as typed).

    SQLite: ``index MATCH :fts5`` on the FTS5 table. PostgreSQL: ``index.vec @@ tsquery`` on the view of the
    same name over ``generation`` (revision 0001), the tsquery built from ``spec`` with every typed word
    a bind parameter (``plainto_tsquery``/``phraseto_tsquery``; a prefix is ``to_tsquery`` of word
    characters only)."""

    type = NullType()  # type: ignore[assignment]  # not Boolean: SQLite would get "MATCH ? = 1"
    inherit_cache = False

    def __init__(self, index: str, fts5: str, spec: Spec) -> None:
        self.index, self.fts5, self.spec = index, fts5, spec


def _bind(compiler: SQLCompiler, value: str, **kw: Any) -> str:
    return str(compiler.process(bindparam(None, value, type_=String()), **kw))


@compiles(Match)
def _match_sqlite(element: Match, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{element.index} MATCH {_bind(compiler, element.fts5, **kw)}"


def _tsquery(spec: Spec, compiler: SQLCompiler, **kw: Any) -> str:
    kind = spec[0]
    if kind == "stem":
        return f"plainto_tsquery('studio_stem', {_bind(compiler, spec[1], **kw)})"
    if kind == "phrase":
        return f"phraseto_tsquery('studio_raw', {_bind(compiler, spec[1], **kw)})"
    if kind == "prefix":
        lexemes = re.findall(r"\w+", spec[1].lower())
        if not lexemes:
            return "''::tsquery"
        typed = " & ".join(lexemes) + ":*"  # word characters only: no tsquery syntax can come from input
        return f"to_tsquery('studio_raw', {_bind(compiler, typed, **kw)})"
    if kind == "andnot":
        return f"({_tsquery(spec[1], compiler, **kw)} && !!{_tsquery(spec[2], compiler, **kw)})"
    parts = [_tsquery(x, compiler, **kw) for x in spec[1]]
    if not parts:
        return "''::tsquery"
    return "(" + (" && " if kind == "and" else " || ").join(parts) + ")"


@compiles(Match, "postgresql")
def _match_pg(element: Match, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({element.index}.vec @@ {_tsquery(element.spec, compiler, **kw)})"


class PgMatch(ColumnElement[bool]):
    """``generation.<column> @@ tsquery`` (PostgreSQL only: ``search_stem`` or ``search_raw``)."""

    type = NullType()  # type: ignore[assignment]
    inherit_cache = False

    def __init__(self, column_: str, spec: Spec) -> None:
        self.column, self.spec = column_, spec


@compiles(PgMatch, "postgresql")
def _pg_match(element: PgMatch, compiler: SQLCompiler, **kw: Any) -> str:
    return f"(generation.{element.column} @@ {_tsquery(element.spec, compiler, **kw)})"


class PerDialect(ColumnElement[bool]):
    """One WHERE term written twice: SQLite's (FTS5 sub-selects walked by rowid) and PostgreSQL's (one
    boolean on the generation row, so the planner can walk the primary key newest first and test each row,
    or use the GIN index for a rare word)."""

    type = NullType()  # type: ignore[assignment]
    inherit_cache = False

    def __init__(self, sqlite_term: Any, pg_term: Any) -> None:
        self.sqlite_term, self.pg_term = sqlite_term, pg_term


@compiles(PerDialect)
def _per_dialect(element: PerDialect, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.sqlite_term, **kw)})"  # a term of its own inside AND/OR


@compiles(PerDialect, "postgresql")
def _per_dialect_pg(element: PerDialect, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.pg_term, **kw)})"


def pg_text_term(query: FtsQuery) -> Any:
    """The whole search's words, last word, phrases and exclusions as one boolean on ``generation``."""
    terms: list[Any] = []
    if query.words:
        terms.append(PgMatch("search_stem", query.stems()))
    if query.last_word is not None:
        terms.append(
            or_(
                PgMatch("search_stem", ("stem", query.last_word)),
                PgMatch("search_raw", ("prefix", query.last_word)),
            )
        )
    if query.phrase_list:
        terms.append(PgMatch("search_raw", query.exact()))
    if query.excluded_list:
        terms.append(not_(PgMatch("search_stem", query.exclusions())))
    return and_(*terms)


def _rows(index: str, fts5: str, spec: Spec) -> Any:
    fts = table(index, column("rowid"))
    return select(fts.c.rowid).where(Match(index, fts5, spec))


def fts_match(query: FtsQuery | str, key: str = "generation.id", spec: Spec | None = None) -> Any:
    """The WHERE term for ``query`` (a plain string: one MATCH on ``generation_fts``, ``spec`` its
    PostgreSQL form). A MATCH on ``generation_fts`` drives the walk when there are whole words; the last
    word, phrases and exclusions narrow it as ``key IN (...)`` (``key``: the joined ``generation_fts.rowid``,
    or ``generation.id``)."""
    if isinstance(query, str):
        return Match("generation_fts", query, spec or ("and", ()))
    key_col = fts_table.c.rowid if key.startswith("generation_fts") else col(Generation.id)
    terms: list[Any] = []
    excluded = query.excluded
    if query.stemmed:
        driver = f"({query.stemmed})" + (f" NOT ({excluded})" if excluded else "")
        spec_ = ("andnot", query.stems(), query.exclusions()) if excluded else query.stems()
        terms.append(Match("generation_fts", driver, spec_))
        excluded = None
    if query.last:
        last = query.last_word or ""
        union = _rows("generation_fts", query.last, ("stem", last)).union(
            _rows(FTS_RAW, query.last + "*", ("prefix", last))
        )
        terms.append(key_col.in_(union))
    if query.phrases:
        terms.append(key_col.in_(_rows(FTS_RAW, query.phrases, query.exact())))
    if excluded:
        terms.append(key_col.not_in(_rows("generation_fts", excluded, query.exclusions())))
    return and_(*terms)


CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit
_T = TypeVar("_T")
TAG_MAX, COLLECTION_MAX = 60, 80


def local_zone() -> tzinfo:
    """The machine's time zone with its daylight-saving rules (``TZ``, else /etc/localtime).

    ``datetime.now().astimezone()`` carries only today's offset: "last week" across the spring change
    would then start an hour off. Without a readable zone, that fixed offset is the fallback."""
    name = os.environ.get("TZ", "").lstrip(":")
    try:
        if name:
            return ZoneInfo(name)
        with open("/etc/localtime", "rb") as fh:
            return ZoneInfo.from_file(fh, key="localtime")
    except (OSError, ValueError, KeyError):  # no zone file, or a POSIX TZ string such as "CET-1CEST"
        return datetime.now().astimezone().tzinfo or UTC


def utc_now() -> datetime:
    return datetime.now(UTC)


def local_now() -> datetime:
    """The clock relative dates in a search ("yesterday") are read against: the studio's local time, in a
    zone that knows its DST changes (each day's midnight gets that day's offset)."""
    return utc_now().astimezone(local_zone())


def parsed(search: str | SearchQuery | None) -> SearchQuery:
    """The search box's text as a ``SearchQuery`` (dates relative to ``local_now()``)."""
    if isinstance(search, SearchQuery):
        return search
    return parse_search(search, local_now())


def _quoted(text_: str) -> str:
    return '"' + text_.replace('"', '""') + '"'


def fts_query(search: str | SearchQuery | None) -> FtsQuery | None:
    """The FTS5 side of what must match (None: no word or phrase). Whole words match by stem, the last
    word also as a prefix of what was typed, phrases exactly, exclusions by stem. Everything typed is inside
    quotes, so no input is an FTS5 syntax error."""
    q = parsed(search)
    if not q.has_text:
        return None
    whole, last = q.words[:-1], q.words[-1:]
    return FtsQuery(
        stemmed=" AND ".join(_quoted(w) for w in whole) or None,
        last=_quoted(last[0]) if last else None,
        phrases=" AND ".join(_quoted(p) for p in q.phrases) or None,
        excluded=" OR ".join(_quoted(x) for x in q.excluded) or None,
        words=tuple(whole),
        last_word=last[0] if last else None,
        phrase_list=tuple(q.phrases),
        excluded_list=tuple(q.excluded),
    )


def walks_fts(query: FtsQuery | None) -> TypeGuard[FtsQuery]:
    """True when a reader can join ``generation_fts`` on ``fts_match(query)`` and walk it newest first:
    only a query with whole words has one MATCH to walk. A search whose only word is the last one (or
    that has only phrases) reads ``newest_matches`` instead."""
    return query is not None and query.stemmed is not None


def newest_matches(f: GalleryFilter, query: FtsQuery, before_id: int | None, limit: int) -> Any:
    """The ids of the newest ``limit`` generations matching ``f`` whose search has no whole word: the
    last word's stem on ``generation_fts`` UNION its typed prefix on ``generation_fts_raw``, each walked
    newest first by its own MATCH and merged (SQLite's MERGE (UNION)), so a common word stops after
    ``limit`` rows instead of collecting and sorting every match (215 ms -> 15 ms at 100 k rows)."""
    q = parsed(f.search)
    rest = conditions(replace(f, search=None), before_id=before_id)
    rest += search_terms(replace(q, words=(), phrases=(), excluded=()))  # its dates, exactly
    arms: list[tuple[str, str, Spec]] = []  # (index, MATCH, its PostgreSQL form)
    if query.last:
        last = query.last_word or ""
        stem = query.last + (f" NOT ({query.excluded})" if query.excluded else "")
        stem_spec: Spec = ("stem", last)
        if query.excluded:
            stem_spec = ("andnot", stem_spec, query.exclusions())
        raw = " AND ".join(x for x in (query.last + "*", query.phrases) if x)
        raw_spec: Spec = ("and", (("prefix", last), *query.exact()[1]))
        arms += [("generation_fts", stem, stem_spec), (FTS_RAW, raw, raw_spec)]
    else:  # phrases only
        arms.append((FTS_RAW, query.phrases or '""', query.exact()))
    selects = []
    for index, match, spec in arms:
        fts = table(index, column("rowid"))
        stmt = (
            select(fts.c.rowid)
            .join(Generation, col(Generation.id) == fts.c.rowid)
            .where(Match(index, match, spec), *rest)
        )
        if index == FTS_RAW and query.excluded:  # exclusions are by stem: the other index
            stmt = stmt.where(
                col(Generation.id).not_in(_rows("generation_fts", query.excluded, query.exclusions()))
            )
        if index == "generation_fts" and query.phrases:  # phrases are exact: the raw index
            stmt = stmt.where(col(Generation.id).in_(_rows(FTS_RAW, query.phrases, query.exact())))
        if before_id is not None:
            stmt = stmt.where(fts.c.rowid < before_id)
        # Each arm stops at its own newest ``limit``: PostgreSQL cannot merge a UNION's arms in order, and
        # without this it collected and sorted every match of a common word (2.5 s at 1 M rows).
        arm = stmt.correlate(None).order_by(fts.c.rowid.desc()).limit(limit).subquery()
        selects.append(select(arm.c.rowid))
    merged = selects[0].union(*selects[1:]) if len(selects) > 1 else selects[0]
    return merged.order_by(text("1 DESC")).limit(limit)


def _excluded_only(q: SearchQuery) -> str | None:
    """The FTS5 query for the exclusions of a search with nothing that must match (FTS5's NOT needs a
    left side, so those become ``id NOT IN (matches)``)."""
    if q.has_text or not q.excluded:
        return None
    return " OR ".join(_quoted(x) for x in q.excluded)


def _utc(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def search_terms(search: str | SearchQuery | None) -> list[Any]:
    """WHERE terms for the parts of a search FTS5 cannot express on its own: its date range, and the
    exclusions of a search that has only exclusions. A search with words is read through a join of
    ``generation_fts`` (``match_ids``, or the caller's own join on ``fts_query``), so its date range also
    bounds ``generation_fts.rowid``."""
    q = parsed(search)
    out: list[Any] = []
    if q.dates is not None:
        start, end = _utc(q.dates.start), _utc(q.dates.end)
        out.append(col(Generation.created_at) >= start)
        out.append(col(Generation.created_at) < end)
        # The same range as ids, read once from ix_generation_created: a page walks ids newest first, and
        # without these bounds it would read every row newer than the range, and every older one when the
        # range holds fewer rows than the page (the whole history for "yesterday" at a million rows).
        ids = select(Generation.id).where(
            col(Generation.created_at) >= start, col(Generation.created_at) < end
        )
        low = select(func.min(ids.subquery().c.id)).scalar_subquery()
        high = select(func.max(ids.subquery().c.id)).scalar_subquery()
        out.append(col(Generation.id).between(low, high))
        if q.has_text:  # the query walks the FTS matches: bound them too, FTS5 seeks by rowid
            out.append(fts_table.c.rowid.between(low, high))
    excluded = _excluded_only(q)
    if excluded:
        spec = ("or", tuple(("stem", x) for x in q.excluded))
        sqlite_term = col(Generation.id).not_in(
            select(fts_table.c.rowid).where(fts_match(excluded, spec=spec))
        )
        out.append(PerDialect(sqlite_term, not_(PgMatch("search_stem", spec))))
    return out


@dataclass(frozen=True)
class Visibility:
    """Which generations a caller may see (``services.access.Access.visibility``).

    ``everything``: admins and the local person (no term at all). Otherwise ``email`` sees every generation
    that is not private plus its own private ones; with ``shared_only`` (reviewers), only the generations
    in collections shared with ``email`` or with the whole team (``*``), never private ones. ``email`` None
    and not ``everything``: nothing. ``hidden``: the opposite of a designer's view, exactly the rows it hides
    (others' private generations, few, read through the partial index ``ix_generation_private``): counts,
    facets and totals are everyone's (the stats cube) minus these."""

    email: str | None
    everything: bool = False
    shared_only: bool = False
    hidden: bool = False

    @property
    def designer(self) -> bool:
        """Everything but others' private generations."""
        return self.email is not None and not (self.everything or self.shared_only or self.hidden)


EVERYTHING = Visibility(None, everything=True)


def visibility_terms(v: Visibility | None) -> list[Any]:
    """WHERE terms on ``generation`` for a caller's visibility (none for ``everything``): one OR on the row
    for a designer, one IN sub-select over the (small) shared collections' items for a reviewer."""
    if v is None or v.everything:
        return []
    g = Generation
    if v.email is None:
        return [false()]
    if v.hidden:  # ``private = true`` as written in the partial index, so both planners use it
        return [col(g.private) == true(), or_(col(g.author) != v.email, col(g.author).is_(None))]
    if v.shared_only:
        shared = (
            select(CollectionItem.generation_id)
            .join(CollectionShare, col(CollectionShare.collection_id) == CollectionItem.collection_id)
            .where(col(CollectionShare.email).in_([v.email, "*"]))
        )
        return [col(g.private).is_(False), col(g.id).in_(shared.correlate(None))]
    return [or_(col(g.private).is_(False), col(g.author) == v.email)]


@dataclass(frozen=True)
class GalleryFilter:
    """What the History page shows. ``None``/empty means "any". Filters combine with AND.

    ``model``/``status``/``aspect_ratio``/``image_size`` take one value or a sequence (any of them).
    Dates are UTC: a ``date`` covers that whole day; a naive ``datetime`` is taken as UTC; ISO text works too.
    ``deleted``: False = live generations (default), True = the trash, None = both.
    """

    search: str | None = None
    model: str | Sequence[str] | None = None
    status: str | Sequence[str] | None = None
    date_from: date | datetime | str | None = None
    date_to: date | datetime | str | None = None
    aspect_ratio: str | Sequence[str] | None = None
    image_size: str | Sequence[str] | None = None
    favourite: bool | None = None
    min_rating: int | None = None
    tag: str | None = None
    collection_id: int | None = None
    deleted: bool | None = False
    run_id: int | None = None
    parent_id: int | None = None
    #: only these generations (the store narrows a search to its newest matches this way)
    ids: tuple[int, ...] | None = None
    #: only the generations this person made (History's "Mine")
    author: str | None = None
    #: what the caller may see (the services set it from ``Access.visibility``; None: everything)
    visibility: Visibility | None = None
    #: the latest review decision: "approved", "changes", "rejected" or "open" (none yet), or several
    review_status: str | Sequence[str] | None = None


def merge_filter(base: GalleryFilter | None, **overrides: Any) -> GalleryFilter:
    """``base`` with every override that is not None (the old keyword arguments of ``list``/``count``)."""
    known = {f.name for f in fields(GalleryFilter)}
    values = {k: v for k, v in overrides.items() if v is not None and k in known}
    return replace(base or GalleryFilter(), **values)


def _any_of(column_: Any, value: str | Sequence[str] | None) -> Any | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return col(column_) == value
    values = [v for v in value if v]
    return col(column_).in_(values) if values else None


def _parse_when(value: date | datetime | str, name: str) -> date | datetime:
    if not isinstance(value, str):
        return value
    try:
        return date.fromisoformat(value) if len(value.strip()) == 10 else datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"The {name} date {value[:40]!r} is not a date like 2026-03-31.") from None


def _bound(value: date | datetime | str, name: str, *, end: bool) -> tuple[str, bool]:
    """(UTC ISO text comparable with ``created_at``, inclusive?)."""
    when = _parse_when(value, name)
    if not isinstance(when, datetime):  # a whole day: [start of day, start of next day)
        start = datetime.combine(when + timedelta(days=1 if end else 0), time.min, UTC)
        return start.isoformat(timespec="microseconds"), not end
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.isoformat(timespec="microseconds"), True


#: Facets and totals of a search count within its newest matches: a common word matches a quarter of
#: the history at 1 M rows, and counting every match per facet would take seconds.
SEARCH_WINDOW = 2000


def match_ids(search: str | None, before_id: int | None = None, window: int | None = None) -> Any | None:
    """Sub-select of generation ids the whole search matches (its words and phrases in the prompt or
    reply, none of its exclusions, inside its dates); None for no search, and for a search with no word or
    phrase (its dates and exclusions are exact WHERE terms: ``search_terms``, never a window). With
    ``window``, only the newest ``window`` matches."""
    q = parsed(search)
    if not q.has_text:
        return None
    query = fts_query(q)
    if query is None:  # unreachable: q.has_text
        return None
    if not query.stemmed and window is not None:  # each arm walked newest first (``newest_matches``)
        newest = newest_matches(
            GalleryFilter(search=search, deleted=None), query, before_id, window
        ).subquery()
        return select(newest.c.rowid)
    if not query.stemmed:  # no MATCH to walk generation_fts by: read generation, narrowed by rowid sets
        stmt = select(Generation.id).where(fts_match(query, "generation.id"))
        key: Any = col(Generation.id)
        if q.dates is not None:
            stmt = stmt.where(*search_terms(replace(q, words=(), phrases=(), excluded=())))
    else:  # walk the MATCH newest first; the rest is checked on the joined generation row
        stmt = (
            select(fts_table.c.rowid)
            .join(Generation, col(Generation.id) == fts_table.c.rowid)
            .where(fts_match(query))
        )
        key = fts_table.c.rowid
        if q.dates is not None:
            stmt = stmt.where(*search_terms(q))
    if before_id is not None:
        stmt = stmt.where(key < before_id)
    if window is not None:
        stmt = stmt.order_by(key.desc()).limit(window)
    return stmt.correlate(None)  # inside ``generation.id IN (...)``: its own generation rows, never the outer


def conditions(
    f: GalleryFilter, *, before_id: int | None = None, search: bool = True, window: int | None = None
) -> list[Any]:
    """The WHERE terms (on ``generation``) for a filter (``search=False``: the caller joins the FTS table on
    ``fts_query``, so only the search's dates and lone exclusions are added here)."""
    g = Generation
    out: list[Any] = []
    if f.deleted is not None:
        out.append(col(g.deleted_at).is_not(None) if f.deleted else col(g.deleted_at).is_(None))
    for column_, value in (
        (g.model, f.model),
        (g.status, f.status),
        (g.aspect_ratio, f.aspect_ratio),
        (g.image_size, f.image_size),
    ):
        term = _any_of(column_, value)
        if term is not None:
            out.append(term)
    if f.date_from:
        bound, inclusive = _bound(f.date_from, "from", end=False)
        out.append(col(g.created_at) >= bound if inclusive else col(g.created_at) > bound)
    if f.date_to:
        bound, inclusive = _bound(f.date_to, "to", end=True)
        out.append(col(g.created_at) <= bound if inclusive else col(g.created_at) < bound)
    if f.favourite is not None:
        out.append(col(g.favourite) == bool(f.favourite))
    if f.min_rating:
        out.append(col(g.rating) >= int(f.min_rating))
    if f.run_id is not None:
        out.append(col(g.run_id) == f.run_id)
    if f.parent_id is not None:
        out.append(col(g.parent_id) == f.parent_id)
    if f.tag:
        tagged = (
            select(GenerationTag.generation_id)
            .join(Tag, col(Tag.id) == GenerationTag.tag_id)
            .where(col(Tag.name) == clean_name(f.tag, TAG_MAX, "tag"))
        )
        out.append(col(g.id).in_(tagged))
    if f.collection_id is not None:
        items = select(CollectionItem.generation_id).where(
            col(CollectionItem.collection_id) == f.collection_id
        )
        out.append(col(g.id).in_(items))
    if f.ids is not None:  # PostgreSQL: one array parameter, not a statement with thousands of them
        as_array = bindparam(None, list(f.ids), type_=ARRAY(Integer))
        out.append(PerDialect(col(g.id).in_(f.ids), col(g.id) == any_(as_array)))
    if f.author is not None:
        out.append(col(g.author) == f.author)
    review = review_terms(f.review_status)
    if review is not None:
        out.append(review)
    out.extend(visibility_terms(f.visibility))
    matches = match_ids(f.search, before_id, window) if search else None
    if matches is not None:
        out.append(PerDialect(col(g.id).in_(matches), pg_search(f.search, before_id, window)))
    else:  # no word to match (or the caller's FTS join matches them): dates and lone exclusions, exactly
        out.extend(search_terms(f.search))
    if before_id is not None:
        out.append(col(g.id) < before_id)
    return out


def review_terms(value: str | Sequence[str] | None) -> Any | None:
    """The decision filter on ``generation.review_status`` (indexed): "open" is no decision (NULL)."""
    wanted = check_review_filter(value)
    if not wanted:
        return None
    decided = [v for v in wanted if v != OPEN]
    terms = []
    if OPEN in wanted:
        terms.append(col(Generation.review_status).is_(None))
    if decided:
        terms.append(col(Generation.review_status).in_(decided))
    return terms[0] if len(terms) == 1 else or_(*terms)


def pg_search(search: str | SearchQuery | None, before_id: int | None, window: int | None) -> Any:
    """PostgreSQL's form of ``generation.id IN (match_ids(...))``: the search's text and dates as plain
    terms on the row; with ``window``, only its newest ``window`` matches."""
    q = parsed(search)
    query = fts_query(q)
    if query is None:
        return and_(*search_terms(q))
    term = and_(pg_text_term(query), *search_terms(replace(q, words=(), phrases=(), excluded=())))
    if window is None:
        return term
    newest = select(Generation.id).where(term)
    if before_id is not None:
        newest = newest.where(col(Generation.id) < before_id)
    return col(Generation.id).in_(newest.order_by(col(Generation.id).desc()).limit(window).correlate(None))


def clean_name(name: str, limit: int, what: str) -> str:
    """A tag or collection name: printable, single-spaced, not empty, at most ``limit`` characters."""
    text_ = " ".join("".join(ch for ch in str(name) if ch.isprintable()).split())
    if not text_:
        raise InputError(f"A {what} name cannot be empty.")
    if len(text_) > limit:
        raise InputError(f"A {what} name can be at most {limit} characters long.")
    return text_


# -- id lists ----------------------------------------------------------------------------------------


def unique_ids(ids: Iterable[int]) -> list[int]:
    """Distinct ids, ascending."""
    out = sorted({int(i) for i in ids})
    return out


def chunks(ids: Sequence[_T]) -> Iterator[Sequence[_T]]:
    """``ids`` in slices of at most ``CHUNK``, one IN (...) list each."""
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]
