"""Reading the gallery: pages, counts, facets, totals and lineage (``GalleryRepository``).

Every query here stays fast at a million rows:
- pages are keyset (``id < before_id``, newest first), never OFFSET;
- search is an FTS5 sub-select ordered by recency (rowid), never by ``rank`` (bm25 scores every match:
  docs/reliability.md);
- facets group by indexed real or generated columns, never by ``json_extract`` per row;
- a page's tags and collections come from correlated sub-selects evaluated only for the rows returned;
- counts and totals with only cube dimensions come from the ``generation_stats`` cube (migration 3).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from sqlalchemy import exists, func, literal
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from studio.domain.records import GenerationRecord
from studio.storage.blob_files import StoredFiles
from studio.storage.blobs import LocalBlobs
from studio.storage.database import Database
from studio.storage.filter_sql import (
    SEARCH_WINDOW,
    GalleryFilter,
    Visibility,
    chunks,
    conditions,
    fts_match,
    fts_query,
    fts_table,
    match_ids,
    merge_filter,
    newest_matches,
    pg_search,
    visibility_terms,
    walks_fts,
)
from studio.storage.tables import (
    Asset,
    CollectionItem,
    Generation,
    GenerationAsset,
    GenerationStats,
    GenerationTag,
    Tag,
    records,
    select_generations,
)
from studio.storage.tables import (
    total as sql_total,
)

MAX_PAGE = 1000
#: facet name -> the indexed column it groups by
FACET_COLUMNS = {
    "model": Generation.model,
    "status": Generation.status,
    "aspect_ratio": Generation.aspect_ratio,
    "image_size": Generation.image_size,
}


def _live(count: Callable[[GalleryFilter], dict[Any, Any]], f: GalleryFilter) -> dict[Any, Any]:
    """Counts/sums for live rows as (all rows) - (trashed rows).

    ``deleted_at IS NULL`` makes SQLite walk ix_generation_deleted_id and read every live row (1.3 s for
    a facet at 1 M rows); without it a facet is a covering-index scan, and the trash is small.
    """
    if f.deleted is not False or fts_query(f.search) or f.ids is not None:  # already a small, bounded set
        return count(f)
    every, trashed = count(replace(f, deleted=None)), count(replace(f, deleted=True))
    out = {
        k: tuple(a - b for a, b in zip(v, trashed[k], strict=True))
        if isinstance(v, tuple)
        else v - trashed.get(k, 0)
        for k, v in every.items()
    }
    return out


def _split(f: GalleryFilter) -> tuple[GalleryFilter, GalleryFilter] | None:
    """A designer's count, facets or totals as (everyone's, the rows their view hides): the first can come
    from the stats cube and the second is small (others' private generations, a partial index), where the
    view's OR on every row would read the whole history. None when the set is already bounded (a search,
    an id list) or the view is not a designer's."""
    v = f.visibility
    if v is None or not v.designer or f.ids is not None or fts_query(f.search) is not None:
        return None
    return replace(f, visibility=None), replace(f, visibility=replace(v, hidden=True))


def _minus(every: dict[Any, int], hidden: dict[Any, int]) -> dict[Any, int]:
    return {k: n - hidden.get(k, 0) for k, n in every.items()}


# -- the stats cube (migration 3) ---------------------------------------------------------------------
_CUBE_DIMS = ("model", "status", "aspect_ratio", "image_size")


def _cube_filter(f: GalleryFilter) -> bool:
    """True when every filter in ``f`` is a cube dimension, so counts can come from generation_stats."""
    if f.visibility is not None and not f.visibility.everything:  # a designer's or reviewer's view
        return False
    return all(
        getattr(f, fl.name) in (None, "")
        for fl in fields(f)
        if fl.name not in (*_CUBE_DIMS, "deleted", "visibility")
    )


