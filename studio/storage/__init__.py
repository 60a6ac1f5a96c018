"""The generation history: SQLite via SQLModel, plus the image files it points at."""

from __future__ import annotations

from studio.domain.records import GenerationRecord, ImageRecord
from studio.storage.gallery import SEARCH_WINDOW, GalleryFilter, TrashReport, fts_query, settings_diff
from studio.storage.store import Store

__all__ = [
    "SEARCH_WINDOW",
    "GalleryFilter",
    "GenerationRecord",
    "ImageRecord",
    "Store",
    "TrashReport",
    "fts_query",
    "settings_diff",
]
