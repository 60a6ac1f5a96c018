"""``studio emulate``: arguments, the fault list in ``--help``, and running the server in the foreground."""

from __future__ import annotations

import argparse
import sys

from studio.emulator.faults import FAULTS
from studio.emulator.server import Emulator
from studio.emulator.signatures import SKIP_SIGNATURE

DEFAULT_PORT = 8765


def _help_epilog() -> str:
    width = max(map(len, FAULTS))
    faults = "\n".join(f"  {name:<{width}}  {text}" for name, text in FAULTS.items())
    return (
        "Images are rendered locally with Pillow; nothing is sent to Google.\n\n"
        "Fault names:\n" + faults + "\n\n"
        "Ways to inject a fault (first match wins):\n"
        "  1. request header   X-Emulator-Fault: NAME\n"
        "  2. prompt token     [[fault:NAME]] anywhere in the last user turn's text;\n"
        "                      [[fault:NAME*K]] fails only the first K requests with that exact prompt\n"
        "  3. server-wide      --fault NAME (repeatable, used in turn) on the first --fault-count\n"
        "                      generate requests, or on all of them without --fault-count\n"
        "Extra latency for one request: [[latency:SECONDS]] in the prompt.\n"
        "Multi-turn on Gemini 3 models checks thoughtSignature; the sentinel\n"
        f"  {SKIP_SIGNATURE} is accepted.\n"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = parser.description or (
        "Serve a local emulator of the Gemini generateContent endpoint (DEMO: images are rendered locally)."
    )
    parser.epilog = _help_epilog()
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any)"
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="sleep before answering each generate call (concurrent calls overlap)",
    )
    parser.add_argument(
        "--key", default=None, help="accept only this API key (default: any non-empty key is accepted)"
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        choices=list(FAULTS),
        metavar="NAME",
        help="server-wide fault, repeatable; names are listed below",
    )
    parser.add_argument(
        "--fault-count",
        type=int,
        default=None,
        metavar="N",
        help="apply --fault only to the first N generate requests (default: all)",
    )
    parser.add_argument(
        "--retry-delay",
        type=float,
        default=1.0,
        metavar="S",
        help="RetryInfo delay in the 429 fault (default 1)",
    )
    parser.add_argument(
        "--stall-seconds",
        type=float,
        default=600.0,
        metavar="S",
        help="how long the stall and stall_body faults hold the connection (default 600)",
    )
    parser.add_argument(
        "--signature-bytes",
        type=int,
        default=4096,
        metavar="N",
        help="size of each thoughtSignature on Gemini 3 models (real ones are ~1 MB)",
    )


def run(args: argparse.Namespace) -> int:
    emulator = Emulator(
        args.host,
        args.port,
        latency=args.latency,
        key=args.key,
        faults=args.fault,
        fault_count=args.fault_count,
        retry_delay=args.retry_delay,
        signature_bytes=args.signature_bytes,
        stall_seconds=getattr(args, "stall_seconds", 600.0),
    )
    try:
        emulator.bind()
    except OSError as exc:
        print(
            f"Cannot listen on {args.host}:{args.port}: {exc.strerror or exc}. Try another --port.",
            file=sys.stderr,
        )
        return 1
    key_hint = "<the --key you chose>" if args.key else "demo"
    print(
        f"Studio emulator (DEMO: images are rendered locally, nothing is sent to Google) on {emulator.url}"
        f" — set STUDIO_BASE_URL={emulator.url} STUDIO_API_KEY={key_hint}",
        flush=True,
    )
    if args.fault:
        print(
            f"Server-wide faults: {', '.join(args.fault)}"
            f"{f' (first {args.fault_count} requests)' if args.fault_count is not None else ''}",
            flush=True,
        )
    print("Press Ctrl-C to stop.", flush=True)
    emulator.log = lambda line: print(line, flush=True)
    try:
        emulator.serve_forever()
    except KeyboardInterrupt:
        print("Stopped.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="studio emulate")
    add_arguments(parser)
    return run(parser.parse_args(argv))
