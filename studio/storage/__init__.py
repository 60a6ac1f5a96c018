"""The generation history: SQLite via SQLModel, plus the image files it points at."""

from __future__ import annotations

from studio.domain.records import GenerationRecord, ImageRecord, settings_diff
from studio.storage.filter_sql import SEARCH_WINDOW, GalleryFilter, Visibility, fts_query
from studio.storage.store import Store
from studio.storage.trash_repo import TrashReport

__all__ = [
    "SEARCH_WINDOW",
    "GalleryFilter",
    "Visibility",
    "GenerationRecord",
    "ImageRecord",
    "Store",
    "TrashReport",
    "fts_query",
    "settings_diff",
]
