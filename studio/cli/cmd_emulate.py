"""`studio emulate`: the built-in emulator of the Gemini endpoint (its own options: studio.emulator)."""

from __future__ import annotations

import argparse
from typing import Any

from studio import emulator


def add_parser(sub: Any) -> None:
    emu = sub.add_parser(
        "emulate",
        help="run the built-in emulator of the Gemini endpoint (a DEMO server)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=emulator.__doc__,
    )
    emulator.add_arguments(emu)


def run(args: argparse.Namespace) -> int:
    return emulator.run(args)
