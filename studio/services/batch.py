"""Batch files behind ``studio batch FILE``: read a CSV (header row) or JSON Lines file of prompts, run it.

Each row is a cell of a run keyed by the file's sha256; every variant of a row has its own ``cell_key``.
Running the same file again skips cells that already succeeded (or are still running in a live process)
and re-runs the rest, so an interrupted batch never pays twice for an image. Every row passes the same
rule as ``studio generate`` before anything is paid for; a row that does not is ``refused`` with its line
and the other rows still run. The command (its help, printing and exit status) is ``studio.cli.cmd_batch``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.domain import catalogue
from studio.domain.errors import InputError
from studio.domain.requests import SUCCEEDED
from studio.services import runs

if TYPE_CHECKING:
    from studio.services.session import StudioSession
    from studio.services.studio import Studio
    from studio.storage import GenerationRecord

COLUMNS = ("prompt", "model", "aspect", "size", "seed", "variants", "text", "refs")
_TRUE = {"1", "true", "yes", "y", "on"}
_FALSE = {"", "0", "false", "no", "n", "off"}


# -- reading the file ---------------------------------------------------------------------------


@dataclass
class BatchFile:
    rows: list[dict[str, Any]]  # the rows that pass the rule, each with its "line"
    sha256: str
    refused: list[tuple[int, str]]  # (line, sentence) of each row that will not run


def read_batch(path: Path) -> BatchFile:
    """Every row of the file, checked against the one rule (``catalogue.validate``) before anything is paid.

    A bad row is listed in ``refused`` and the others still run; raises InputError (bad usage) when the
    file cannot be read as a whole or has no row that can run."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"Cannot read {path} ({exc.strerror}).") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text; save it as UTF-8 (CSV or JSON Lines).") from None
    jsonl = path.suffix.lower() in (".jsonl", ".ndjson", ".json") or (
        path.suffix.lower() != ".csv" and text.lstrip().startswith("{")
    )
    records = _jsonl(text) if jsonl else _csv(text)
    rows, refused = [], []
    for line, record in records:
        try:
            if isinstance(record, InputError):
                raise record
            row = _row(record, path.parent)
            runs.plan(runs.RunSpec(rows=[row]))  # the one rule: ratio, size, references, variants
        except InputError as exc:
            refused.append((line, exc.message))
            continue
        row["line"] = line
        rows.append(row)
    if not rows:
        if not refused:
            raise InputError(f"{path.name} has no rows to run.")
        raise InputError(
            f"{path.name} has no row that can run:\n"
            + "\n".join(f"  {path.name}, line {line}: {sentence}" for line, sentence in refused)
        )
    return BatchFile(rows, hashlib.sha256(raw).hexdigest(), refused)


def read_rows(path: Path) -> tuple[list[dict[str, Any]], str]:
    """(rows, sha256 of the file), all or nothing: raises InputError naming the line of the first bad row."""
    batch = read_batch(path)
    if batch.refused:
        line, sentence = batch.refused[0]
        raise InputError(f"{path.name}, line {line}: {sentence}")
    return batch.rows, batch.sha256


