"""The gallery side of the history: filters, facets, totals, tags, collections, trash, lineage, compare.

``Store`` inherits ``GalleryMixin``. Every query here stays fast at a million rows:
- pages are keyset (``id < before_id``, newest first), never OFFSET;
- search is an FTS5 sub-select ordered by recency (rowid), never by ``rank`` (reference §B3);
- facets group by indexed real or generated columns, never by ``json_extract`` per row;
- a page's tags and collections come from correlated sub-selects evaluated only for the rows returned.
Every organising action takes a list of ids and is one IMMEDIATE transaction.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import column, delete, exists, func, literal, table, text, true, update
from sqlalchemy.dialects.sqlite import insert
from sqlmodel import Session, col, select

from studio import files
from studio.domain import ACTIVE_STATUSES
from studio.errors import InputError
from studio.store.models import (
    Asset,
    Collection,
    CollectionItem,
    Generation,
    GenerationAsset,
    GenerationRecord,
    GenerationTag,
    Tag,
    generation_record,
)

_TOKEN_CHAR = re.compile(r"[^\W_]")  # what FTS5's unicode61 tokenizer keeps
_fts = table("generation_fts", column("rowid"))
_SEP = "\x1f"  # unit separator: cannot occur in a tag name (control characters are removed)
_CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit
MAX_PAGE = 1000
TAG_MAX, COLLECTION_MAX = 60, 80
#: facet name -> the indexed column it groups by
FACET_COLUMNS = {"model": Generation.model, "status": Generation.status,
                 "aspect_ratio": Generation.aspect_ratio, "image_size": Generation.image_size}


def fts_query(search: str | None) -> str | None:
    """User text as a safe FTS5 query: every word a quoted phrase, prefix match on the last one."""
    words = [w for w in (search or "").split() if _TOKEN_CHAR.search(w)]
    if not words:
        return None
    phrases = ['"' + w.replace('"', '""') + '"' for w in words]
    return " ".join(phrases) + "*"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


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
    """Sub-select of generation ids whose prompt or reply matches ``search`` (None: no search);
    with ``window``, only the newest ``window`` matches."""
    query = fts_query(search)
    if not query:
        return None
    stmt = select(_fts.c.rowid).where(text("generation_fts MATCH :fts_query").bindparams(fts_query=query))
    if before_id is not None:
        stmt = stmt.where(_fts.c.rowid < before_id)
    if window is not None:
        stmt = stmt.order_by(_fts.c.rowid.desc()).limit(window)
    return stmt


def conditions(f: GalleryFilter, *, before_id: int | None = None, search: bool = True,
               window: int | None = None) -> list[Any]:
    """The WHERE terms (on ``generation``) for a filter (``search=False``: the caller joins the FTS table)."""
    g = Generation
    out: list[Any] = []
    if f.deleted is not None:
        out.append(col(g.deleted_at).is_not(None) if f.deleted else col(g.deleted_at).is_(None))
    for column_, value in ((g.model, f.model), (g.status, f.status), (g.aspect_ratio, f.aspect_ratio),
                           (g.image_size, f.image_size)):
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
        tagged = (select(GenerationTag.generation_id).join(Tag, col(Tag.id) == GenerationTag.tag_id)
                  .where(col(Tag.name) == clean_name(f.tag, TAG_MAX, "tag")))
        out.append(col(g.id).in_(tagged))
    if f.collection_id is not None:
        items = select(CollectionItem.generation_id).where(col(CollectionItem.collection_id) == f.collection_id)
        out.append(col(g.id).in_(items))
    matches = match_ids(f.search, before_id, window) if search else None
    if matches is not None:
        out.append(col(g.id).in_(matches))
    if before_id is not None:
        out.append(col(g.id) < before_id)
    return out


def clean_name(name: str, limit: int, what: str) -> str:
    """A tag or collection name: printable, single-spaced, not empty, at most ``limit`` characters."""
    text_ = " ".join("".join(ch for ch in str(name) if ch.isprintable()).split())
    if not text_:
        raise InputError(f"A {what} name cannot be empty.")
    if len(text_) > limit:
        raise InputError(f"A {what} name can be at most {limit} characters long.")
    return text_


def _live(count: Callable[[GalleryFilter], dict[Any, Any]], f: GalleryFilter) -> dict[Any, Any]:
    """Counts/sums for live rows as (all rows) - (trashed rows).

    ``deleted_at IS NULL`` makes SQLite walk ix_generation_deleted_id and read every live row (1.3 s for
    a facet at 1 M rows); without it a facet is a covering-index scan, and the trash is small.
    """
    if f.deleted is not False or fts_query(f.search):  # a search is already a small, bounded id set
        return count(f)
    every, trashed = count(replace(f, deleted=None)), count(replace(f, deleted=True))
    out = {k: tuple(a - b for a, b in zip(v, trashed[k], strict=True)) if isinstance(v, tuple)
           else v - trashed.get(k, 0) for k, v in every.items()}
    return out


# -- the stats cube (migration 3) ---------------------------------------------------------------------
_CUBE_DIMS = ("model", "status", "aspect_ratio", "image_size")


def _cube_filter(f: GalleryFilter) -> bool:
    """True when every filter in ``f`` is a cube dimension, so counts can come from generation_stats."""
    return all(getattr(f, fl.name) in (None, "") for fl in fields(f) if fl.name not in (*_CUBE_DIMS, "deleted"))


def _cube_where(f: GalleryFilter, *, skip: str | None = None) -> tuple[str, dict[str, Any]]:
    clauses, params = [], {}
    if f.deleted is not None:
        clauses.append("live = :live")
        params["live"] = 0 if f.deleted else 1
    for dim in _CUBE_DIMS:
        value = getattr(f, dim)
        if dim == skip or value is None or value == "":
            continue
        values = [value] if isinstance(value, str) else list(value)
        names = [f"{dim}_{i}" for i in range(len(values))]
        clauses.append(f"{dim} IN ({', '.join(':' + n for n in names)})")
        params.update(zip(names, values, strict=True))
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _cube_sum(session: Session, f: GalleryFilter, columns: str) -> tuple:
    where, params = _cube_where(f)
    return tuple(session.exec(text(f"SELECT {columns} FROM generation_stats{where}").bindparams(**params)).one())


def _cube_facet(session: Session, f: GalleryFilter, dim: str) -> list[tuple[Any, int]]:
    where, params = _cube_where(f, skip=dim)
    rows = session.exec(text(f"SELECT {dim}, sum(n) FROM generation_stats{where} GROUP BY {dim} "
                             "HAVING sum(n) > 0").bindparams(**params)).all()
    return _ranked({(value or None): int(n) for value, n in rows})


def _ranked(counts: dict[Any, int]) -> list[tuple[Any, int]]:
    """Most first, then by value (None last)."""
    return sorted(((v, n) for v, n in counts.items() if n > 0), key=lambda vn: (-vn[1], vn[0] is None, str(vn[0])))


def _ids(ids: Iterable[int]) -> list[int]:
    out = sorted({int(i) for i in ids})
    return out


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start:start + _CHUNK]


def _tags_of() -> Any:
    return (select(func.group_concat(Tag.name, _SEP)).select_from(GenerationTag)
            .join(Tag, col(Tag.id) == GenerationTag.tag_id)
            .where(col(GenerationTag.generation_id) == Generation.id).scalar_subquery())


def _collections_of() -> Any:
    return (select(func.group_concat(CollectionItem.collection_id, ","))
            .where(col(CollectionItem.generation_id) == Generation.id).scalar_subquery())


def _drop_unused_tags(session: Session) -> None:
    used = select(GenerationTag.tag_id).where(col(GenerationTag.tag_id) == Tag.id)
    session.exec(delete(Tag).where(~used.exists()))


@dataclass(frozen=True)
class TrashReport:
    generations: int = 0      # rows deleted
    files_removed: int = 0    # originals, thumbnails and model turns no longer referenced
    bytes_freed: int = 0
    files_kept: int = 0       # files of trashed rows still used by another generation
    skipped_active: int = 0   # trashed rows still pending/running: left for a later empty


class GalleryMixin:
    """Query and organise methods of ``Store`` (which provides ``_read``, ``_write``, ``_images``)."""

    data_dir: Path

    # -- reading --------------------------------------------------------------------------------

    def _select(self) -> Any:
        """Generation rows with their tag names and collection ids (sub-selects run only for returned rows)."""
        return select(Generation, _tags_of(), _collections_of())

    def _records(self, session: Session, rows: Sequence[Any]) -> list[GenerationRecord]:
        """Records for rows of ``_select()``; a page's images in one more query (no N+1)."""
        by_gen = self._images(session, [r[0].id for r in rows if r[0].id is not None])  # type: ignore[attr-defined]
        out = []
        for row, tags, collections in rows:
            record = generation_record(row, by_gen.get(row.id or 0, []))
            record.tags = sorted(tags.split(_SEP), key=str.casefold) if tags else []
            record.collections = sorted(int(c) for c in collections.split(",")) if collections else []
            out.append(record)
        return out

    def list(self, filter: GalleryFilter | None = None, *, limit: int = 48, before_id: int | None = None,
             search: str | None = None, status: str | None = None, model: str | None = None,
             include_deleted: bool = False) -> list[GenerationRecord]:
        """Newest first; page with ``before_id`` = the last id of the previous page (keyset, no OFFSET)."""
        f = merge_filter(filter, search=search, status=status, model=model)
        if include_deleted:
            f = replace(f, deleted=None)
        stmt = self._select()
        query = fts_query(f.search)
        if query:  # walk the matches newest first and join: bounded by LIMIT, not by the match count
            stmt = (stmt.join(_fts, _fts.c.rowid == Generation.id)
                    .where(text("generation_fts MATCH :fts_query").bindparams(fts_query=query))
                    .order_by(_fts.c.rowid.desc()))
        else:
            stmt = stmt.order_by(col(Generation.id).desc())
        stmt = stmt.where(*conditions(f, before_id=before_id, search=False)).limit(max(1, min(limit, MAX_PAGE)))
        with self._read() as session:  # type: ignore[attr-defined]
            return self._records(session, session.exec(stmt).all())

    def count(self, filter: GalleryFilter | None = None, *, search: str | None = None, status: str | None = None,
              model: str | None = None, cap: int | None = None) -> int:
        """How many generations match. With ``cap``, counting stops at ``cap + 1`` (the page says "1 000+"):
        a common word matches a quarter of a million prompts at 1 M rows, and counting them all costs 0.4 s."""
        f = merge_filter(filter, search=search, status=status, model=model)
        with self._read() as session:  # type: ignore[attr-defined]
            if _cube_filter(f):
                return int(_cube_sum(session, f, "coalesce(sum(n), 0)")[0])
            query = fts_query(f.search)
            if cap is not None and query:
                hits = (select(literal(1)).select_from(_fts).join(Generation, _fts.c.rowid == Generation.id)
                        .where(text("generation_fts MATCH :fts_query").bindparams(fts_query=query),
                               *conditions(f, search=False)).limit(cap + 1).subquery())
                return int(session.exec(select(func.count()).select_from(hits)).one())

            def run(g: GalleryFilter) -> dict[Any, int]:
                stmt = select(func.count()).select_from(Generation).where(*conditions(g))
                return {None: int(session.exec(stmt).one())}
            return _live(run, f)[None]

    def records(self, ids: Iterable[int]) -> list[GenerationRecord]:
        """Records for ``ids`` in the order given (unknown ids are left out)."""
        wanted = [int(i) for i in ids]
        found: dict[int, GenerationRecord] = {}
        with self._read() as session:  # type: ignore[attr-defined]
            for chunk in _chunks(sorted(set(wanted))):
                rows = session.exec(self._select().where(col(Generation.id).in_(chunk))).all()
                found.update((r.id, r) for r in self._records(session, rows))
        return [found[i] for i in wanted if i in found]

    def facets(self, filter: GalleryFilter | None = None) -> dict[str, list[tuple[Any, int]]]:
        """Counts per model, status, aspect_ratio, image_size, tag (name) and collection (id), most first.

        Each facet honours every other filter but not its own, so the designer sees the alternatives.
        With a search, counts cover its newest ``SEARCH_WINDOW`` matches.
        """
        f = filter or GalleryFilter()
        out: dict[str, list[tuple[Any, int]]] = {}
        with self._read() as session:  # type: ignore[attr-defined]
            def grouped(base: Any, key: Any, own: str, trash_key: Any = None) -> list[tuple[Any, int]]:
                def run(g: GalleryFilter) -> dict[Any, int]:
                    # Trash side: group by an expression so SQLite walks the small deleted_at range
                    # instead of the whole facet index.
                    by = trash_key if g.deleted and trash_key is not None else key
                    stmt = base(by).where(*conditions(g, window=SEARCH_WINDOW)).group_by(by)
                    return {value: int(n) for value, n in session.exec(stmt)}
                return _ranked(_live(run, replace(f, **{own: None})))

            for name, column_ in FACET_COLUMNS.items():
                if _cube_filter(f):
                    out[name] = _cube_facet(session, f, name)
                else:
                    out[name] = grouped(lambda by: select(by, func.count()), column_, name, col(column_).concat(""))
            # Tags and collections: walk the (small) link table and check each row's generation by primary
            # key. Joining lets SQLite start from ``generation`` instead, reading 0.9 M rows for a status filter.
            def matching(link_column: Any, own: str) -> Any:
                return exists(select(literal(1)).where(col(Generation.id) == link_column,
                                                       *conditions(replace(f, **{own: None}),
                                                                   window=SEARCH_WINDOW)))

            tags = (select(Tag.name, func.count()).select_from(GenerationTag)
                    .join(Tag, col(Tag.id) == GenerationTag.tag_id)
                    .where(matching(GenerationTag.generation_id, "tag")).group_by(Tag.id))
            out["tag"] = _ranked({name: int(n) for name, n in session.exec(tags)})
            boards = (select(CollectionItem.collection_id, func.count())
                      .where(matching(CollectionItem.generation_id, "collection_id"))
                      .group_by(CollectionItem.collection_id))
            out["collection"] = _ranked({cid: int(n) for cid, n in session.exec(boards)})
        return out

    def totals(self, filter: GalleryFilter | None = None) -> dict[str, Any]:
        """Generations, output images, cost and tokens for a filter (a search: its newest SEARCH_WINDOW matches)."""
        g = Generation
        with self._read() as session:  # type: ignore[attr-defined]
            if _cube_filter(filter or GalleryFilter()):
                count, cost, prompt, output, total, images = _cube_sum(
                    session, filter or GalleryFilter(), "coalesce(sum(n), 0), total(cost_usd), total(prompt_tokens), "
                    "total(output_tokens), total(total_tokens), coalesce(sum(images), 0)")
                return {"count": int(count), "images": int(images), "cost_usd": round(float(cost), 9),
                        "prompt_tokens": int(prompt), "output_tokens": int(output), "total_tokens": int(total)}

            def run(f: GalleryFilter) -> dict[Any, tuple]:
                conds = conditions(f, window=SEARCH_WINDOW)
                sums = select(func.count(), func.total(g.cost_usd), func.total(g.prompt_tokens),
                              func.total(g.output_tokens), func.total(g.total_tokens)).where(*conds)
                n_images = (select(func.count()).select_from(GenerationAsset)
                            .join(Generation, col(Generation.id) == GenerationAsset.generation_id)
                            .where(col(GenerationAsset.role) == "output", *conds))
                return {None: (*session.exec(sums).one(), session.exec(n_images).one())}
            count, cost, prompt, output, total, images = _live(run, filter or GalleryFilter())[None]
        return {"count": int(count), "images": int(images), "cost_usd": round(float(cost), 9), "prompt_tokens": int(prompt),
                "output_tokens": int(output), "total_tokens": int(total)}

    # -- lineage -------------------------------------------------------------------------------

    def children(self, gen_id: int, *, include_deleted: bool = False) -> list[GenerationRecord]:
        """Generations made from this one (edits, continuations), oldest first."""
        f = GalleryFilter(parent_id=gen_id, deleted=None if include_deleted else False)
        stmt = self._select().where(*conditions(f)).order_by(col(Generation.id)).limit(MAX_PAGE)
        with self._read() as session:  # type: ignore[attr-defined]
            return self._records(session, session.exec(stmt).all())

    def ancestors(self, gen_id: int, *, limit: int = 100) -> list[GenerationRecord]:
        """The parent chain, nearest parent first (bounded, so a damaged cycle cannot loop)."""
        chain = text("""
            WITH RECURSIVE chain(id, depth) AS (
                SELECT parent_id, 1 FROM generation WHERE id = :gen_id
                UNION ALL
                SELECT g.parent_id, c.depth + 1 FROM generation g JOIN chain c ON g.id = c.id
                WHERE c.depth < :limit
            ) SELECT id FROM chain WHERE id IS NOT NULL ORDER BY depth""")
        with self._read() as session:  # type: ignore[attr-defined]
            ids = [row[0] for row in session.exec(chain.bindparams(gen_id=gen_id, limit=limit))]  # type: ignore[call-overload]
        seen: list[int] = []
        for i in ids:  # a cycle repeats ids: stop at the first repeat
            if i in seen or i == gen_id:
                break
            seen.append(i)
        return self.records(seen)

    # -- favourites, ratings, tags -------------------------------------------------------------

    def _set(self, ids: Iterable[int], **values: Any) -> int:
        wanted = _ids(ids)
        changed = 0
        with self._write() as session:  # type: ignore[attr-defined]
            for chunk in _chunks(wanted):
                stmt = update(Generation).where(col(Generation.id).in_(chunk)).values(updated_at=_now(), **values)
                changed += session.exec(stmt).rowcount  # type: ignore[call-overload]
        return changed

    def set_favourite(self, ids: Iterable[int], favourite: bool) -> int:
        """Returns how many generations were updated."""
        return self._set(ids, favourite=bool(favourite))

    def set_rating(self, ids: Iterable[int], rating: int | None) -> int:
        if rating is not None and (isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5):
            raise InputError("A rating is a whole number of stars from 1 to 5 (or none).")
        return self._set(ids, rating=rating)

    def add_tags(self, ids: Iterable[int], names: Iterable[str]) -> int:
        """Tag every generation with every name (created on first use). Returns links added."""
        tags = list(dict.fromkeys(clean_name(n, TAG_MAX, "tag") for n in names))
        wanted = _ids(ids)
        if not tags or not wanted:
            return 0
        added = 0
        with self._write() as session:  # type: ignore[attr-defined]
            session.exec(insert(Tag).values([{"name": t} for t in tags]).on_conflict_do_nothing())
            tag_ids = select(Tag.id).where(col(Tag.name).in_(tags))
            for chunk in _chunks(wanted):
                pairs = (select(Generation.id, Tag.id).select_from(Generation).join(Tag, true())  # every pair
                         .where(col(Generation.id).in_(chunk), col(Tag.id).in_(tag_ids)))
                stmt = insert(GenerationTag).from_select(["generation_id", "tag_id"], pairs).prefix_with("OR IGNORE")
                added += session.exec(stmt).rowcount  # type: ignore[call-overload]
        return added

    def remove_tag(self, ids: Iterable[int], name: str) -> int:
        """Untag; a tag no generation uses any more disappears. Returns links removed."""
        tag = clean_name(name, TAG_MAX, "tag")
        removed = 0
        with self._write() as session:  # type: ignore[attr-defined]
            tag_id = session.exec(select(Tag.id).where(col(Tag.name) == tag)).first()
            if tag_id is None:
                return 0
            for chunk in _chunks(_ids(ids)):
                stmt = delete(GenerationTag).where(col(GenerationTag.tag_id) == tag_id,
                                                   col(GenerationTag.generation_id).in_(chunk))
                removed += session.exec(stmt).rowcount  # type: ignore[call-overload]
            _drop_unused_tags(session)
        return removed

    def tags(self) -> list[tuple[str, int]]:
        """Every tag with the number of live generations carrying it, most used first."""
        live = (select(GenerationTag.tag_id, func.count().label("n")).join(
            Generation, col(Generation.id) == GenerationTag.generation_id)
            .where(col(Generation.deleted_at).is_(None)).group_by(GenerationTag.tag_id).subquery())
        n = func.coalesce(live.c.n, 0)
        stmt = select(Tag.name, n).outerjoin(live, live.c.tag_id == Tag.id).order_by(n.desc(), Tag.name)
        with self._read() as session:  # type: ignore[attr-defined]
            return [(name, int(count)) for name, count in session.exec(stmt)]

    # -- collections ---------------------------------------------------------------------------

    def _collection_exists(self, session: Session, cid: int) -> None:
        if session.get(Collection, cid) is None:
            raise InputError(f"Collection {cid} does not exist (it may have been deleted).")

    def _name_free(self, session: Session, name: str, cid: int | None = None) -> None:
        other = session.exec(select(Collection.id).where(col(Collection.name) == name)).first()
        if other is not None and other != cid:
            raise InputError(f"A collection called “{name}” already exists; choose another name.")

    def create_collection(self, name: str) -> int:
        clean = clean_name(name, COLLECTION_MAX, "collection")
        with self._write() as session:  # type: ignore[attr-defined]
            self._name_free(session, clean)
            row = Collection(name=clean, created_at=_now())
            session.add(row)
            session.flush()
            assert row.id is not None
            return row.id

    def rename_collection(self, cid: int, name: str) -> None:
        clean = clean_name(name, COLLECTION_MAX, "collection")
        with self._write() as session:  # type: ignore[attr-defined]
            self._collection_exists(session, cid)
            self._name_free(session, clean, cid)
            session.exec(update(Collection).where(col(Collection.id) == cid).values(name=clean))

    def delete_collection(self, cid: int) -> None:
        """Removes the board and its items; the generations themselves stay."""
        with self._write() as session:  # type: ignore[attr-defined]
            session.exec(delete(CollectionItem).where(col(CollectionItem.collection_id) == cid))
            session.exec(delete(Collection).where(col(Collection.id) == cid))

    def add_to_collection(self, ids: Iterable[int], cid: int) -> int:
        added = 0
        with self._write() as session:  # type: ignore[attr-defined]
            self._collection_exists(session, cid)
            now = _now()
            for chunk in _chunks(_ids(ids)):
                rows = select(literal(cid), Generation.id, literal(now)).where(col(Generation.id).in_(chunk))
                stmt = (insert(CollectionItem).from_select(["collection_id", "generation_id", "added_at"], rows)
                        .prefix_with("OR IGNORE"))
                added += session.exec(stmt).rowcount  # type: ignore[call-overload]
        return added

    def remove_from_collection(self, ids: Iterable[int], cid: int) -> int:
        removed = 0
        with self._write() as session:  # type: ignore[attr-defined]
            for chunk in _chunks(_ids(ids)):
                stmt = delete(CollectionItem).where(col(CollectionItem.collection_id) == cid,
                                                    col(CollectionItem.generation_id).in_(chunk))
                removed += session.exec(stmt).rowcount  # type: ignore[call-overload]
        return removed

    def collections(self) -> list[tuple[int, str, int]]:
        """(id, name, live item count) for every collection, by name."""
        live = (select(CollectionItem.collection_id, func.count().label("n"))
                .join(Generation, col(Generation.id) == CollectionItem.generation_id)
                .where(col(Generation.deleted_at).is_(None)).group_by(CollectionItem.collection_id).subquery())
        stmt = (select(Collection.id, Collection.name, func.coalesce(live.c.n, 0))
                .outerjoin(live, live.c.collection_id == Collection.id).order_by(func.lower(Collection.name)))
        with self._read() as session:  # type: ignore[attr-defined]
            return [(int(i), name, int(n)) for i, name, n in session.exec(stmt)]

    # -- trash ---------------------------------------------------------------------------------

    def trash(self, ids: Iterable[int]) -> int:
        """Move to the trash (nothing leaves the disk until ``empty_trash``)."""
        wanted = _ids(ids)
        moved, now = 0, _now()
        with self._write() as session:  # type: ignore[attr-defined]
            for chunk in _chunks(wanted):
                stmt = (update(Generation).where(col(Generation.id).in_(chunk), col(Generation.deleted_at).is_(None))
                        .values(deleted_at=now, updated_at=now))
                moved += session.exec(stmt).rowcount  # type: ignore[call-overload]
        return moved

    def restore(self, ids: Iterable[int]) -> int:
        wanted = _ids(ids)
        restored = 0
        with self._write() as session:  # type: ignore[attr-defined]
            for chunk in _chunks(wanted):
                stmt = (update(Generation)
                        .where(col(Generation.id).in_(chunk), col(Generation.deleted_at).is_not(None))
                        .values(deleted_at=None, updated_at=_now()))
                restored += session.exec(stmt).rowcount  # type: ignore[call-overload]
        return restored

    def empty_trash(self) -> TrashReport:
        """Delete trashed rows, then the files no remaining row references (shared images survive).

        Rows go first, in one transaction: a crash afterwards leaves unreferenced files (harmless),
        never a row pointing at a removed file. Each file is re-checked just before it is removed.
        """
        with self._write() as session:  # type: ignore[attr-defined]
            trashed = col(Generation.deleted_at).is_not(None)
            active = col(Generation.status).in_(ACTIVE_STATUSES)
            skipped = session.exec(select(func.count()).select_from(Generation).where(trashed, active)).one()
            doomed = list(session.exec(select(Generation.id).where(trashed, ~active)).all())
            assets, turns = self._doomed_files(session, doomed)
            for chunk in _chunks(doomed):
                session.exec(delete(Generation).where(col(Generation.id).in_(chunk)))
            orphans = self._unreferenced_assets(session, assets)
            for chunk in _chunks([a.id for a in orphans if a.id is not None]):
                session.exec(delete(Asset).where(col(Asset.id).in_(chunk)))
            _drop_unused_tags(session)
            used_turns: set[str] = set()
            for chunk in _chunks(turns):
                used_turns.update(session.exec(select(Generation.model_content_sha)
                                               .where(col(Generation.model_content_sha).in_(chunk))).all())
        paths = [p for a in orphans for p in (a.path, a.thumb_path) if p]
        paths += [files.turn_relpath(t) for t in turns if t not in used_turns]
        removed, freed = self._remove_files(paths)
        kept = len(assets) - len(orphans) + len(used_turns)
        return TrashReport(len(doomed), removed, freed, kept, int(skipped))

    def _doomed_files(self, session: Session, gen_ids: Sequence[int]) -> tuple[list[int], list[str]]:
        assets: set[int] = set()
        turns: set[str] = set()
        for chunk in _chunks(gen_ids):
            assets.update(session.exec(select(GenerationAsset.asset_id)
                                       .where(col(GenerationAsset.generation_id).in_(chunk))).all())
            turns.update(t for t in session.exec(select(Generation.model_content_sha)
                                                 .where(col(Generation.id).in_(chunk))).all() if t)
        return sorted(assets), sorted(turns)

    def _unreferenced_assets(self, session: Session, asset_ids: Sequence[int]) -> list[Asset]:
        out: list[Asset] = []
        for chunk in _chunks(asset_ids):
            used = select(GenerationAsset.asset_id).where(col(GenerationAsset.asset_id) == Asset.id)
            out += session.exec(select(Asset).where(col(Asset.id).in_(chunk), ~used.exists())).all()
        return out

    def _still_referenced(self, rel: str) -> bool:
        """A file another generation started using since the rows were deleted (same bytes saved again)."""
        with self._read() as session:  # type: ignore[attr-defined]
            hit = session.exec(select(Asset.id).where((col(Asset.path) == rel) | (col(Asset.thumb_path) == rel))
                               .limit(1)).first()
            if hit is None and rel.startswith("turns/"):
                sha = Path(rel).stem
                hit = session.exec(select(Generation.id).where(col(Generation.model_content_sha) == sha)
                                   .limit(1)).first()
        return hit is not None

    def _remove_files(self, rels: Sequence[str]) -> tuple[int, int]:
        removed = freed = 0
        for rel in rels:
            if self._still_referenced(rel):
                continue
            path = files.contained(self.data_dir, rel)
            with contextlib.suppress(FileNotFoundError):
                size = path.stat().st_size
                os.unlink(path)
                removed, freed = removed + 1, freed + size
        return removed, freed


def settings_diff(records: Sequence[GenerationRecord]) -> list[tuple[str, list[Any]]]:
    """For 2-4 records: (setting, value per record) for the prompt, model and every setting that differs."""
    if not 2 <= len(records) <= 4:
        raise InputError("Choose between 2 and 4 generations to compare.")
    rows: list[tuple[str, list[Any]]] = [("prompt", [r.prompt for r in records]),
                                         ("model", [r.model for r in records])]
    keys = sorted(set().union(*(r.settings.keys() for r in records)))
    rows += [(key, [r.settings.get(key) for r in records]) for key in keys]
    rows.append(("references", [[i.sha256[:12] for i in r.references] for r in records]))
    return [(key, values) for key, values in rows if any(v != values[0] for v in values[1:])]
