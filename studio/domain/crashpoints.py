"""Named crash points for the crash-safety tests.

``crashpoint(name)`` kills the own process with SIGKILL when ``STUDIO_CRASH_AT`` equals ``name`` and does
nothing otherwise (one environment lookup). SIGKILL, not an exception: no ``finally`` block, no atexit
handler and no SQLite rollback runs, exactly as when the machine loses power or the OOM killer strikes.

Points, in the order a generation passes them: ``before_call`` (pending row committed, request not sent),
``after_response`` (answer parsed, nothing written), ``after_files`` (image files fsynced, no journal),
``after_journal`` (adoption journal written, row not committed), ``after_commit`` (row committed,
journal not yet removed).
"""

from __future__ import annotations

import os
import signal

ENV = "STUDIO_CRASH_AT"
POINTS = ("before_call", "after_response", "after_files", "after_journal", "after_commit")


def crashpoint(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
