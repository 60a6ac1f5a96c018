"""`studio collect COLLECTION ID...`: put generations in a collection (``--remove``: take them out).

COLLECTION is a collection's name (any case) or its id; ``--create`` makes it when it is not there. Exit 2,
changing nothing, when an id is not in the history (or not one the caller may see) or the collection is not
there; exit 1 for a caller who may not organise (a reviewer). In team mode it acts for STUDIO_USER.
"""

from __future__ import annotations

import argparse
from typing import Any

from studio.cli.output import print_collect_report
from studio.services.archive import open_archive


def _gen_id(text: str) -> int:
    try:
        value = int(text.strip().lstrip("#"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a generation id (write 12 or #12)") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a generation id (ids start at 1)")
    return value


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "collect",
        help="add generations to a collection (or --remove them)",
        description="Add generations to a collection, or take them out with --remove. COLLECTION is its "
        "name (any case) or its id. An id that is not in the history is named and nothing changes (exit 2).",
        epilog='Examples: studio collect "Spring moodboard" 12 13 14 --create; studio collect 3 14 --remove',
    )
    p.add_argument("collection", metavar="COLLECTION", help="the collection's name or id")
    p.add_argument(
        "ids", nargs="+", type=_gen_id, metavar="ID", help="generation ids (as History shows them)"
    )
    p.add_argument("--remove", action="store_true", help="take the generations out of the collection")
    p.add_argument(
        "--create", action="store_true", help="make the collection when there is none by that name"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    with open_archive() as archive:
        report = archive.collect(args.collection, args.ids, remove=args.remove, create=args.create)
    print_collect_report(report, as_json=args.json)
    return 0
