"""`studio copy-to --database URL --storage URL [--json]`: copy the whole studio into another backend
(services.copying): every file checked against its sha256, then every row; idempotent and resumable.

Exit status: 0 when everything is in the target (also when it already was), 1 when a source file failed its
check (named on stderr; no row was written) or the target could not be used, 2 for bad usage (a malformed
URL, the studio's own database as the target).
"""

from __future__ import annotations

import argparse
from typing import Any

from studio.cli import output
from studio.domain.errors import InputError
from studio.services import copying


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "copy-to",
        help="copy this studio (history, images, organisation, templates, runs, drafts) into another "
        "database and storage",
        description="Copy this studio (the one STUDIO_DATA_DIR and STUDIO_DATABASE_URL name) into another database and "
        "storage: every file checked against its sha256 first, then every row. Run it again to finish a "
        "stopped copy or bring over what changed; a second run copies nothing.",
    )
    p.add_argument(
        "--database",
        required=True,
        metavar="URL",
        help="the target's database URL, e.g. postgresql+psycopg://user:pw@db:5432/studio or "
        "sqlite:////path/studio.db (created or upgraded on open)",
    )
    p.add_argument(
        "--storage", required=True, metavar="DIR", help="where the target keeps its images: a folder"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--batch-size",
        type=int,
        default=copying.BATCH,
        metavar="N",
        help="rows per transaction (default %(default)s): a stopped copy loses at most one batch",
    )


def run(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise InputError("--batch-size must be at least 1.")
    report = copying.copy_to(
        args.database, args.storage, batch=args.batch_size, progress=output.copy_progress()
    )
    output.print_copy_report(report, as_json=args.json)
    return 0 if report.ok else 1
