"""`studio history`: list generations, newest first (reads the history only: no orphan adoption)."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from studio.cli.output import print_record
from studio.domain.errors import InputError
from studio.domain.search import parse_search
from studio.services.archive import Archive, open_archive


def add_parser(sub: Any) -> None:
    hist = sub.add_parser("history", help="list generations, newest first")
    hist.add_argument(
        "--search",
        default=None,
        help='words (stem and prefix match), "a phrase", -word to leave out, and dates: today, yesterday, '
        "this week, last week, this month, last 7 days",
    )
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
        understood = parse_search(search, datetime.now().astimezone())
        dates = f" ({understood.describe()})" if understood.dates else ""  # say which days were searched
        return f"No generations match “{search.strip()}”{dates}."
    if archive.trashed():
        return "The history is empty; its trash still holds generations (restore them in History)."
    return "The history is empty."
