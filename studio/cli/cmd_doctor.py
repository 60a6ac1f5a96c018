"""`studio doctor [--repair] [--json]`: check (and repair) the history and its files (services.doctor).

Exit status: 0 when healthy (or everything was repaired), 1 when problems remain or the doctor could not
look.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from studio.cli import output
from studio.domain.errors import StudioError
from studio.domain.settings import load_places
from studio.services import doctor


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("doctor", help="check (and --repair) the history and its files")
    parser.add_argument(
        "--repair",
        action="store_true",
        help="back up the database, then adopt or interrupt orphan rows, remake thumbnails and "
        "move unplaceable files to quarantine (never deletes an image or a row)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="data directory (default: STUDIO_DATA_DIR or ~/.local/share/studio)",
    )


def run(args: argparse.Namespace) -> int:
    # Not load_settings(): the doctor must run even when another STUDIO_* setting is broken.
    try:
        places = load_places()
        database = places.database_url.get() if places.database_url is not None else None
        report = doctor.check(
            args.data_dir or places.data_dir,
            repair=args.repair,
            database_url=database,
            storage_url=places.storage_url,
            s3_endpoint_url=places.s3_endpoint_url,
        )
    except StudioError as exc:
        output.print_doctor_failure(exc, as_json=args.json)
        return 1
    output.print_doctor_report(report, as_json=args.json)
    return 0 if report.ok else 1
