"""The `studio` command: start the UI, run the emulator, generate and browse from a terminal.

Exit codes: 0 when every generation produced an image, 1 otherwise, 2 for bad usage (an unknown model, a
request the model does not accept, an id that is not in the history), with nothing written or sent; 130 (SIGINT)
or 143 (SIGTERM) when a stop signal ended it, after the calls already sent were saved (services.lifecycle).

Each command is a ``cmd_*`` module with ``add_parser`` and a runner; they call services only and print
through ``cli.output``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from studio.cli import (
    cmd_batch,
    cmd_collect,
    cmd_doctor,
    cmd_emulate,
    cmd_exchange,
    cmd_generate,
    cmd_history,
    cmd_run,
    cmd_share,
    cmd_users,
)
from studio.cli.cmd_copy import add_parser as add_copy_parser
from studio.cli.cmd_copy import run as run_copy
from studio.cli.cmd_run import STREAMLIT_FLAGS
from studio.cli.output import print_record
from studio.domain.errors import InputError, StudioError
from studio.domain.settings import load_settings
from studio.services.accounts import command_actor

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": cmd_run.run,
    "emulate": cmd_emulate.run,
    "generate": cmd_generate.run,
    "history": cmd_history.run,
    "batch": cmd_batch.run,
    "doctor": cmd_doctor.run,
    "export": cmd_exchange.run_export,
    "import": cmd_exchange.run_import,
    "copy-to": run_copy,
    "users": cmd_users.run,
    "collect": cmd_collect.run,
    "share": cmd_share.run,
}

#: Commands that make, read or change the team's work: in team mode (STUDIO_LOGIN oidc or proxy) they act for
#: STUDIO_USER, who must be an enabled member; checked here, before the command writes or sends anything.
TEAM_COMMANDS = frozenset({"generate", "batch", "history", "export", "import", "collect", "share"})
#: The operator's commands: whoever holds the database's credentials (STUDIO_DATABASE_URL, the data
#: directory) runs them without STUDIO_USER, on the whole studio, every person's private work included, as
#: they could with the database itself. (`run` signs each visitor in itself.)
OPERATOR_COMMANDS = frozenset({"users", "doctor", "copy-to", "emulate"})
OPERATOR_NOTE = (
    "An operator's command: in a team studio (STUDIO_LOGIN oidc or proxy) it needs no STUDIO_USER, because "
    "whoever holds the database's credentials (STUDIO_DATABASE_URL, STUDIO_DATA_DIR) can read and change the "
    "whole studio anyway; it acts on every person's work, private work included. Give those credentials only "
    "to the people who run the studio."
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="studio",
        description="Generate, iterate on and review images with Gemini.",
        epilog="In a team studio (STUDIO_LOGIN oidc or proxy), generate, batch, history, export and import act "
        "for STUDIO_USER, an enabled member. users, doctor (--repair too), copy-to and emulate are the "
        "operator's commands: they need the database's credentials, not STUDIO_USER.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    for add in (
        cmd_run.add_parser,
        cmd_emulate.add_parser,
        cmd_generate.add_parser,
        cmd_history.add_parser,
        cmd_batch.add_parser,
        cmd_doctor.add_parser,
        cmd_exchange.add_export_parser,
        cmd_exchange.add_import_parser,
        add_copy_parser,
        cmd_users.add_parser,
        cmd_collect.add_parser,
        cmd_share.add_parser,
    ):
        add(sub)
    for name in OPERATOR_COMMANDS:
        command = sub.choices[name]
        command.epilog = f"{command.epilog}\n\n{OPERATOR_NOTE}" if command.epilog else OPERATOR_NOTE
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    try:
        if args.command in TEAM_COMMANDS:
            command_actor(load_settings())  # NotSignedIn / NotAllowed: exit 1 with the sentence
        return COMMANDS[args.command](args)
    except InputError as exc:  # bad usage: nothing was written or sent
        print(f"studio: {exc}", file=sys.stderr)
        return 2
    except StudioError as exc:
        print(f"studio: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


__all__ = ["COMMANDS", "OPERATOR_COMMANDS", "STREAMLIT_FLAGS", "TEAM_COMMANDS", "main", "print_record"]

if __name__ == "__main__":
    sys.exit(main())
