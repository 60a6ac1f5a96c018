"""`studio users`: the people of a team studio (add, change, list).

The operator's command: whoever holds the database's credentials (the data directory, or
``STUDIO_DATABASE_URL``) runs it without ``STUDIO_USER``; that is how the first admin is made. Every change
is written to the audit log as "operator".
"""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from studio.cli.output import print_activity, print_people, print_person_change
from studio.domain.errors import InputError
from studio.domain.people import ROLES, UNSET, Unset
from studio.domain.settings import load_settings
from studio.services.accounts import operator_people


def _usd(text: str) -> float:
    try:
        value = float(text.strip().lstrip("$"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of US dollars (write 20 or 12.50)"
        ) from None
    if value != value or value < 0:
        raise argparse.ArgumentTypeError("a budget is zero or more US dollars")
    return value


def _usd_or_none(text: str) -> float | None:
    """``--budget none`` removes the personal cap."""
    return None if text.strip().lower() in ("none", "no", "off", "unlimited") else _usd(text)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day (write it as 2026-11-30)") from None


def add_parser(sub: Any) -> None:
    users = sub.add_parser(
        "users",
        help="add, change and list the people of a team studio (the operator's command)",
        description="The people of a team studio (STUDIO_LOGIN=oidc or proxy). Run by whoever holds the "
        "database's credentials; needs no STUDIO_USER. Changes are written to the audit log as 'operator'.",
        epilog="Make the first admin: studio users add you@example.com --role admin",
    )
    verbs = users.add_subparsers(dest="users_command", required=True, metavar="{add,set,list,log}")
    add = verbs.add_parser("add", help="add a member", description="Add a member of the studio.")
    add.add_argument("email", metavar="EMAIL")
    add.add_argument("--role", choices=ROLES, default="designer", help="what they may do (default designer)")
    add.add_argument(
        "--budget", type=_usd, default=None, metavar="USD", help="their monthly budget (default: no cap)"
    )

    change = verbs.add_parser(
        "set", help="change a member", description="Change a member's role, budget, or disable them."
    )
    change.add_argument("email", metavar="EMAIL")
    change.add_argument("--role", choices=ROLES, default=None)
    change.add_argument(
        "--budget",
        type=_usd_or_none,
        default=UNSET,
        metavar="USD|none",
        help="their monthly budget in US dollars; none removes the cap",
    )
    state = change.add_mutually_exclusive_group()
    state.add_argument(
        "--disable",
        dest="disabled",
        action="store_const",
        const=True,
        default=None,
        help="stop them signing in",
    )
    state.add_argument(
        "--enable", dest="disabled", action="store_const", const=False, help="let them back in"
    )

    listing = verbs.add_parser("list", help="list the members", description="List the members, by email.")
    listing.add_argument("--json", action="store_true", help="one JSON array")

    log = verbs.add_parser(
        "log",
        help="the audit log (who added or changed whom; tags, collections, trash)",
        description="The audit log, newest first.",
    )
    log.add_argument("--since", type=_day, default=None, metavar="YYYY-MM-DD", help="from this day (UTC)")
    log.add_argument("--until", type=_day, default=None, metavar="YYYY-MM-DD", help="to this day, included")
    log.add_argument(
        "--actor", default=None, metavar="EMAIL", help='only what this person (or "operator") did'
    )
    log.add_argument("--action", default=None, metavar="PREFIX", help='only these actions, e.g. "users."')
    log.add_argument("--limit", type=int, default=100)
    log.add_argument("--json", action="store_true", help="one JSON array")


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    with operator_people(settings) as people:
        if args.users_command == "add":
            person = people.add(args.email, role=args.role, budget_usd=args.budget)
            print_person_change("Added", person)
        elif args.users_command == "set":
            budget: float | None | Unset = args.budget
            if args.role is None and isinstance(budget, Unset) and args.disabled is None:
                raise InputError("Say what to change: --role, --budget, --disable or --enable.")
            person = people.set(args.email, role=args.role, budget_usd=budget, disabled=args.disabled)
            print_person_change("Changed", person)
        elif args.users_command == "log":
            if args.limit < 1:
                raise InputError("--limit must be at least 1")
            lines = people.activity(
                since=args.since,
                until=args.until,
                actor=args.actor,
                action_prefix=args.action,
                limit=args.limit,
            )
            print_activity(lines, as_json=args.json)
        else:
            members = people.list()
            spent = people.spent_this_month() if members else {}
            print_people(members, as_json=args.json, team_mode=settings.team_mode, spent=spent)
    return 0
