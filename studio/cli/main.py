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

from studio.cli import cmd_batch, cmd_doctor, cmd_emulate, cmd_exchange, cmd_generate, cmd_history, cmd_run
from studio.cli.cmd_copy import add_parser as add_copy_parser
from studio.cli.cmd_copy import run as run_copy
from studio.cli.cmd_run import STREAMLIT_FLAGS
from studio.cli.output import print_record
from studio.domain.errors import InputError, StudioError

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
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="studio", description="Generate, iterate on and review images with Gemini."
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
    ):
        add(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except InputError as exc:  # bad usage: nothing was written or sent
        print(f"studio: {exc}", file=sys.stderr)
        return 2
    except StudioError as exc:
        print(f"studio: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


__all__ = ["COMMANDS", "STREAMLIT_FLAGS", "main", "print_record"]

if __name__ == "__main__":
    sys.exit(main())
