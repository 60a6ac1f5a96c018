"""One file name, one module: a name that repeats across packages (storage/gallery.py beside
services/gallery.py) makes a traceback, a search or an editor tab ambiguous."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import studio

# Names that repeat on purpose:
ALLOWED = {
    "__init__.py",  # every package has one
    "__main__.py",  # `python -m studio` and `python -m studio.emulator`
    "main.py",  # the entry of the app and of the CLI, each inside its own package
    "settings.py",  # domain/settings.py is the configuration; app/screens/settings.py is the Settings page,
    # whose file name is its URL (/settings), which is a public contract
    "ruff.toml",  # each package's banned imports
}


def test_no_module_basename_repeats_across_packages() -> None:
    root = Path(studio.__file__).parent
    where: dict[str, list[str]] = defaultdict(list)
    for path in sorted(root.rglob("*")):
        if path.suffix in (".py", ".toml") and "__pycache__" not in path.parts:
            where[path.name].append(str(path.relative_to(root)))
    repeated = {name: paths for name, paths in where.items() if len(paths) > 1 and name not in ALLOWED}
    assert repeated == {}
