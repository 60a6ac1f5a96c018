"""Everything the `studio` command prints. The ``--json`` shapes here are a public contract: add keys,
never rename them (tests/service/test_cli_contract.py pins them)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from studio.domain.errors import StudioError
from studio.domain.requests import SUCCEEDED
from studio.services.archive import GenerationRecord
from studio.services.batch import BatchFile, BatchResult
from studio.services.copying import CopyReport
from studio.services.doctor import Report
from studio.services.exchange import ExportReport, ImportReport


def print_record(record: GenerationRecord, *, as_json: bool, out: IO[str] | None = None) -> None:
    """One generation on stdout: the public ``--json`` shape, or a line for people."""
    if as_json:
        print(json.dumps(record.to_json(), ensure_ascii=False), file=out, flush=True)
        return
    line = f"#{record.id} {record.status:<11} {record.model}  {record.prompt[:60]!r}"
    for image in record.images:
        line += f"\n    {image.locator or image.path} ({image.width}x{image.height} {image.mime_type})"
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


# -- copy-to ----------------------------------------------------------------------------------------


def copy_progress() -> Callable[[str, int, int], None]:
    """A progress callback for one copy: a line on stderr per tenth of each stage (files, then each table)."""
    shown: dict[str, int] = {}

    def report(stage: str, done: int, total: int) -> None:
        step = done * 10 // max(total, 1)
        if done >= total or step > shown.get(stage, 0):
            shown[stage] = step
            warn(f"copying {stage}: {done}/{total}")

    return report


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 1024:.0f} KB"


def print_copy_report(report: CopyReport, *, as_json: bool) -> None:
    for failure in report.failures:
        warn(failure)
    if report.failures:
        n = len(report.failures)
        warn(
            f"{n} source file{'s' if n > 1 else ''} failed {'their' if n > 1 else 'its'} check; nothing "
            "was written to the target's history. Restore those files (`studio doctor` shows what else is "
            "wrong), then copy again."
        )
    if as_json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
        return
    if report.failures:
        return
    if report.already_there:
        print(
            f"Nothing to copy: {report.target} already holds everything ({report.verified} files verified)."
        )
        return
    rows, updated = sum(report.rows.values()), sum(report.updated.values())
    changed = f", brought {updated} up to date" if updated else ""
    print(
        f"Copied {rows} rows{changed} and {report.files_copied} files ({_size(report.bytes)}; "
        f"{report.files_present} already there) to {report.target}; {report.verified} files verified."
    )