def _cube_where(f: GalleryFilter, *, skip: str | None = None) -> list[Any]:
    clauses: list[Any] = []
    if f.deleted is not None:
        clauses.append(col(GenerationStats.live) == (0 if f.deleted else 1))
    for dim in _CUBE_DIMS:
        value = getattr(f, dim)
        if dim == skip or value is None or value == "":
            continue
        values = [value] if isinstance(value, str) else list(value)
        clauses.append(col(getattr(GenerationStats, dim)).in_(values))
    return clauses


def _cube_sum(session: Session, f: GalleryFilter, *columns: Any) -> tuple[Any, ...]:
    return tuple(session.execute(sa_select(*columns).where(*_cube_where(f))).one())


def _cube_facet(session: Session, f: GalleryFilter, dim: str) -> list[tuple[Any, int]]:
    column_ = getattr(GenerationStats, dim)
    n = func.sum(GenerationStats.n)
    stmt = sa_select(column_, n).where(*_cube_where(f, skip=dim)).group_by(column_).having(n > 0)
    rows = session.execute(stmt).all()
    return _ranked({(value or None): int(n) for value, n in rows})


def _ranked(counts: dict[Any, int]) -> list[tuple[Any, int]]:
    """Most first, then by value (None last)."""
    return sorted(
        ((v, n) for v, n in counts.items() if n > 0), key=lambda vn: (-vn[1], vn[0] is None, str(vn[0]))
    )


