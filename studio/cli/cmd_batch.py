"""``studio batch FILE``: run a CSV (header row) or JSON Lines file of prompts and settings.

Each row is a cell of a run keyed by the file's sha256; every variant of a row has its own ``cell_key``.
Running the same file again skips cells that already succeeded (or are still running in a live process)
and re-runs the rest, so an interrupted batch never pays twice for an image.

Every row passes the same rule as ``studio generate`` and the studio's pages (the model's sizes, ratios,
reference limits, variants) before anything is paid for. A row that does not is named on stderr with
its line and the reason, and the other rows still run. Editing the file makes it a new batch (its rows
that already ran would be paid again), so put fixed rows in a file of their own.

Exit status: 0 when every row ran and every cell produced an image; 1 when a row was refused or a cell
failed (the other rows still ran); 2 for bad usage, before anything is opened or paid for: the file
cannot be read, is not UTF-8, has an unknown CSV column or broken CSV quoting, or has no row that can
run (each bad row is then named with its line).
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path
from typing import Any

from studio.cli import output
from studio.domain import catalogue
from studio.domain.errors import InputError
from studio.services import batch, lifecycle, runs
from studio.services.studio import open_studio

#: One line each in ``studio batch --help``.
COLUMN_HELP = {
    "prompt": "the prompt; {NAME} is filled from the var.NAME column",
    "model": 'a model id, display name or alias, any case: gemini-3-pro-image, "Nano Banana Pro" or '
    f"nano-banana-pro (default {catalogue.DEFAULT_MODEL})",
    "aspect": "aspect ratio the model accepts, e.g. 16:9 (default: the model's)",
    "size": "image size the model accepts: 512, 1K, 2K or 4K (default: the model's)",
    "seed": "a whole number; variants after the first use seed+1, seed+2, ...",
    "variants": f"images for this row, 1-{catalogue.MAX_VARIANTS} (default 1)",
    "text": "yes to ask for text and image (default no: image only)",
    "refs": "reference image paths separated by ';', relative to the file",
    "var.NAME": 'a value for {NAME} in the prompt (JSON Lines: also "vars": {"NAME": ...})',
}


def add_parser(sub: Any) -> None:
    doc = __doc__ or ""
    width = max(map(len, COLUMN_HELP))
    parser = sub.add_parser(
        "batch",
        help="run a CSV or JSON Lines file of prompts (resumable)",
        description=doc.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="columns (CSV header) or keys (JSON Lines); only prompt is needed:\n"
        + "\n".join(f"  {name:<{width}}  {text}" for name, text in COLUMN_HELP.items())
        + "\n\n"
        + "\n\n".join(doc.split("\n\n")[1:]),
    )
    parser.add_argument("file", type=Path, help="a .csv file with a header row, or a .jsonl file")
    parser.add_argument("--json", action="store_true", help="print one JSON object per generation per line")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=runs.DEFAULT_CONCURRENCY,
        help=f"how many requests run at once (default {runs.DEFAULT_CONCURRENCY})",
    )
    parser.add_argument(
        "--demo", action="store_true", help="use the built-in emulator instead of the endpoint"
    )


def run(args: argparse.Namespace) -> int:
    """StudioErrors go up to ``cli.main``, which maps them to exit 2 (bad usage) or 1."""
    if args.concurrency < 1:
        raise InputError("--concurrency must be at least 1")
    rows = batch.read_batch(args.file)  # bad usage (exit 2) before anything is opened or paid for
    output.print_refused_rows(args.file, rows)
    studio = open_studio(demo=args.demo)
    with lifecycle.polite_stop() as stop:  # a stop signal sends no more rows and saves the paid ones
        try:
            result = batch.execute(
                studio,
                rows,
                args.file.name,
                concurrency=args.concurrency,
                on_done=partial(output.print_record, as_json=args.json),
                on_resume=output.print_resumed,
            )
        finally:
            studio.close()
    output.print_batch_result(result)
    return stop.exit_status(0 if result.ok else 1)
