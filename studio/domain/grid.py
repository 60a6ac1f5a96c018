"""A run's cells laid out by two of its axes: what the Experiment page and the contact sheet draw."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from studio.domain.records import GenerationRecord


@dataclass(frozen=True)
class GridCell:
    key: str
    values: dict[str, Any]
    status: str
    record: GenerationRecord | None


@dataclass
class Grid:
    rows: str | None
    cols: str | None
    row_labels: list[str]
    col_labels: list[str]
    cells: dict[tuple[int, int], list[GridCell]]

    def at(self, row: int, col: int) -> list[GridCell]:
        return self.cells.get((row, col), [])
