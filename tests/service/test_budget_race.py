"""The issue's budget race: 12 `studio generate` processes at once against a budget that fits 5, on SQLite
and on PostgreSQL. The requests are counted where they land, at the emulator: at most 5 (exactly 5 here, as
each call costs exactly its estimate); the other 7 end ``refused`` (error kind ``budget``) with exit 1.

Each process imports the studio first, says it is ready, then waits for one barrier file, so that all 12
open the history and submit within the same moment. The emulator answers slowly (``latency``), so every
reservation is still active while the others are checked: the estimates, not the settled costs, hold the
line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio.domain import catalogue
from studio.domain.settings import load_settings
from studio.emulator import Emulator
from studio.services.accounts import operator_people
from tests.service.test_polite_stop import sent
from tests.stores import db_execute, open_store

ROOT = Path(__file__).resolve().parents[2]
PROCESSES, FITS = 12, 5
MODEL = "gemini-2.5-flash-image"
PROMPT = "budget race teapot"

SCRIPT = """
import sys, time
from pathlib import Path
from studio.cli import cmd_generate
from studio.cli.main import main
from studio.services.studio import open_studio

# The studio is opened before the start line (opening registers a lease and looks for orphans, which takes
# each process a different time); `studio generate` then runs as it always does, on that studio.
opened = open_studio()
cmd_generate.open_studio = lambda demo=False: opened
ready, go = Path(sys.argv[1]), Path(sys.argv[2])
ready.touch()
deadline = time.monotonic() + 120
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.001)
sys.exit(main(["generate", sys.argv[3], "--model", sys.argv[4], "--json"]))
"""


def wait_for(condition, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def slow_emulator():
    with Emulator(port=0, latency=0.8) as emu:
        yield emu


@pytest.mark.parametrize("cap", ["person", "team"])
def test_twelve_processes_against_a_budget_that_fits_five(backend, cap, slow_emulator, tmp_path):
    """``person``: a team studio (sign-in by proxy), all 12 acting for one designer (``STUDIO_USER``) whose
    budget fits 5; ``team``: no sign-in, ``STUDIO_TEAM_BUDGET`` fits 5."""
    data = tmp_path / "data"
    estimate = catalogue.estimate(MODEL, size=None, ratio=None, prompt_chars=len(PROMPT)).usd
    budget = round(FITS * estimate + estimate / 2, 4)
    shared = ("STUDIO_DATABASE_URL", "STUDIO_STORAGE_URL", "STUDIO_S3_ENDPOINT_URL")  # the backend's
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_") or k in shared}
    env.update(
        STUDIO_DATA_DIR=str(data),
        STUDIO_BASE_URL=slow_emulator.url,
        STUDIO_API_KEY="test-key",
        STUDIO_AUTH="bearer",
        PYTHONPATH=str(ROOT),
    )
    if cap == "team":
        env.update(STUDIO_TEAM_BUDGET=str(budget))
        open_store(data).close()  # the history exists and is migrated: the race is the submissions
        whose = "this studio's"
    else:
        env.update(
            STUDIO_LOGIN="proxy", STUDIO_PROXY_SECRET="s3cret-for-the-race", STUDIO_USER="ann@studio.test"
        )
        with operator_people(load_settings(env=env)) as people:
            people.add("ann@studio.test", budget_usd=budget)
        whose = "your"
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, str(tmp_path / f"ready-{i}"), str(go), PROMPT, MODEL],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(PROCESSES)
    ]
    try:
        wait_for(
            lambda: all((tmp_path / f"ready-{i}").exists() for i in range(PROCESSES)), "12 ready processes"
        )
        go.touch()
        results = [proc.communicate(timeout=120) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    codes = sorted(proc.returncode for proc in procs)
    assert codes == [0] * FITS + [1] * (PROCESSES - FITS), results
    assert len(sent(slow_emulator, PROMPT)) == FITS  # counted where the money would be spent

    store = open_store(data)
    try:
        rows = db_execute(
            store, "SELECT status, error_kind, count(*) FROM generation GROUP BY status, error_kind"
        )
        assert sorted(rows) == [("refused", "budget", PROCESSES - FITS), ("succeeded", None, FITS)]
        spent = db_execute(store, "SELECT sum(cost_usd) FROM generation")[0][0]
        assert spent <= budget
    finally:
        store.close()
    refused = [
        json.loads(out.splitlines()[-1])
        for proc, (out, _) in zip(procs, results, strict=True)
        if proc.returncode == 1
    ]
    assert [(r["status"], r["error"]["kind"]) for r in refused] == [("refused", "budget")] * (
        PROCESSES - FITS
    )
    assert all(f"is left of {whose} ${budget:.2f} budget" in r["error"]["message"] for r in refused)
