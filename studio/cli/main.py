"""The `studio` command: start the UI, run the emulator, generate and browse from a terminal.

Exit codes: 0 when every generation produced an image, 1 otherwise, 2 for bad usage (an unknown model, a
request the model does not accept, an id that is not in the history), with nothing written or sent; 130 (SIGINT)
or 143 (SIGTERM) when a stop signal ended it, after the calls already sent were saved (studio.lifecycle).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from studio.domain import catalogue
from studio.domain.errors import InputError, StudioError
from studio.domain.requests import SUCCEEDED, GenerationRequest
from studio.domain.settings import load_settings
from studio.services import lifecycle

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


class UsageError(Exception):
    """Bad command-line usage (exit status 2)."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="studio", description="Generate, iterate on and review images with Gemini."
    )
    sub = p.add_subparsers(dest="command", required=True)

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

    from studio import emulator

    emu = sub.add_parser(
        "emulate",
        help="run the built-in emulator of the Gemini endpoint (a DEMO server)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=emulator.__doc__,
    )
    emulator.add_arguments(emu)

    gen = sub.add_parser("generate", help="generate images from a prompt and wait for them")
    gen.add_argument("prompt")
    gen.add_argument(
        "--model",
        default=catalogue.DEFAULT_MODEL,
        help='a model id, display name or alias, any case: gemini-3-pro-image, "Nano Banana Pro", '
        f"nano-banana-pro (default {catalogue.DEFAULT_MODEL})",
    )
    gen.add_argument("--aspect", default=None, help="aspect ratio, e.g. 16:9")
    gen.add_argument("--size", default=None, help="image size: 512, 1K, 2K or 4K (what the model accepts)")
    gen.add_argument("--ref", action="append", default=[], type=Path, help="reference image (repeatable)")
    gen.add_argument("--variants", type=int, default=1, help="1-8 images, run in parallel")
    gen.add_argument("--text", action="store_true", help="ask for text and image (default: image only)")
    gen.add_argument("--seed", type=int, default=None)
    gen.add_argument("--demo", action="store_true", help="use the built-in emulator instead of the endpoint")
    gen.add_argument("--json", action="store_true", help="print one JSON object per generation per line")

    hist = sub.add_parser("history", help="list generations, newest first")
    hist.add_argument("--search", default=None)
    hist.add_argument("--limit", type=int, default=20)
    hist.add_argument("--json", action="store_true")

    from studio.services import batch, doctor, exchange

    batch.add_arguments(sub.add_parser("batch", help="run a CSV or JSON Lines file of prompts (resumable)"))
    doctor.add_arguments(sub.add_parser("doctor", help="check (and --repair) the history and its files"))
    exchange.add_export_arguments(
        sub.add_parser("export", help="export generations as a ZIP with manifest.json")
    )
    exchange.add_import_arguments(sub.add_parser("import", help="import a ZIP made by `studio export`"))
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"studio: {exc}", file=sys.stderr)
        return 2
    except InputError as exc:
        print(f"studio: {exc}", file=sys.stderr)
        return 2
    except StudioError as exc:
        print(f"studio: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def cmd_run(args) -> int:
    if args.demo:
        os.environ["STUDIO_DEMO"] = "1"
    flags = {**STREAMLIT_FLAGS, "server.port": str(args.port), "server.address": args.host}
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"studio: listening on {args.host}: anyone who can reach this machine can use the studio "
            "and spend your key's credit.",
            file=sys.stderr,
        )
    # The server runs in this process, not a child: a stop signal reaches the process that holds the paid
    # calls, which waits for them and saves them before it exits (studio.lifecycle).
    from studio.app import serve

    return serve.run(["run", str(APP)] + [f"--{k}={v}" for k, v in flags.items()])


def cmd_emulate(args) -> int:
    from studio import emulator

    return emulator.run(args)


def _open(demo: bool):
    from studio.services.studio import Studio

    settings = load_settings()
    if demo:
        settings = settings.with_(demo=True)
    return Studio(settings)


def _load_refs(paths: list[Path]):
    from studio.imaging import images

    refs = []
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read reference image {path}: {exc.strerror}") from None
        refs.append(images.sanitize_upload(data, path.name))
    return tuple(refs)


def cmd_generate(args) -> int:
    req = GenerationRequest(
        prompt=args.prompt,
        model=catalogue.resolve_model(args.model),
        aspect_ratio=args.aspect,
        image_size=args.size,
        modalities=("TEXT", "IMAGE") if args.text else ("IMAGE",),
        references=_load_refs(args.ref),
        variants=args.variants,
        seed=args.seed,
    )
    catalogue.validate(req)  # the one rule, before anything is opened: exit 2, no row written, nothing sent
    studio = _open(args.demo)  # STUDIO_DEMO itself is read by load_settings
    with lifecycle.polite_stop() as stop:  # a stop signal waits for the paid calls and saves them
        try:
            records = studio.generate(req)
        finally:
            studio.close()
    for record in records:
        print_record(record, as_json=args.json)
    return stop.exit_status(0 if records and all(r.status == SUCCEEDED for r in records) else 1)


def cmd_history(args) -> int:
    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    from studio.storage import Store

    store = Store(load_settings().data_dir)
    try:
        records = store.page(search=args.search, limit=args.limit)
        for record in records:
            print_record(record, as_json=args.json)
        if not records and not args.json:  # --json keeps its contract: one object per generation, so nothing
            print(_no_history(store, args.search))
    finally:
        store.close()
    return 0


def _no_history(store, search: str | None) -> str:
    if search and search.strip():
        return f"No generations match “{search.strip()}”."
    from studio.storage import GalleryFilter

    if store.count(GalleryFilter(deleted=True)):
        return "The history is empty; its trash still holds generations (restore them in History)."
    return "The history is empty."


def print_record(record, *, as_json: bool, out=None) -> None:
    """One generation on stdout: the public ``--json`` shape, or a line for people."""
    if as_json:
        print(json.dumps(record.to_json(), ensure_ascii=False), file=out, flush=True)
        return
    line = f"#{record.id} {record.status:<11} {record.model}  {record.prompt[:60]!r}"
    for image in record.images:
        line += f"\n    {image.path} ({image.width}x{image.height} {image.mime_type})"
    if record.error_message and record.status != SUCCEEDED:
        line += f"\n    {record.error_message}"
    print(line, file=out, flush=True)


def _lazy(module: str, function: str):
    def call(args) -> int:
        import importlib

        return getattr(importlib.import_module(module), function)(args)

    return call


COMMANDS = {
    "run": cmd_run,
    "emulate": cmd_emulate,
    "generate": cmd_generate,
    "history": cmd_history,
    "batch": _lazy("studio.services.batch", "run"),
    "doctor": _lazy("studio.services.doctor", "run"),
    "export": _lazy("studio.services.exchange", "run_export"),
    "import": _lazy("studio.services.exchange", "run_import"),
}

if __name__ == "__main__":
    sys.exit(main())
