"""``studio batch FILE``: run a CSV (header row) or JSON Lines file of prompts and settings.

Columns (CSV) or keys (JSON Lines): prompt, model, aspect, size, seed, variants, text, refs (paths
separated by ``;``, relative to the file), and template values as ``var.NAME`` for ``{NAME}`` in the
prompt. Each row is a cell of a run keyed by the file's sha256; every variant of a row has its own
``cell_key``. Running the same file again skips cells that already succeeded (or are still running
in a live process) and re-runs the rest, so an interrupted batch never pays twice for an image.

Exit status: 0 when every cell produced an image, 1 otherwise, 2 for bad usage (with the line number).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

from studio import lifecycle, runs
from studio.config import load_settings
from studio.domain import SUCCEEDED
from studio.errors import InputError
from studio.store import runs as run_store

COLUMNS = ("prompt", "model", "aspect", "size", "seed", "variants", "text", "refs")
MAX_VARIANTS = 8
_TRUE = {"1", "true", "yes", "y", "on"}
_FALSE = {"", "0", "false", "no", "n", "off"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.split("\n\n")[0] if __doc__ else None
    parser.add_argument("file", type=Path, help="a .csv file with a header row, or a .jsonl file")
    parser.add_argument("--json", action="store_true", help="print one JSON object per generation per line")
    parser.add_argument("--concurrency", type=int, default=runs.DEFAULT_CONCURRENCY,
                        help=f"how many requests run at once (default {runs.DEFAULT_CONCURRENCY})")
    parser.add_argument("--demo", action="store_true", help="use the built-in emulator instead of the endpoint")


# -- reading the file ---------------------------------------------------------------------------


def read_rows(path: Path) -> tuple[list[dict[str, Any]], str]:
    """(rows, sha256 of the file). Raises InputError naming the line of the first bad row."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"Cannot read {path} ({exc.strerror}).") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text; save it as UTF-8 (CSV or JSON Lines).") from None
    jsonl = path.suffix.lower() in (".jsonl", ".ndjson", ".json") or (
        path.suffix.lower() != ".csv" and text.lstrip().startswith("{"))
    records = _jsonl(text) if jsonl else _csv(text)
    rows = []
    for line, record in records:
        try:
            row = _row(record, path.parent)
            runs.plan(runs.RunSpec(rows=[row]))  # the model accepts this ratio, size, reference count
        except InputError as exc:
            raise InputError(f"{path.name}, line {line}: {exc.message}") from None
        row["line"] = line
        rows.append(row)
    if not rows:
        raise InputError(f"{path.name} has no rows to run.")
    return rows, hashlib.sha256(raw).hexdigest()


def _csv(text: str) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    if not header:
        raise InputError("The CSV file is empty; its first line must name the columns (prompt, model, ...).")
    for name in header:
        if name not in COLUMNS and not name.startswith("var."):
            raise InputError(f"line 1: unknown column {name!r}. Known: {', '.join(COLUMNS)}, var.NAME.")
    reader.fieldnames = header
    out = []
    start = 2
    try:
        for record in reader:
            if None in record:
                raise InputError(f"line {start}: this row has more values than the header has columns.")
            if any((v or "").strip() for v in record.values()):
                out.append((start, record))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InputError(f"line {reader.line_num}: {exc}.") from None
    return out


def _jsonl(text: str) -> list[tuple[int, dict[str, Any]]]:
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise InputError(f"line {number}: not valid JSON ({exc.msg}).") from None
        if not isinstance(record, dict):
            raise InputError(f"line {number}: each line must be a JSON object.")
        vars_ = record.pop("vars", None)
        if isinstance(vars_, dict):
            record.update({f"var.{k}": v for k, v in vars_.items()})
        for name in record:
            if name not in COLUMNS and not name.startswith("var."):
                raise InputError(f"line {number}: unknown key {name!r}. Known: {', '.join(COLUMNS)}, var.NAME.")
        out.append((number, record))
    return out


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
    variants = _int(record.get("variants"), "variants") or 1
    if not 1 <= variants <= MAX_VARIANTS:
        raise InputError(f"variants must be between 1 and {MAX_VARIANTS} (got {variants}).")
    values = {k[4:]: _str(v) for k, v in record.items() if k.startswith("var.")}
    return {
        "prompt": _str(record.get("prompt")), "model": _str(record.get("model")) or None,
        "aspect": _str(record.get("aspect")) or None, "size": _str(record.get("size")) or None,
        "seed": _int(record.get("seed"), "seed"), "variants": variants, "text": _bool(record.get("text")),
        "refs": _refs(record.get("refs"), base), "vars": values,
    }


# -- running ------------------------------------------------------------------------------------


def _open_studio(demo: bool):
    from studio.service import Studio

    settings = load_settings()
    if demo:
        settings = settings.with_(demo=True)
    return Studio(settings)


def execute(studio, path: Path, *, concurrency: int, as_json: bool) -> int:
    rows, sha = read_rows(path)
    spec = runs.RunSpec(name=path.name, rows=rows)
    cells, _ = runs.plan(spec)
    from studio.cli import print_record

    on_done = lambda record: print_record(record, as_json=as_json)  # noqa: E731
    existing = run_store.find_by_source(studio.store, sha)
    if existing is None:
        run_id = runs.start(studio, spec, concurrency=concurrency, kind="batch", source_sha=sha, on_done=on_done)
        skipped = 0
    else:
        run_id = existing.id
        skipped = len(cells) - runs.resume(studio, run_id, concurrency=concurrency, on_done=on_done)
        if skipped:
            print(f"studio: resuming run {run_id}: {skipped} of {len(cells)} cells already done, not paid again.",
                  file=sys.stderr, flush=True)
    try:
        while not runs.wait(studio, run_id, timeout=0.5):
            pass
    except KeyboardInterrupt:
        runs.cancel(studio, run_id)
        runs.wait(studio, run_id, timeout=30)
        raise
    done = {key for key, rows_ in run_store.cell_statuses(studio.store, run_id).items()
            if any(status == SUCCEEDED for _, status in rows_)}
    ok = sum(1 for cell in cells if cell.key in done)
    print(f"studio: {ok} of {len(cells)} cells produced an image (run {run_id}).", file=sys.stderr, flush=True)
    return 0 if ok == len(cells) else 1


def run(args: argparse.Namespace) -> int:
    """``studio batch``; StudioErrors go up to ``studio.cli.main``, which maps them to exit 2 (bad usage) or 1."""
    if args.concurrency < 1:
        raise InputError("--concurrency must be at least 1")
    demo = args.demo or os.environ.get("STUDIO_DEMO", "").strip().lower() in ("1", "true", "yes", "on")
    read_rows(args.file)  # bad usage is reported before anything is opened or paid for
    studio = _open_studio(demo)
    with lifecycle.polite_stop() as stop:  # a stop signal sends no more rows and saves the paid ones
        try:
            status = execute(studio, args.file, concurrency=args.concurrency, as_json=args.json)
        finally:
            studio.close()
    return stop.exit_status(status)


def main(argv: list[str] | None = None) -> int:
    from studio import cli

    return cli.main(["batch", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
