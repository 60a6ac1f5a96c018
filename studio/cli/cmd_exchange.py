"""`studio export` and `studio import`: move generations between studios as a ZIP (services.exchange), and a
collection's review pack as a PDF contact sheet (``--collection NAME --pdf FILE``).

Export exits 2 (bad usage, like every InputError) when an id is not in the history or the collection is not
there: nothing is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from studio.cli import output
from studio.domain.errors import InputError
from studio.services.archive import open_archive


def add_export_parser(sub: Any) -> None:
    p = sub.add_parser(
        "export",
        help="export generations as a ZIP with manifest.json, or a collection's review pack as a PDF",
        epilog='Examples: studio export --out all.zip; studio export --collection "Spring moodboard" '
        "--pdf review.pdf --out spring.zip",
    )
    p.add_argument("--out", default=None, type=Path, help="the ZIP file to write")
    p.add_argument("--search", default=None, help="export the generations matching this search")
    p.add_argument(
        "--collection",
        default=None,
        metavar="NAME",
        help="only this collection's generations (its name or id)",
    )
    p.add_argument(
        "--pdf",
        default=None,
        type=Path,
        metavar="FILE",
        help="write the collection's review pack: a PDF contact sheet with each image's decision and "
        "comments (needs --collection)",
    )
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
    if args.out is None and args.pdf is None:
        raise InputError("Say what to write: --out FILE.zip, or --collection NAME --pdf FILE.pdf.")
    if args.pdf is not None and args.collection is None:
        raise InputError("A review pack is a collection's: add --collection NAME (its name or id).")
    if args.collection is not None and args.ids:
        raise InputError("Give either generation ids or --collection, not both.")
    with open_archive() as archive:
        if args.pdf is not None:
            output.print_pack_report(archive.write_review_pack(args.collection, args.pdf))
        if args.out is not None:
            report = archive.export_zip(
                args.out, ids=args.ids or (), search=args.search, collection=args.collection
            )
            output.print_export_report(report)
    return 0


def run_import(args: argparse.Namespace) -> int:
    with open_archive() as archive:
        report = archive.import_zip(args.file)
    output.print_import_report(report)
    return 0
