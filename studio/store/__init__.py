"""The generation history: SQLite via SQLModel, plus the image files it points at."""

from __future__ import annotations

from studio.store.models import GenerationRecord, ImageRecord
from studio.store.repository import Store, fts_query

__all__ = ["GenerationRecord", "ImageRecord", "Store", "fts_query"]
