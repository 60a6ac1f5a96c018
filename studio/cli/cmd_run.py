"""`studio run`: start the studio in the browser."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

APP = Path(__file__).parents[1] / "app" / "main.py"

#: Security-relevant Streamlit options, passed explicitly so they hold from any working directory.
STREAMLIT_FLAGS = {
    "server.headless": "true",
    "server.enableCORS": "true",
    "server.enableXsrfProtection": "true",
    "server.maxUploadSize": "20",
    "server.fileWatcherType": "none",
    "browser.gatherUsageStats": "false",
    "client.showErrorDetails": "none",
    "client.toolbarMode": "minimal",
    "theme.base": "light",
    "theme.primaryColor": "#5b4bdb",
}


def add_parser(sub: Any) -> None:
    run = sub.add_parser("run", help="start the studio in the browser (127.0.0.1 by default)")
    run.add_argument("--port", type=int, default=8501)
    run.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; anything but 127.0.0.1 exposes the studio to your network",
    )
    run.add_argument(
        "--demo",
        action="store_true",
        help="offline demo: a built-in emulator renders images locally, no key needed",
    )


def run(args: argparse.Namespace) -> int:
    if args.demo:
        os.environ["STUDIO_DEMO"] = "1"  # the app's pages open their studio from the environment
    flags = {**STREAMLIT_FLAGS, "server.port": str(args.port), "server.address": args.host}
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"studio: listening on {args.host}: anyone who can reach this machine can use the studio "
            "and spend your key's credit.",
            file=sys.stderr,
        )
    # The server runs in this process, not a child: a stop signal reaches the process that holds the paid
    # calls, which waits for them and saves them before it exits (services.lifecycle). Imported here:
    # Streamlit is slow to import and only this command needs it.
    from studio.app import serve
    from studio.services import leases

    keeper = leases.adopt_in_background()  # adopts what dead processes left, before any page is opened
    try:
        return serve.run(["run", str(APP)] + [f"--{k}={v}" for k, v in flags.items()])
    finally:
        if keeper is not None:
            keeper.stop()
