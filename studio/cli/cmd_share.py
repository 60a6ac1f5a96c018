"""`studio share COLLECTION`: a client link to one collection; `studio share --revoke URL` stops one.

The link opens a read-only page without sign-in showing only that collection's images (prompts only with
``--prompts``); with ``--feedback`` visitors may approve and comment under a name they type. It expires after
``--days`` days (default 14). Designers and admins only (a reviewer: exit 1). A collection that is not there,
or a URL that is not a working link of this studio: exit 2. In team mode it acts for STUDIO_USER.
"""

from __future__ import annotations

import argparse
from typing import Any

from studio.cli.output import print_revoked, print_shared_link
from studio.domain.errors import InputError
from studio.services.archive import open_archive


def _days(text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days (write 7 or 30)") from None
    if value < 1:
        raise argparse.ArgumentTypeError("a link lasts at least 1 day")
    return value


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "share",
        help="make a client link to a collection (or --revoke one)",
        description="Make a link that opens one collection without sign-in: its images (and, with "
        "--prompts, their prompts), never the rest of the studio. Prints the URL and when it expires.",
        epilog='Examples: studio share "Spring moodboard" --days 7 --feedback; '
        "studio share --revoke 'http://studio.example.com/?link=…'",
    )
    p.add_argument("collection", nargs="?", metavar="COLLECTION", help="the collection's name or id")
    p.add_argument(
        "--days",
        type=_days,
        default=14,
        metavar="N",
        help="how long the link works (default 14, at most 365)",
    )
    p.add_argument("--feedback", action="store_true", help="let visitors approve and comment, under a name")
    p.add_argument("--prompts", action="store_true", help="show the prompts too (hidden by default)")
    p.add_argument("--revoke", default=None, metavar="URL", help="stop this link working (its URL or token)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    if args.revoke is not None:
        if args.collection is not None:
            raise InputError("Give either a collection to share or --revoke URL, not both.")
        with open_archive() as archive:
            archive.revoke(args.revoke)
        print_revoked(as_json=args.json)
        return 0
    if args.collection is None:
        raise InputError("Name the collection to share (its name or id), or --revoke URL to stop a link.")
    with open_archive() as archive:
        link = archive.share(
            args.collection, days=args.days, feedback=args.feedback, include_prompts=args.prompts
        )
    print_shared_link(link, days=args.days, as_json=args.json)
    return 0
