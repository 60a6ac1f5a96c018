"""The generation history: SQLite via SQLModel, plus the image files it points at."""

from __future__ import annotations

from studio.store.gallery import SEARCH_WINDOW, GalleryFilter, TrashReport, fts_query, settings_diff
from studio.store.models import GenerationRecord, ImageRecord
from studio.store.repository import Store

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
