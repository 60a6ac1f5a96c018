"""A studio process killed with SIGKILL while the emulator holds its calls: the history a restart finds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

MODEL, SIZE = "gemini-3.1-flash-image", "512"
ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import sys
from studio.domain.settings import load_settings
from studio.domain.requests import GenerationRequest
from studio.services.studio import Studio
studio = Studio(load_settings())
studio.generate(GenerationRequest(prompt=sys.argv[1], model=%r, image_size=%r, variants=int(sys.argv[2])),
                timeout=120)
""" % (MODEL, SIZE)


def kill_mid_generation(emulator, prompt: str, *, variants: int = 1) -> None:
    """Run ``studio.generate`` in a child process (settings from the environment: the emulator's address,
    a key, ``STUDIO_DATA_DIR``) and SIGKILL it once the emulator holds every variant's call. ``prompt`` must
    be unique and carry a ``[[latency:S]]`` token long enough for the kill to land first."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, prompt, str(variants)],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 60
        while sum(1 for r in list(emulator.requests) if prompt in str(r.get("body"))) < variants:
            if child.poll() is not None:
                raise AssertionError(f"the studio process ended early: {child.stderr.read().decode()}")
            assert time.monotonic() < deadline, "the calls never reached the emulator"
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stderr.close()
