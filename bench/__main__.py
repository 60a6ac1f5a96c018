"""``python -m bench [--quick] [--only NAME[,NAME]] [--rows 100000,1000000]``: every benchmark, one table.

Writes every row to ``bench/results/latest.json`` (git-ignored). A benchmark that raises becomes one
``error`` row, so one broken module does not hide the others' figures. Exit status 1 if any goal failed
or a benchmark errored.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from typing import Any

from bench.common import RESULTS, Row, fmt

BENCHMARKS = (
    "client_path",
    "variants",
    "memory",
    "gallery",
    "gallery_pg",
    "browser",
    "history_paint",
    "team",
    "blob_save",
    "review",
)


def _options(name: str, args: argparse.Namespace) -> dict[str, Any]:
    if name in ("gallery", "gallery_pg"):
        opts: dict[str, Any] = {"log": lambda line: print(f"  {line}", file=sys.stderr)}
        if args.rows:
            opts["rows"] = tuple(int(r) for r in args.rows.split(",") if r.strip())
        return opts
    if name == "history_paint":
        return {"log": lambda line: print(f"  {line}", file=sys.stderr)}
    return {}


def run_one(name: str, quick: bool, **options: Any) -> tuple[list[Row], float]:
    started = time.perf_counter()
    module = importlib.import_module(f"bench.{name}")
    try:
        rows = module.run(quick=quick, **options)
    except Exception as exc:  # report and carry on with the next benchmark
        traceback.print_exc()
        rows = [
            Row(f"{name}.error", None, "", "", None, "", False, note=f"error: {type(exc).__name__}: {exc}")
        ]
    return rows, time.perf_counter() - started


def table(rows: list[Row]) -> str:
    head = ("benchmark", "value", "peer", "peer value", "ratio", "goal", "result")
    lines = [head]
    for r in rows:
        ratio = "-" if r.ratio is None else f"{r.ratio:.3g}×"
        lines.append(
            (
                r.name,
                fmt(r.value, r.unit),
                r.peer or "-",
                fmt(r.peer_value, r.unit),
                ratio,
                r.goal or "-",
                r.verdict if not r.note.startswith(("skipped", "error")) else r.note,
            )
        )
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(head))]
    out = []
    for i, line in enumerate(lines):
        out.append("  ".join(str(cell).ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (the smoke test's mode)")
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    parser.add_argument(
        "--rows",
        help="gallery DB sizes, comma-separated (default 100000,1000000, gallery_pg 1000000; quick 2000)",
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",")] if args.only else list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    rows: list[Row] = []
    durations: dict[str, float] = {}
    for name in names:
        print(f"running {name}…", file=sys.stderr, flush=True)
        got, durations[name] = run_one(name, args.quick, **_options(name, args))
        rows += got
    print(table(rows))
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "durations_s": durations,
        "rows": [r.to_json() for r in rows],
    }
    (RESULTS / "latest.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"\nwrote {RESULTS / 'latest.json'}", file=sys.stderr)
    return 1 if any(r.passed is False for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
