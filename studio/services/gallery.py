"""Reading the history: pages, facets, totals, lineage, comparisons, previews and ZIP exports.

The app reads generations only through this service (never the Store), so that per-person permissions can
later be applied in one place. The records it returns are re-exported here for the pages and widgets.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from studio import storage
from studio.domain.mime import EXTENSIONS
from studio.storage import GalleryFilter, GenerationRecord, ImageRecord, Store, TrashReport

__all__ = [
    "EXTENSIONS",
    "GalleryFilter",
    "GalleryService",
    "GenerationRecord",
    "ImageRecord",
    "TrashReport",
]


class GalleryService:
    #: A search's facets and totals cover its newest SEARCH_WINDOW matches (the History line says so).
    SEARCH_WINDOW: int = storage.SEARCH_WINDOW

    def __init__(self, store: Store) -> None:
        self._store = store

    def page(
        self, f: GalleryFilter | None = None, *, limit: int = 48, before_id: int | None = None
    ) -> list[GenerationRecord]:
        """Newest first; the next page starts below ``before_id`` (the last id of this one)."""
        return self._store.gallery.page(f, limit=limit, before_id=before_id)

    def get(self, gen_id: int) -> GenerationRecord | None:
        return self._store.generations.get(gen_id)

    def records(self, ids: Iterable[int]) -> list[GenerationRecord]:
        return self._store.gallery.records(ids)

    def facets(self, f: GalleryFilter | None = None) -> dict[str, list[tuple[Any, int]]]:
        return self._store.gallery.facets(f)

    def totals(self, f: GalleryFilter | None = None) -> dict[str, Any]:
        return self._store.gallery.totals(f)

    def children(self, gen_id: int) -> list[GenerationRecord]:
        return self._store.gallery.children(gen_id)

    @staticmethod
    def differences(records: Sequence[GenerationRecord]) -> list[tuple[str, list[Any]]]:
        """For 2-4 records (InputError otherwise): (setting, value per record) for the prompt, the model
        and every setting that differs."""
        return storage.settings_diff(records)

    def preview(self, image: ImageRecord) -> Path:
        """The file to show on screen for an image (a ≤ 2048 px copy of a larger original)."""
        return self._store.generations.preview(image)

    def export_zip(self, ids: Sequence[int] | None, f: GalleryFilter | None) -> bytes:
        """A ZIP of the chosen generations (``ids``, else every one ``f`` matches), for a download."""
        from studio.services import exchange

        return exchange.export_bytes(self._store, ids, f)[0]
