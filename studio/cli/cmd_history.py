"""`studio history`: list generations, newest first (reads the history only: no orphan adoption)."""

from __future__ import annotations

import argparse
from typing import Any

from studio.cli.output import print_record
from studio.domain.errors import InputError
from studio.services.archive import Archive, open_archive
from studio.services.search_box import understand


def add_parser(sub: Any) -> None:
    hist = sub.add_parser(
        "history",
        help="list generations, newest first",
        description="List generations, newest first; QUERY (or --search) searches them like History's box.",
        epilog='A search that starts with "-" reads as an option: write --search=-bakery, or put it after '
        '--: studio history -- -bakery. Examples: studio history teapots, studio history "teapot -bakery", '
        "studio history --search='last week'.",
    )
    hist.add_argument(
        "query",
        nargs="*",
        metavar="QUERY",
        help='words (whole words by stem, the last also as a prefix), "a phrase", -word to leave out, '
        "and dates: today, yesterday, this week, last week, this month, this year, last year, last 7 days",
    )
    hist.add_argument(
        "--search",
        default=None,
        help="the same as QUERY (combined with it); one starting with - needs the = form: --search=-bakery",
    )
    hist.add_argument("--limit", type=int, default=20)
    hist.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise InputError("--limit must be at least 1")
    search = " ".join(part for part in [args.search or "", *getattr(args, "query", [])] if part) or None
    with open_archive() as archive:
        records = archive.history(search=search, limit=args.limit)
        for record in records:
            print_record(record, as_json=args.json)
        if not records and not args.json:  # --json keeps its contract: one object per generation, so nothing
            print(_no_history(archive, search))
    return 0


def _no_history(archive: Archive, search: str | None) -> str:
    if search and search.strip():
        understood = understand(search)
        dates = f" ({understood.describe()})" if understood.dates else ""  # say which days were searched
        return f"No generations match “{search.strip()}”{dates}."
    if archive.trashed():
        return "The history is empty; its trash still holds generations (restore them in History)."
    return "The history is empty."
