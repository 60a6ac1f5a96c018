"""Only services reach the store (``Studio._store``): the app and the CLI go through the services, so that
per-person permissions can later be applied in one place (ruff bans ``studio.storage`` imports there, but not
an attribute reached through the Studio)."""

from __future__ import annotations

import re
from pathlib import Path

import studio

STORE_ATTRIBUTE = re.compile(r"\.\s*_?store\b")


def test_app_and_cli_never_reach_the_store() -> None:
    root = Path(studio.__file__).parent
    hits = [
        f"{path.relative_to(root)}:{n}: {line.strip()}"
        for package in ("app", "cli")
        for path in sorted((root / package).rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if STORE_ATTRIBUTE.search(line)
    ]
    assert hits == []
