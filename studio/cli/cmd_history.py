"""`studio history`: list generations, newest first (reads the history only: no orphan adoption)."""

from __future__ import annotations

import argparse
from typing import Any

from studio.cli.output import print_record
from studio.domain.errors import InputError
from studio.services.archive import Archive, open_archive


def add_parser(sub: Any) -> None:
    hist = sub.add_parser("history", help="list generations, newest first")
    hist.add_argument("--search", default=None)
    hist.add_argument("--limit", type=int, default=20)
    hist.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise InputError("--limit must be at least 1")
    with open_archive() as archive:
        records = archive.history(search=args.search, limit=args.limit)
        for record in records:
            print_record(record, as_json=args.json)
        if not records and not args.json:  # --json keeps its contract: one object per generation, so nothing
            print(_no_history(archive, args.search))
    return 0


def _no_history(archive: Archive, search: str | None) -> str:
    if search and search.strip():
        return f"No generations match “{search.strip()}”."
    if archive.trashed():
        return "The history is empty; its trash still holds generations (restore them in History)."
    return "The history is empty."
