"""Everything the `studio` command prints. The ``--json`` shapes here are a public contract: add keys,
never rename them (tests/service/test_cli_contract.py pins them)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO, Any

from studio.domain.errors import StudioError
from studio.domain.requests import SUCCEEDED
from studio.services.archive import GenerationRecord
from studio.services.batch import BatchFile, BatchResult
from studio.services.doctor import Report
from studio.services.exchange import ExportReport, ImportReport


def print_record(record: GenerationRecord, *, as_json: bool, out: IO[str] | None = None) -> None:
    """One generation on stdout: the public ``--json`` shape, or a line for people."""
    if as_json:
        print(json.dumps(record.to_json(), ensure_ascii=False), file=out, flush=True)
        return
    line = f"#{record.id} {record.status:<11} {record.model}  {record.prompt[:60]!r}"
    for image in record.images:
        line += f"\n    {image.path} ({image.width}x{image.height} {image.mime_type})"
    if record.error_message and record.status != SUCCEEDED:
        line += f"\n    {record.error_message}"
    print(line, file=out, flush=True)


def warn(message: str) -> None:
    """A sentence on stderr (stdout keeps one JSON object per generation)."""
    print(f"studio: {message}", file=sys.stderr, flush=True)


# -- batch ------------------------------------------------------------------------------------------


def print_refused_rows(path: Path, batch: BatchFile) -> None:
    """Each refused row, its line and why."""
    for line, sentence in batch.refused:
        warn(f"{path.name}, line {line}: {sentence}")
    if batch.refused:
        lines = ", ".join(str(line) for line, _ in batch.refused)
        rows = "1 row" if len(batch.refused) == 1 else f"{len(batch.refused)} rows"
        warn(f"{rows} of {path.name} will not run (line {lines}); running the other {len(batch.rows)}.")


def print_resumed(run_id: int, skipped: int, cells: int) -> None:
    warn(f"resuming run {run_id}: {skipped} of {cells} cells already done, not paid again.")


def print_batch_result(result: BatchResult) -> None:
    n = result.refused
    refused = f"; {n} of the file's rows {'was' if n == 1 else 'were'} refused" if n else ""
    warn(f"{result.succeeded} of {result.cells} cells produced an image (run {result.run_id}){refused}.")


# -- doctor -----------------------------------------------------------------------------------------


def print_doctor_report(report: Report, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
        return
    print(f"Data directory: {report.data_dir}")
    print(f"Database integrity: {report.integrity}")
    for p in report.problems:
        state = "fixed" if p.fixed else ("to do" if not report.repair else "remains")
        print(f"- [{state}] {p.kind}: {p.detail} → {p.action}")
    if report.backup:
        print(f"Backup written first: {report.backup}")
    if report.advice:
        print(report.advice)
    if report.ok:
        print("Healthy." if not report.problems else f"Repaired {report.repaired} problem(s).")
    elif not report.repair:
        print(
            f"{len(report.problems)} problem(s) found; run `studio doctor --repair` to fix what can be fixed."
        )
    else:
        print(f"{sum(not p.fixed for p in report.problems)} problem(s) remain.")


def print_doctor_failure(exc: StudioError, *, as_json: bool) -> None:
    """The doctor could not even look: still one JSON object with ``--json``."""
    if as_json:
        failure: dict[str, Any] = {
            "ok": False,
            "integrity": "unknown",
            "problems": [{"kind": exc.kind, "detail": exc.message, "action": "none"}],
            "repaired": 0,
            "backup": None,
        }
        print(json.dumps(failure))
    else:
        print(f"studio doctor: {exc}", file=sys.stderr)


# -- export and import ------------------------------------------------------------------------------


def print_export_report(report: ExportReport) -> None:
    print(
        f"Exported {report.generations} generations and {report.images} images to {report.path} "
        f"({report.bytes / 2**20:.1f} MB)."
    )


def print_import_report(report: ImportReport) -> None:
    print(
        f"Imported {report.generations_added} generations ({report.generations_skipped} already here); "
        f"{report.images_added} new images, {report.images_present} already stored."
    )
