"""`studio run` stops on a signal at any moment, also while it is starting: `app/serve.py` catches the stop
signals before uvicorn does (to swallow the one uvicorn re-raises on its way out) and must not swallow one
that arrives before uvicorn has taken them over."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.browser.browser import free_port
from tests.service.test_polite_stop import stop_group, studio_env

SIGTERM_BIT = 1 << (signal.SIGTERM - 1)


def _catches_sigterm(pid: int) -> bool:
    """True once the process has a handler for SIGTERM (``SigCgt`` in /proc: the default has none)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught, 16) & SIGTERM_BIT)


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as reply:
            return reply.status == 200
    except OSError:
        return False


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_while_studio_run_starts_ends_it(tmp_path, signum):
    port = free_port()
    log = tmp_path / "studio-run.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "studio", "run", "--port", str(port), "--demo"],
            env=studio_env(tmp_path, None),
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    try:
        # the moment `studio run` has its own handler in place, long before the server answers
        deadline = time.monotonic() + 60
        while not _catches_sigterm(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert proc.poll() is None, log.read_text(errors="replace")
        early = not _healthy(port)
        proc.send_signal(signum)
        try:
            status = proc.wait(timeout=60)  # it ends by itself
        except subprocess.TimeoutExpired:
            pytest.fail(f"`studio run` kept running after {signum.name}:\n{log.read_text(errors='replace')}")
        assert early, "the server answered before the signal was sent: the test missed the window"
        assert status == 128 + signum, log.read_text(errors="replace")
        assert not _healthy(port)
        assert "Traceback" not in log.read_text(errors="replace")
    finally:
        stop_group(proc)
