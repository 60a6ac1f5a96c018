"""Gallery review at scale (issue 15), on a seeded SQLite history (``bench.seed``):

- ``review.history_by_decision``: a History page (48) filtered by decision ("approved", 1 in 10 rows), against
  the unfiltered page (peer). Goal: ≤ 50 ms (one indexed column, ``ix_generation_review_status``).
- ``review.history_open``: the same for "open" (no decision: 8 rows in 10).
- ``review.collection_counts``: a 500-image collection's "12 approved · 3 changes requested · 5 open".
  Goal: ≤ 20 ms.

Decisions are written in bulk with SQL (as the decision log and ``generation.review_status`` would leave them);
the reads go through the real services.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from bench import seed as seeding
from bench.common import Row, measure

PAGE_GOAL_S = 0.050
COUNTS_GOAL_S = 0.020
COLLECTION = 500


def _decide_in_bulk(db: Path, rows: int) -> int:
    """1 row in 10 approved, 1 in 20 changes, 1 in 20 rejected; a collection of ``COLLECTION`` rows."""
    conn = sqlite3.connect(db)
    try:
        with conn:
            conn.execute(
                "UPDATE generation SET review_status = CASE WHEN id % 10 = 0 THEN 'approved' "
                "WHEN id % 20 = 1 THEN 'changes' WHEN id % 20 = 11 THEN 'rejected' END"
            )
            conn.execute(
                "INSERT INTO decision (generation_id, status, by, at) SELECT id, review_status, "
                "'rita@studio.test', created_at FROM generation WHERE review_status IS NOT NULL"
            )
            cur = conn.execute(
                "INSERT INTO collection (name, created_at) VALUES ('Review bench', '2026-01-01')"
            )
            cid = int(cur.lastrowid or 0)
            conn.execute(
                "INSERT INTO collection_item (collection_id, generation_id, added_at) "
                "SELECT ?, id, created_at FROM generation WHERE id % 7 = 0 ORDER BY id DESC LIMIT ?",
                (cid, COLLECTION),
            )
        return cid
    finally:
        conn.close()


def run(quick: bool = False, **_: Any) -> list[Row]:
    from studio.services.access import Access
    from studio.services.gallery import GalleryFilter, GalleryService
    from studio.services.reviews import ReviewService
    from studio.storage import Store

    rows = 2_000 if quick else 100_000
    n = 5 if quick else 30
    data_dir = Path(tempfile.mkdtemp(prefix="bench-review-"))
    try:
        seeding.seed(data_dir, rows)
        cid = _decide_in_bulk(data_dir / "studio.db", rows)
        store = Store(data_dir)
        try:
            gallery, review = GalleryService(store, Access.local()), ReviewService(store, Access.local())
            plain = measure(lambda: gallery.page(GalleryFilter(), limit=48), n, warmup=2)
            approved = measure(
                lambda: gallery.page(GalleryFilter(review_status="approved"), limit=48), n, warmup=2
            )
            still_open = measure(
                lambda: gallery.page(GalleryFilter(review_status="open"), limit=48), n, warmup=2
            )
            counts = measure(lambda: review.counts(cid), n, warmup=2)
            sentence = review.counts(cid).sentence()
        finally:
            store.close()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    note = f"{rows:,} rows"
    return [
        Row(
            "review.history_by_decision",
            approved.p50,
            "s",
            "unfiltered History page",
            plain.p50,
            f"≤ {PAGE_GOAL_S * 1000:.0f} ms",
            approved.p50 <= PAGE_GOAL_S,
            note=note,
            extra=approved.extra(),
        ),
        Row(
            "review.history_open",
            still_open.p50,
            "s",
            "unfiltered History page",
            plain.p50,
            f"≤ {PAGE_GOAL_S * 1000:.0f} ms",
            still_open.p50 <= PAGE_GOAL_S,
            note=note,
            extra=still_open.extra(),
        ),
        Row(
            "review.collection_counts",
            counts.p50,
            "s",
            "",
            None,
            f"≤ {COUNTS_GOAL_S * 1000:.0f} ms",
            counts.p50 <= COUNTS_GOAL_S,
            note=f"{note}; {COLLECTION}-image collection: {sentence}",
            extra=counts.extra(),
        ),
    ]
