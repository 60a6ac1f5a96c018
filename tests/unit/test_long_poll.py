"""The Generate feed's long poll: ``JobRunner.wait_any`` answers a finished job at once and gives way when
the caller says it has other work; ``progress.browser_asks`` reads the request Streamlit keeps for a run
(a click, a fragment's tick) while the current one is running."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest
from streamlit.runtime.scriptrunner_utils.script_requests import RerunData, ScriptRequests

from studio.app.widgets import progress
from studio.services.jobs import JobRunner


@pytest.fixture
def runner():
    jobs = JobRunner(workers=4)
    yield jobs
    jobs.shutdown(wait=False)


def _job(release: threading.Event):
    return lambda cancel, report: release.wait(10)


def test_wait_any_returns_when_the_first_of_several_jobs_finishes(runner):
    first, second = threading.Event(), threading.Event()
    runner.submit(1, _job(first))
    runner.submit(2, _job(second))
    threading.Timer(0.2, first.set).start()
    runner.wait_any([1, 2], timeout=10)
    assert not runner.is_active(1)  # it returned because #1 finished ...
    assert runner.is_active(2)  # ... not because both did, nor because the cap passed
    second.set()


def test_wait_any_gives_way_when_the_caller_has_other_work(runner):
    release = threading.Event()
    runner.submit(1, _job(release))
    asked = threading.Event()
    threading.Timer(0.2, asked.set).start()
    runner.wait_any([1], timeout=10, interrupted=asked.is_set)
    assert asked.is_set() and runner.is_active(1)  # it gave way, the job still runs
    release.set()


def test_wait_any_waits_out_its_cap_and_ignores_unknown_or_finished_jobs(runner):
    release = threading.Event()
    runner.submit(1, _job(release))
    started = time.monotonic()
    runner.wait_any([1], timeout=0.3)
    assert time.monotonic() - started >= 0.3 and runner.is_active(1)
    runner.wait_any([99], timeout=30)  # nothing to wait for: returns at once (the test would hang otherwise)
    release.set()
    runner.wait([1], timeout=10)
    runner.wait_any([1], timeout=30)  # already finished: at once


def test_browser_asks_reads_the_request_streamlit_keeps_for_the_next_run(monkeypatch):
    requests = ScriptRequests()
    ctx = SimpleNamespace(script_requests=requests)
    monkeypatch.setattr(progress, "get_script_run_ctx", lambda: ctx)
    assert progress.browser_asks() is False  # nothing asked: the poll keeps waiting
    assert requests.request_rerun(RerunData(fragment_id="tick"))
    assert progress.browser_asks() is True  # a fragment's tick (or a click) is waiting: give way
    requests.on_scriptrunner_ready()  # the runner takes the request: nothing pending again
    assert progress.browser_asks() is False
    monkeypatch.setattr(progress, "get_script_run_ctx", lambda: None)  # outside a run (a thread, a test)
    assert progress.browser_asks() is False
