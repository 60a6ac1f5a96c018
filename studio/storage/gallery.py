"""The gallery side of the history: filters, facets, totals, tags, collections, trash, lineage, compare.

``Store`` composes ``GalleryRepository`` (gallery_repo.py), ``OrganiseRepository`` (organise_repo.py) and
``TrashRepository`` (trash_repo.py); filters live in filter_sql.py. This module keeps every public name
importable from ``studio.storage.gallery``. Every query stays fast at a million rows:
- pages are keyset (``id < before_id``, newest first), never OFFSET;
- search is an FTS5 sub-select ordered by recency (rowid), never by ``rank`` (bm25 scores every match: docs/reliability.md);
- facets group by indexed real or generated columns, never by ``json_extract`` per row;
- a page's tags and collections come from correlated sub-selects evaluated only for the rows returned.
Every organising action takes a list of ids and is one IMMEDIATE transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from studio.domain.errors import InputError
from studio.domain.records import GenerationRecord
from studio.storage.filter_sql import (
    COLLECTION_MAX,
    SEARCH_WINDOW,
    TAG_MAX,
    GalleryFilter,
    clean_name,
    conditions,
    fts_query,
    match_ids,
    merge_filter,
)
from studio.storage.gallery_repo import FACET_COLUMNS, MAX_PAGE
from studio.storage.trash_repo import TrashReport

__all__ = [
    "COLLECTION_MAX",
    "FACET_COLUMNS",
    "MAX_PAGE",
    "SEARCH_WINDOW",
    "TAG_MAX",
    "GalleryFilter",
    "TrashReport",
    "clean_name",
    "conditions",
    "fts_query",
    "match_ids",
    "merge_filter",
    "settings_diff",
]


def settings_diff(records: Sequence[GenerationRecord]) -> list[tuple[str, list[Any]]]:
    """For 2-4 records: (setting, value per record) for the prompt, model and every setting that differs."""
    if not 2 <= len(records) <= 4:
        raise InputError("Choose between 2 and 4 generations to compare.")
    rows: list[tuple[str, list[Any]]] = [
        ("prompt", [r.prompt for r in records]),
        ("model", [r.model for r in records]),
    ]
    keys = sorted(set().union(*(r.settings.keys() for r in records)))
    rows += [(key, [r.settings.get(key) for r in records]) for key in keys]
    rows.append(("references", [[i.sha256[:12] for i in r.references] for r in records]))
    return [(key, values) for key, values in rows if any(v != values[0] for v in values[1:])]
