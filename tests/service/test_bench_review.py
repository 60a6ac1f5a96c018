"""The review benchmark runs in quick mode and returns well-formed rows (no timing assertions)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench import review  # noqa: E402
from tests.service.test_bench_smoke import _check  # noqa: E402


def test_review_quick() -> None:
    rows = review.run(quick=True)
    _check(rows, "review")
    assert {r.name for r in rows} == {
        "review.history_by_decision",
        "review.history_open",
        "review.collection_counts",
    }
    counts = next(r for r in rows if r.name == "review.collection_counts")
    assert "approved" in counts.note and "open" in counts.note