class GalleryRepository:
    """Reading the gallery: pages, counts, records, facets, totals and lineage."""

    def __init__(self, db: Database, data_dir: Path, stored: StoredFiles | None = None) -> None:
        self.db = db
        self.data_dir = data_dir
        #: Records' files: object mode materialises thumbnails in the local cache and sets ``s3://`` locators.
        self.stored = stored or StoredFiles(LocalBlobs(data_dir), data_dir)

    # -- reading --------------------------------------------------------------------------------

    def page(
        self,
        filter: GalleryFilter | None = None,
        *,
        limit: int = 48,
        before_id: int | None = None,
        search: str | None = None,
        status: str | None = None,
        model: str | None = None,
        include_deleted: bool = False,
    ) -> list[GenerationRecord]:
        """Newest first; page with ``before_id`` = the last id of the previous page (keyset, no OFFSET)."""
        f = merge_filter(filter, search=search, status=status, model=model)
        if include_deleted:
            f = replace(f, deleted=None)
        stmt = select_generations()
        query = fts_query(f.search)
        if query and self.db.dialect == "postgresql":  # one boolean per row: the planner picks the walk
            stmt = stmt.where(*conditions(f, before_id=before_id)).order_by(col(Generation.id).desc())
            with self.db.read() as session:
                rows = session.exec(stmt.limit(max(1, min(limit, MAX_PAGE)))).all()
                return self.stored.finish(records(session, rows, self.stored.root))
        if query and not walks_fts(query):  # one word: its two indexes merged newest first
            newest = newest_matches(f, query, before_id, max(1, min(limit, MAX_PAGE)))
            stmt = stmt.where(col(Generation.id).in_(newest)).order_by(col(Generation.id).desc())
            with self.db.read() as session:
                return self.stored.finish(records(session, session.exec(stmt).all(), self.stored.root))
        if query:  # walk the matches newest first and join: bounded by LIMIT, not by the match count
            stmt = (
                stmt.join(fts_table, fts_table.c.rowid == Generation.id)
                .where(fts_match(query))
                .order_by(fts_table.c.rowid.desc())
            )
        else:
            stmt = stmt.order_by(col(Generation.id).desc())
        stmt = stmt.where(*conditions(f, before_id=before_id, search=False)).limit(
            max(1, min(limit, MAX_PAGE))
        )
        with self.db.read() as session:
            return self.stored.finish(records(session, session.exec(stmt).all(), self.stored.root))

    def ids_beside(
        self, filter: GalleryFilter | None, gen_id: int, *, older: bool, limit: int = 1
    ) -> list[int]:
        """Ids next to ``gen_id`` under a filter: the ``limit`` older ones (newest first) or the ``limit``
        newer ones (oldest first). Keyset on the primary key (or the FTS rowid), so it stays fast at a million
        rows; the detail view's previous/next and the grid's "Newer" page use it."""
        f = filter or GalleryFilter()
        g = Generation
        stmt = select(col(g.id))
        query = fts_query(f.search)
        if self.db.dialect == "postgresql":
            query = None  # the search is a term on the row (``conditions``), no index table to join
        key = fts_table.c.rowid if query else col(g.id)
        if query:
            stmt = stmt.join(fts_table, fts_table.c.rowid == g.id).where(fts_match(query))
        stmt = stmt.where(*conditions(f, search=query is None))
        stmt = (
            stmt.where(key < gen_id).order_by(key.desc()) if older else stmt.where(key > gen_id).order_by(key)
        )
        with self.db.read() as session:
            return [
                int(i) for i in session.exec(stmt.limit(max(1, min(limit, MAX_PAGE)))).all() if i is not None
            ]

    def live_output(self, sha256: str, visibility: Visibility | None = None) -> bool:
        """True when an image with this content hash is an output of a generation not in the trash (the
        ``/thumbs`` route serves only those), and one ``visibility`` lets the caller see."""
        stmt = (
            select(col(GenerationAsset.generation_id))
            .join(Asset, col(Asset.id) == GenerationAsset.asset_id)
            .join(Generation, col(Generation.id) == GenerationAsset.generation_id)
            .where(
                col(Asset.sha256) == sha256,
                col(GenerationAsset.role) == "output",
                col(Generation.deleted_at).is_(None),
                *visibility_terms(visibility),
            )
            .limit(1)
        )
        with self.db.read() as session:
            return session.exec(stmt).first() is not None

    def count(
        self,
        filter: GalleryFilter | None = None,
        *,
        search: str | None = None,
        status: str | None = None,
        model: str | None = None,
        cap: int | None = None,
    ) -> int:
        """How many generations match. With ``cap``, counting stops at ``cap + 1`` (the page says "1 000+"):
        a common word matches a quarter of a million prompts at 1 M rows, and counting them all costs 0.4 s."""
        f = merge_filter(filter, search=search, status=status, model=model)
        parts = _split(f)
        if parts is not None:  # everyone's minus the hidden rows, subtracted before the cap is applied
            hidden = self.count(
                parts[1]
            )  # (a capped everyone's count stops at cap + hidden + 1: cap + 1 shown)
            return self.count(parts[0], cap=None if cap is None else cap + hidden) - hidden
        with self.db.read() as session:
            if _cube_filter(f):
                return int(_cube_sum(session, f, func.coalesce(func.sum(GenerationStats.n), 0))[0])
            query = fts_query(f.search)
            if cap is not None and query and self.db.dialect == "postgresql":
                hits = (
                    select(literal(1)).select_from(Generation).where(*conditions(f)).limit(cap + 1).subquery()
                )
                return int(session.exec(select(func.count()).select_from(hits)).one())
            if cap is not None and query and not walks_fts(query):
                newest = newest_matches(f, query, None, cap + 1).subquery()
                return int(session.exec(select(func.count()).select_from(newest)).one())
            if cap is not None and query:
                hits = (
                    select(literal(1))
                    .select_from(fts_table)
                    .join(Generation, fts_table.c.rowid == Generation.id)
                    .where(
                        fts_match(query),
                        *conditions(f, search=False),
                    )
                    .limit(cap + 1)
                    .subquery()
                )
                return int(session.exec(select(func.count()).select_from(hits)).one())

            def run(g: GalleryFilter) -> dict[Any, int]:
                stmt = select(func.count()).select_from(Generation).where(*conditions(g))
                return {None: int(session.exec(stmt).one())}

            return int(_live(run, f)[None])

    def records(self, ids: Iterable[int], visibility: Visibility | None = None) -> list[GenerationRecord]:
        """Records for ``ids`` in the order given (unknown ids, and with ``visibility`` the ones the caller
        may not see, are left out)."""
        wanted = [int(i) for i in ids]
        found: dict[int, GenerationRecord] = {}
        hidden = visibility_terms(visibility)
        with self.db.read() as session:
            for chunk in chunks(sorted(set(wanted))):
                stmt = select_generations().where(col(Generation.id).in_(chunk), *hidden)
                rows = session.exec(stmt).all()
                found.update((r.id, r) for r in records(session, rows, self.stored.root))
        self.stored.finish_few(list(found.values()))  # a few records (compare, lineage): originals too
        return [found[i] for i in wanted if i in found]

    def visible_ids(self, ids: Iterable[int], visibility: Visibility | None) -> list[int]:
        """Of ``ids`` (in the trash too), the ones ``visibility`` lets the caller see, in the order given;
        every one of them, without a query, for a caller who sees everything."""
        wanted = [int(i) for i in ids]
        if visibility is None or visibility.everything:
            return wanted
        seen: set[int] = set()
        with self.db.read() as session:
            for chunk in chunks(sorted(set(wanted))):
                f = GalleryFilter(ids=tuple(chunk), deleted=None, visibility=visibility)
                seen.update(
                    int(i)
                    for i in session.exec(select(col(Generation.id)).where(*conditions(f)))
                    if i is not None
                )
        return [i for i in wanted if i in seen]

    def facets(self, filter: GalleryFilter | None = None) -> dict[str, list[tuple[Any, int]]]:
        """Counts per model, status, aspect_ratio, image_size, tag (name) and collection (id), most first.

        Each facet honours every other filter but not its own, so the designer sees the alternatives.
        With a search, counts cover its newest ``SEARCH_WINDOW`` matches.
        """
        f = filter or GalleryFilter()
        parts = _split(f)
        if parts is not None:
            every, hidden = self.facets(parts[0]), self.facets(parts[1])
            return {k: _ranked(_minus(dict(v), dict(hidden.get(k, [])))) for k, v in every.items()}
        out: dict[str, list[tuple[Any, int]]] = {}
        with self.db.read() as session:
            window = match_ids(f.search, window=SEARCH_WINDOW)
            if window is not None and self.db.dialect == "postgresql":
                window = select(Generation.id).where(pg_search(f.search, None, SEARCH_WINDOW))
            if window is not None:  # read the search's newest matches once, not once per facet
                f = replace(f, search=None, ids=tuple(session.exec(window).all()))

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
                    out[name] = grouped(
                        lambda by: select(by, func.count()), column_, name, col(column_).concat("")
                    )
            # Tags and collections: walk the (small) link table and check each row's generation by primary
            # key. Joining lets SQLite start from ``generation`` instead, reading 0.9 M rows for a status filter.

            def matching(link_column: Any, own: str) -> Any:
                return exists(
                    select(literal(1)).where(
                        col(Generation.id) == link_column,
                        *conditions(replace(f, **{own: None}), window=SEARCH_WINDOW),
                    )
                )

            tags = (
                select(Tag.name, func.count())
                .select_from(GenerationTag)
                .join(Tag, col(Tag.id) == GenerationTag.tag_id)
                .where(matching(GenerationTag.generation_id, "tag"))
                .group_by(col(Tag.id))
            )
            out["tag"] = _ranked({name: int(n) for name, n in session.exec(tags)})
            boards = (
                select(CollectionItem.collection_id, func.count())
                .where(matching(CollectionItem.generation_id, "collection_id"))
                .group_by(col(CollectionItem.collection_id))
            )
            out["collection"] = _ranked({cid: int(n) for cid, n in session.exec(boards)})
        return out

    def totals(self, filter: GalleryFilter | None = None) -> dict[str, Any]:
        """Generations, output images, cost and tokens for a filter (a search: its newest SEARCH_WINDOW matches)."""
        g = Generation
        parts = _split(filter or GalleryFilter())
        if parts is not None:
            every, hidden = self.totals(parts[0]), self.totals(parts[1])
            out = {k: v - hidden[k] for k, v in every.items()}
            out["cost_usd"] = round(out["cost_usd"], 9)
            return out
        with self.db.read() as session:
            if _cube_filter(filter or GalleryFilter()):
                count, cost, prompt, output, total, images = _cube_sum(
                    session,
                    filter or GalleryFilter(),
                    func.coalesce(func.sum(GenerationStats.n), 0),
                    sql_total(GenerationStats.cost_usd),
                    sql_total(GenerationStats.prompt_tokens),
                    sql_total(GenerationStats.output_tokens),
                    sql_total(GenerationStats.total_tokens),
                    func.coalesce(func.sum(GenerationStats.images), 0),
                )
                return {
                    "count": int(count),
                    "images": int(images),
                    "cost_usd": round(float(cost), 9),
                    "prompt_tokens": int(prompt),
                    "output_tokens": int(output),
                    "total_tokens": int(total),
                }

            def run(f: GalleryFilter) -> dict[Any, tuple[Any, ...]]:
                conds = conditions(f, window=SEARCH_WINDOW)
                # five columns: more than sqlmodel's typed select() overloads take
                sums = sa_select(
                    func.count(),
                    sql_total(g.cost_usd),
                    sql_total(g.prompt_tokens),
                    sql_total(g.output_tokens),
                    sql_total(g.total_tokens),
                ).where(*conds)
                n_images = (
                    select(func.count())
                    .select_from(GenerationAsset)
                    .join(Generation, col(Generation.id) == GenerationAsset.generation_id)
                    .where(col(GenerationAsset.role) == "output", *conds)
                )
                return {None: (*session.execute(sums).one(), session.exec(n_images).one())}

            count, cost, prompt, output, total, images = _live(run, filter or GalleryFilter())[None]
        return {
            "count": int(count),
            "images": int(images),
            "cost_usd": round(float(cost), 9),
            "prompt_tokens": int(prompt),
            "output_tokens": int(output),
            "total_tokens": int(total),
        }

    # -- lineage -------------------------------------------------------------------------------

    def children(
        self, gen_id: int, *, include_deleted: bool = False, visibility: Visibility | None = None
    ) -> list[GenerationRecord]:
        """Generations made from this one (edits, continuations), oldest first."""
        f = GalleryFilter(parent_id=gen_id, deleted=None if include_deleted else False, visibility=visibility)
        stmt = select_generations().where(*conditions(f)).order_by(col(Generation.id)).limit(MAX_PAGE)
        with self.db.read() as session:
            return self.stored.finish(records(session, session.exec(stmt).all(), self.stored.root))

    def ancestors(
        self, gen_id: int, *, limit: int = 100, visibility: Visibility | None = None
    ) -> list[GenerationRecord]:
        """The parent chain, nearest parent first (bounded, so a damaged cycle cannot loop)."""
        g = Generation
        start = (
            sa_select(col(g.parent_id).label("id"), literal(1).label("depth"))
            .where(col(g.id) == gen_id)
            .cte("chain", recursive=True)
        )
        step = (
            sa_select(col(g.parent_id), start.c.depth + 1)
            .join(start, col(g.id) == start.c.id)
            .where(start.c.depth < limit)
        )
        chain = start.union_all(step)
        stmt = sa_select(chain.c.id).where(chain.c.id.is_not(None)).order_by(chain.c.depth)
        with self.db.read() as session:
            ids = [int(i) for i in session.execute(stmt).scalars()]
        seen: list[int] = []
        for i in ids:  # a cycle repeats ids: stop at the first repeat
            if i in seen or i == gen_id:
                break
            seen.append(i)
        return self.records(seen, visibility)
