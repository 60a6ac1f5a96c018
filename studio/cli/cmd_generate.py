"""`studio generate PROMPT`: generate images and wait for them."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from studio.cli.output import print_record
from studio.domain import catalogue
from studio.domain.errors import InputError, OverBudget
from studio.domain.requests import SUCCEEDED, GenerationRequest, Reference
from studio.imaging import images
from studio.services import lifecycle
from studio.services.studio import open_studio


def add_parser(sub: Any) -> None:
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


def _load_refs(paths: list[Path]) -> tuple[Reference, ...]:
    refs = []
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read reference image {path}: {exc.strerror}") from None
        refs.append(images.sanitize_upload(data, path.name))
    return tuple(refs)


def run(args: argparse.Namespace) -> int:
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
    studio = open_studio(demo=args.demo)
    with lifecycle.polite_stop() as stop:  # a stop signal waits for the paid calls and saves them
        try:
            try:
                records = studio.generate(req)
            except OverBudget as exc:  # nothing was sent; the history holds one ``refused`` row saying why
                refused = studio.get(exc.generation_id) if exc.generation_id is not None else None
                if refused is None:
                    raise
                records = [refused]
        finally:
            studio.close()
    for record in records:
        print_record(record, as_json=args.json)
    return stop.exit_status(0 if records and all(r.status == SUCCEEDED for r in records) else 1)
