"""The history alone, for the commands that read or move records (``history``, ``export``, ``import``).

No worker pool, no client and no orphan adoption (unlike ``open_studio``): looking never changes a row.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from studio.domain.settings import Settings, load_settings
from studio.services import exchange
from studio.storage import GalleryFilter, GenerationRecord, Store


class Archive:
    def __init__(self, settings: Settings) -> None:
        self.data_dir = settings.data_dir
        self._store = Store.for_settings(settings)

    def history(self, *, search: str | None = None, limit: int = 20) -> list[GenerationRecord]:
        """Newest first."""
        return self._store.gallery.page(search=search, limit=limit)

    def trashed(self) -> int:
        """How many generations are in the trash."""
        return self._store.gallery.count(GalleryFilter(deleted=True))

    def export_zip(
        self, out: Path, *, ids: Sequence[int] = (), search: str | None = None
    ) -> exchange.ExportReport:
        """Raises InputError, writing nothing, when an id is not in the history."""
        return exchange.export_selection(self._store, out, ids=ids, search=search)

    def import_zip(self, path: Path) -> exchange.ImportReport:
        return exchange.import_zip(self._store, path)

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_archive(settings: Settings | None = None) -> Archive:
    return Archive(settings or load_settings())


#: The records come from the store; re-exported so that the CLI need not import the storage package.
__all__ = ["Archive", "GenerationRecord", "open_archive"]
