"""Reading the history: pages, facets, totals, lineage, comparisons, previews and ZIP exports.

The app reads generations only through this service (never the Store), so that per-person permissions are
applied in one place: every method asks the session's ``Access`` first, and every query carries the caller's
``Visibility`` (a designer never sees another's private generation; a reviewer sees only the collections
shared with them). The records it returns are re-exported here for the pages and widgets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from studio import storage
from studio.domain.catalogue import MAX_VARIANTS
from studio.domain.errors import StoreError
from studio.domain.mime import EXTENSIONS
from studio.services.access import Access
from studio.storage import GalleryFilter, GenerationRecord, ImageRecord, Store, TrashReport, Visibility

__all__ = [
    "EXTENSIONS",
    "GalleryFilter",
    "GalleryPage",
    "GalleryService",
    "GenerationRecord",
    "ImageRecord",
    "TrashReport",
]


_SHA = re.compile(r"[0-9a-f]{64}")


def same_submission(newer: GenerationRecord, older: GenerationRecord) -> bool:
    """True when ``older`` is an earlier variant of the submission ``newer`` belongs to.

    ``Studio.submit`` writes one row per variant in one loop, so the variants of one submission have
    consecutive ids with ``variant_index`` 0, 1, 2…, the same prompt, model, run and parent: the id distance
    equals the variant distance (rows hidden by a filter leave a gap in both)."""
    return (
        older.variant_index < newer.variant_index
        and newer.id - older.id == newer.variant_index - older.variant_index
        and (older.prompt, older.model, older.run_id, older.parent_id)
        == (newer.prompt, newer.model, newer.run_id, newer.parent_id)
    )


def group_variants(records: Sequence[GenerationRecord]) -> list[list[GenerationRecord]]:
    """Records (newest first) stacked by submission: each group holds one submission's variants, lowest
    variant first (the tile shows the first); order of groups stays newest first."""
    groups: list[list[GenerationRecord]] = []
    for record in records:
        if groups and same_submission(groups[-1][-1], record):
            groups[-1].append(record)
        else:
            groups.append([record])
    return [list(reversed(g)) for g in groups]


def _drop_split(
    rows: list[GenerationRecord], extra: GenerationRecord, *, bottom: bool
) -> list[GenerationRecord]:
    """``rows`` (newest first) without the submission at their far end (the bottom when paging down, the top
    when paging up) when ``extra``, the next row beyond that end, belongs to it too: that submission starts
    the next page instead. Kept when nothing else is on the page (a submission bigger than a page)."""
    groups = group_variants([r for r in rows if r.images])
    if not groups or not extra.images:
        return rows
    edge = groups[-1] if bottom else groups[0]
    if not (same_submission(edge[0], extra) if bottom else same_submission(extra, edge[-1])):
        return rows
    if bottom:
        cut = max(r.id for r in edge)
        kept = [r for r in rows if r.id > cut]
    else:
        cut = min(r.id for r in edge)
        kept = [r for r in rows if r.id < cut]
    return kept or rows


def _page(rows: Sequence[GenerationRecord]) -> GalleryPage:
    return GalleryPage(
        groups=group_variants([r for r in rows if r.images]), missing=[r for r in rows if not r.images]
    )


@dataclass
class GalleryPage:
    """One page of the History grid: submissions with an image (variants stacked), generations without one
    (failed, blocked, cancelled…: drawn as compact chips), and the keyset cursors either side."""

    groups: list[list[GenerationRecord]] = field(default_factory=list)
    missing: list[GenerationRecord] = field(default_factory=list)
    older: int | None = None  # ``before_id`` of the next (older) page; None on the last page
    newer: int | None = (
        None  # ``after_id`` of the previous (newer) page; None: "Newer" goes to the first page
    )
    has_newer: bool = False

    @property
    def ids(self) -> list[int]:
        """Every generation on the page, newest first (the order ← → walks)."""
        every = [r for g in self.groups for r in g] + self.missing
        return sorted((r.id for r in every), reverse=True)


class GalleryService:
    #: A search's facets and totals cover its newest SEARCH_WINDOW matches (the History line says so).
    SEARCH_WINDOW: int = storage.SEARCH_WINDOW

    def __init__(self, store: Store, access: Access) -> None:
        self._store = store
        self._access = access  # required: a service built without one must not act as the local admin

    def _vis(self) -> Visibility:
        """The caller's visibility (NotSignedIn / NotAllowed for a caller who may see nothing)."""
        return self._access.visibility()

    def _f(self, f: GalleryFilter | None) -> GalleryFilter:
        """``f`` narrowed to what the caller may see (checked first)."""
        return replace(f or GalleryFilter(), visibility=self._vis())

    def page(
        self, f: GalleryFilter | None = None, *, limit: int = 48, before_id: int | None = None
    ) -> list[GenerationRecord]:
        """Newest first; the next page starts below ``before_id`` (the last id of this one)."""
        return self._store.gallery.page(self._f(f), limit=limit, before_id=before_id)

    def count(self, f: GalleryFilter | None = None, *, cap: int | None = None) -> int:
        """How many generations match (with ``cap``, at most ``cap + 1``)."""
        return self._store.gallery.count(self._f(f), cap=cap)

    def grouped_page(
        self,
        f: GalleryFilter | None = None,
        *,
        limit: int = 48,
        before_id: int | None = None,
        after_id: int | None = None,
    ) -> GalleryPage:
        """A page of about ``limit`` generations, newest first, with a submission's variants stacked.

        ``before_id`` pages down (the "Older" page: the generations just below it); ``after_id`` pages up
        (the "Newer" page: the generations just above it). A submission is never split across two pages:
        when the page ends inside one (its far end: the bottom going down, the top going up), that
        submission starts the next page, unless it is all the page holds. Older-then-Newer (or the other way)
        returns the page one came from: a Newer page ends just above the page it was reached from."""
        f = self._f(f)
        if after_id is not None:
            return self._page_up(f, limit, after_id)
        rows = self.page(f, limit=limit + 1, before_id=before_id)
        more = len(rows) > limit
        rows, extra = rows[:limit], rows[limit] if more else None
        if extra is not None:
            rows = _drop_split(rows, extra, bottom=True)
        page = _page(rows)
        if more and rows:
            page.older = rows[-1].id
        if rows:
            page.has_newer = bool(self.ids_beside(f, rows[0].id, older=False))
            page.newer = rows[0].id if page.has_newer else None
        elif before_id is not None:
            page.has_newer = True  # a cursor past the end: "Newer" goes back to the first page
        return page

    def _page_up(self, f: GalleryFilter | None, limit: int, after_id: int) -> GalleryPage:
        ids = self.ids_beside(f, after_id, older=False, limit=limit + 1)  # oldest first
        more = len(ids) > limit
        found = {r.id: r for r in self.records(ids)}
        rows = [found[i] for i in reversed(ids[:limit]) if i in found]  # newest first
        if more and ids[limit] in found:
            rows = _drop_split(rows, found[ids[limit]], bottom=False)
        page = _page(rows)
        if rows:
            page.has_newer = more
            page.newer = rows[0].id if more else None
            page.older = rows[-1].id if self.ids_beside(f, rows[-1].id, older=True) else None
        else:
            page.older = after_id + 1 if self.ids_beside(f, after_id + 1, older=True) else None
        return page

    def ids_beside(self, f: GalleryFilter | None, gen_id: int, *, older: bool, limit: int = 1) -> list[int]:
        """The ``limit`` ids just older (newest first) or just newer (oldest first) than ``gen_id`` under
        ``f``: the detail view's ← → and the grid's "Newer" page."""
        return self._store.gallery.ids_beside(self._f(f), gen_id, older=older, limit=limit)

    def neighbours(self, f: GalleryFilter | None, gen_id: int) -> tuple[int | None, int | None]:
        """(newer, older) generation beside ``gen_id`` in the filter's results (None at either end)."""
        newer = self.ids_beside(f, gen_id, older=False)
        older = self.ids_beside(f, gen_id, older=True)
        return (newer[0] if newer else None, older[0] if older else None)

    def submission(self, record: GenerationRecord) -> list[GenerationRecord]:
        """Every variant of the submission ``record`` belongs to (itself included), oldest first; trashed
        variants are left out unless ``record`` is in the trash too."""
        self._vis()
        base = record.id - record.variant_index
        out = []
        for other in self.records(range(base, base + MAX_VARIANTS)):
            if other.id == record.id or (
                other.id - base == other.variant_index
                and (other.prompt, other.model, other.run_id, other.parent_id)
                == (record.prompt, record.model, record.run_id, record.parent_id)
                and (other.deleted_at is None) == (record.deleted_at is None)
            ):
                out.append(other)
        return out

    def thumbnail_file(self, sha256: str) -> Path | None:
        """The stored JPEG thumbnail of an output image of a generation in the history (not in the trash), by
        its sha256 (lowercase hex only: anything else, a trashed generation's image or a thumbnail the studio
        does not hold, and one of a generation the caller may not see, is None)."""
        return live_thumbnail(self._store, sha256, self._vis())

    def get(self, gen_id: int) -> GenerationRecord | None:
        """The generation, or None when it is not in the history or the caller may not see it."""
        vis = self._vis()
        if not vis.everything and not self._store.gallery.visible_ids([gen_id], vis):
            return None
        return self._store.generations.get(gen_id)

    def visible_ids(self, ids: Iterable[int]) -> list[int]:
        """Of ``ids``, the ones the caller may see (in the order given)."""
        return self._store.gallery.visible_ids(ids, self._vis())

    def records(self, ids: Iterable[int]) -> list[GenerationRecord]:
        return self._store.gallery.records(ids, self._vis())

    def facets(self, f: GalleryFilter | None = None) -> dict[str, list[tuple[Any, int]]]:
        return self._store.gallery.facets(self._f(f))

    def totals(self, f: GalleryFilter | None = None) -> dict[str, Any]:
        return self._store.gallery.totals(self._f(f))

    def children(self, gen_id: int) -> list[GenerationRecord]:
        return self._store.gallery.children(gen_id, visibility=self._vis())

    @staticmethod
    def differences(records: Sequence[GenerationRecord]) -> list[tuple[str, list[Any]]]:
        """For 2-4 records (InputError otherwise): (setting, value per record) for the prompt, the model
        and every setting that differs."""
        return storage.settings_diff(records)

    def preview(self, image: ImageRecord) -> Path:
        """The file to show on screen for an image (a ≤ 2048 px copy of a larger original)."""
        self._vis()
        return self._store.generations.preview(image)

    def export_zip(self, ids: Sequence[int] | None, f: GalleryFilter | None) -> bytes:
        """A ZIP of the chosen generations (``ids``, else every one ``f`` matches), for a download."""
        from studio.services import exchange

        vis = self._vis()
        return exchange.export_bytes(self._store, ids, replace(f or GalleryFilter(), visibility=vis), vis)[0]


def live_thumbnail(store: Store, sha256: str, visibility: Visibility | None) -> Path | None:
    """The stored thumbnail of an output image of a live generation ``visibility`` shows (None: any), by its
    lowercase sha256; None for anything else."""
    if not _SHA.fullmatch(sha256 or "") or not store.gallery.live_output(sha256, visibility):
        return None
    key = f"thumbs/{sha256[:2]}/{sha256}.jpg"
    try:  # object mode: from the bounded local cache, fetched from the bucket once
        path = store.files.local(key)
    except StoreError:
        return None
    return path if path.is_file() else None
