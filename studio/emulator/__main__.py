"""``python -m studio.emulator``: the same as ``studio emulate``."""

from __future__ import annotations

from studio.emulator.cli import main

raise SystemExit(main())
