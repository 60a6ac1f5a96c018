"""`studio export` and `studio import`: move generations between studios as a ZIP (services.exchange).

Export exits 2 (bad usage, like every InputError) when an id is not in the history: nothing is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from studio.cli import output
from studio.services.archive import open_archive


def add_export_parser(sub: Any) -> None:
    p = sub.add_parser("export", help="export generations as a ZIP with manifest.json")
    p.add_argument("--out", required=True, type=Path, help="the ZIP file to write")
    p.add_argument("--search", default=None, help="export the generations matching this search")
    p.add_argument(
        "ids",
        nargs="*",
        type=int,
        help="generation ids (default: every generation shown in History); an id that is not in the "
        "history is named and nothing is written (exit status 2, as for any bad usage)",
    )


def add_import_parser(sub: Any) -> None:
    p = sub.add_parser("import", help="import a ZIP made by `studio export`")
    p.add_argument("file", type=Path, help="a ZIP written by `studio export`")


def run_export(args: argparse.Namespace) -> int:
    with open_archive() as archive:
        report = archive.export_zip(args.out, ids=args.ids or (), search=args.search)
    output.print_export_report(report)
    return 0


def run_import(args: argparse.Namespace) -> int:
    with open_archive() as archive:
        report = archive.import_zip(args.file)
    output.print_import_report(report)
    return 0