def _csv(text: str) -> list[tuple[int, dict[str, Any] | InputError]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    if not header:
        raise InputError("The CSV file is empty; its first line must name the columns (prompt, model, ...).")
    for name in header:
        if name not in COLUMNS and not name.startswith("var."):
            raise InputError(f"line 1: unknown column {name!r}. Known: {', '.join(COLUMNS)}, var.NAME.")
    reader.fieldnames = header
    out: list[tuple[int, dict[str, Any] | InputError]] = []
    start = 2
    try:
        for record in reader:
            if None in record:
                out.append((start, InputError("this row has more values than the header has columns.")))
            elif any((v or "").strip() for v in record.values()):
                out.append((start, record))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InputError(f"line {reader.line_num}: {exc}.") from None
    return out


def _jsonl(text: str) -> list[tuple[int, dict[str, Any] | InputError]]:
    """Each line stands alone: a bad one is that row's problem, not the file's."""
    out: list[tuple[int, dict[str, Any] | InputError]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                out.append((number, _json_record(line)))
            except InputError as exc:
                out.append((number, exc))
    return out


def _json_record(line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg}).") from None
    if not isinstance(record, dict):
        raise InputError("each line must be a JSON object.")
    vars_ = record.pop("vars", None)
    if isinstance(vars_, dict):
        record.update({f"var.{k}": v for k, v in vars_.items()})
    for name in record:
        if name not in COLUMNS and not name.startswith("var."):
            raise InputError(f"unknown key {name!r}. Known: {', '.join(COLUMNS)}, var.NAME.")
    return record


def _str(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _int(value: Any, name: str) -> int | None:
    text = _str(value)
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise InputError(f"{name} must be a whole number, not {text!r}.") from None


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _str(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InputError(f"text must be yes or no (true/false, 1/0), not {text!r}.")


def _refs(value: Any, base: Path) -> list[str]:
    items = value if isinstance(value, list) else _str(value).split(";")
    paths = []
    for item in (_str(i) for i in items):
        if not item:
            continue
        path = Path(item).expanduser()
        path = path if path.is_absolute() else base / path
        if not path.is_file():
            raise InputError(f"the reference image {item} does not exist.")
        paths.append(str(path.resolve()))
    return paths


def _row(record: dict[str, Any], base: Path) -> dict[str, Any]:
    """The row's values, parsed; whether its model accepts them is the one rule's call (``runs.plan``)."""
    variants = _int(record.get("variants"), "variants")
    values = {k[4:]: _str(v) for k, v in record.items() if k.startswith("var.")}
    model = _str(record.get("model"))
    return {
        "prompt": _str(record.get("prompt")),
        "model": catalogue.resolve_model(model) if model else None,
        "aspect": _str(record.get("aspect")) or None,
        "size": _str(record.get("size")) or None,
        "seed": _int(record.get("seed"), "seed"),
        "variants": 1 if variants is None else variants,
        "text": _bool(record.get("text")),
        "refs": _refs(record.get("refs"), base),
        "vars": values,
    }


# -- running ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchResult:
    run_id: int
    cells: int  # every variant of every row that runs
    succeeded: int  # cells that produced an image (this time or before)
    refused: int  # rows of the file that did not run

    @property
    def ok(self) -> bool:
        return self.succeeded == self.cells and not self.refused


def execute(
    studio: Studio | StudioSession,
    batch: BatchFile,
    name: str,
    *,
    concurrency: int,
    on_done: Callable[[GenerationRecord], None] | None = None,
    on_resume: Callable[[int, int, int], None] | None = None,
) -> BatchResult:
    """Run the rows of ``batch`` (read by ``read_batch``) as the run keyed by the file's sha256.

    ``on_done(record)`` follows each generation as it ends; ``on_resume(run_id, skipped, cells)`` is
    told, before anything is sent, when an earlier run of the same file already did some cells.
    The caller (``studio``'s actor) must be allowed to generate: NotSignedIn / NotAllowed before anything
    is read, written or sent."""
    studio.access.require_generate()
    spec = runs.RunSpec(name=name, rows=batch.rows)
    cells, _ = runs.plan(spec)
    existing = studio._store.runs.find_by_source(batch.sha256)
    if existing is None:
        run_id = runs.start(
            studio, spec, concurrency=concurrency, kind="batch", source_sha=batch.sha256, on_done=on_done
        )
    else:
        run_id = existing.id
        skipped = len(cells) - runs.resume(studio, run_id, concurrency=concurrency, on_done=on_done)
        if skipped and on_resume is not None:
            on_resume(run_id, skipped, len(cells))
    # A stop signal never interrupts this wait: the polite stop (lifecycle) ends the run, which then ends.
    while not runs.wait(studio, run_id, timeout=0.5):
        pass
    done = {
        key
        for key, rows_ in studio._store.runs.cell_statuses(run_id).items()
        if any(status == SUCCEEDED for _, status in rows_)
    }
    ok = sum(1 for cell in cells if cell.key in done)
    return BatchResult(run_id, len(cells), ok, len(batch.refused))
