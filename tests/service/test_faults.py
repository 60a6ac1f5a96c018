"""Every endpoint fault of issue 3 through the service over real HTTP, plus a full disk and a bad data dir.

Each case asserts the history row (status, error kind, a sentence), and counts the requests the
emulator saw: nothing that may have done paid work is retried automatically (goal R6).
"""

from __future__ import annotations

import errno
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from studio.domain.errors import StoreError
from studio.domain.requests import GenerationRequest
from studio.domain.settings import load_settings
from studio.emulator import Emulator
from studio.gemini.client import GeminiClient
from studio.services.studio import Studio
from studio.storage import Store, files

MODEL = "gemini-3.1-flash-image"
ROOT = Path(__file__).resolve().parents[2]


class Harness:
    """A Studio whose client records its back-off sleeps instead of sleeping, and its progress messages."""

    def __init__(self, emulator, **settings) -> None:
        self.emulator = emulator
        self.sleeps: list[float] = []
        self.messages: list[str] = []
        cfg = load_settings().with_(**settings)
        self.studio = Studio(cfg, client=GeminiClient.from_settings(cfg, sleep=self.sleeps.append))
        update = self.studio.jobs._update

        def record(gen_id, **changes):
            if "message" in changes:
                self.messages.append(changes["message"])
            update(gen_id, **changes)

        self.studio.jobs._update = record

    def run(self, text: str):
        marker = uuid.uuid4().hex[:10]
        [record] = self.studio.generate(
            GenerationRequest(prompt=f"{text} {marker}", model=MODEL, image_size="512"), timeout=30
        )
        return record, self.requests(marker)

    def requests(self, marker: str) -> int:
        return sum(1 for r in list(self.emulator.requests) if marker in str(r.get("body")))


@pytest.fixture
def harness(studio_env):
    h = Harness(studio_env)
    yield h
    h.studio.close()


def _sentence(record) -> None:
    assert record.error_message and record.error_message.rstrip().endswith((".", ")", "”")), (
        record.error_message
    )
    assert "Traceback" not in record.error_message


CASES = [  # fault, status, error kind, requests the endpoint saw
    ("400", "failed", "bad_request", 1),
    ("401", "failed", "auth", 1),
    ("403", "failed", "auth", 1),
    ("404", "failed", "model_not_found", 1),
    ("500", "failed", "server", 1),
    ("503", "failed", "server", 3),  # overloaded: nothing was generated, retried twice
    ("429-daily", "failed", "quota", 1),  # waiting does not help: not retried
    ("malformed", "failed", "bad_response", 1),
    ("truncated", "failed", "bad_response", 1),
    ("close", "failed", "bad_response", 1),
    ("relay_error_200", "failed", "model_not_found", 1),  # a relay's "no available channel"
    ("blocked", "blocked", "blocked", 1),
    ("image_safety", "blocked", "blocked", 1),
    ("no_image", "no_image", "no_image", 1),
    ("text_only", "no_image", "no_image", 1),
]


@pytest.mark.parametrize(("fault", "status", "kind", "requests"), CASES, ids=[c[0] for c in CASES])
def test_endpoint_fault_gives_a_row_with_the_right_outcome(harness, fault, status, kind, requests):
    record, seen = harness.run(f"fault case [[fault:{fault}]]")
    assert (record.status, record.error_kind) == (status, kind), record.error_message
    assert seen == requests
    assert not record.images
    _sentence(record)
    assert harness.studio.history(search=record.prompt.split()[-1])[0].id == record.id


def test_429_with_retry_delay_waits_shows_it_and_retries_at_most_twice(harness):
    record, seen = harness.run("quota twice [[fault:429*2]]")
    assert record.status == "succeeded" and seen == 3
    assert harness.sleeps == [pytest.approx(0.2)] * 2  # the emulator's RetryInfo.retryDelay
    waits = [m for m in harness.messages if m.startswith("Quota reached; retrying in")]
    assert [w.endswith(f"(retry {i} of 2).") for i, w in enumerate(waits, 1)] == [True, True]

    record, seen = harness.run("quota always [[fault:429]]")
    assert (record.status, record.error_kind, seen) == ("failed", "quota", 3)
    _sentence(record)


def test_the_user_can_retry_a_failed_generation(harness):
    record, seen = harness.run("flaky once [[fault:500*1]]")
    assert record.status == "failed" and seen == 1
    [again] = harness.studio.wait(harness.studio.retry(record.id), timeout=30)
    assert again.status == "succeeded" and again.id != record.id and again.prompt == record.prompt
    assert harness.requests(record.prompt.split()[-1]) == 2


def test_breaker_opens_after_five_failures_and_the_row_says_calls_are_paused(studio_env):
    h = Harness(studio_env, max_retries=0)
    try:
        for _ in range(5):
            record, seen = h.run("struggling [[fault:500]]")
            assert record.error_kind == "server" and seen == 1
        record, seen = h.run("after the storm")
        assert (record.status, record.error_kind, seen) == ("failed", "circuit_open", 0)
        assert "paused" in record.error_message
        assert h.studio.client.breaker_state.startswith("open")
    finally:
        h.studio.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connect_refused_is_retried_and_recorded(monkeypatch, studio_env):
    monkeypatch.setenv("STUDIO_BASE_URL", f"http://127.0.0.1:{_closed_port()}")
    h = Harness(studio_env)
    try:
        record, _ = h.run("nobody home")
    finally:
        h.studio.close()
    assert (record.status, record.error_kind) == ("failed", "connect")
    assert len(h.sleeps) == 2 and "nothing was billed" in record.error_message  # safe: nothing was sent


def test_connect_timeout_against_a_full_backlog(monkeypatch, studio_env):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)  # never accepts: once the queue is full, new SYNs are dropped
    port = server.getsockname()[1]
    fillers = []
    for _ in range(3):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
        fillers.append(c)
    monkeypatch.setenv("STUDIO_BASE_URL", f"http://127.0.0.1:{port}")
    h = Harness(studio_env, connect_timeout=0.3)
    try:
        record, _ = h.run("slow to answer the phone")
    finally:
        h.studio.close()
        for c in [*fillers, server]:
            c.close()
    assert (record.status, record.error_kind) == ("failed", "connect") and len(h.sleeps) == 2
    _sentence(record)


@pytest.fixture(scope="module")
def slow_emulator():
    emu = Emulator(port=0, stall_seconds=3.0).start()
    yield emu
    emu.stop()


@pytest.mark.parametrize("fault", ["stall", "stall_body", "trickle"])
def test_stalled_and_trickling_answers_are_cut_at_the_deadline(monkeypatch, studio_env, slow_emulator, fault):
    monkeypatch.setenv("STUDIO_BASE_URL", slow_emulator.url)
    h = Harness(slow_emulator, overall_timeout=1.0)
    try:
        record, seen = h.run(f"hold on [[fault:{fault}]]")
    finally:
        h.studio.close()
    assert (record.status, record.error_kind, seen) == ("failed", "timeout", 1)  # may be billed: no retry
    assert "retry from History" in record.error_message and h.sleeps == []


def test_full_disk_fails_the_save_and_keeps_earlier_rows(harness, monkeypatch):
    earlier, _ = harness.run("saved before the disk filled")
    assert earlier.status == "succeeded"

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files, "_write_all", full)
    record, seen = harness.run("no room for this one")
    assert (record.status, record.error_kind, seen) == ("failed", "disk_full", 1)
    assert "is full" in record.error_message and "free some space" in record.error_message
    monkeypatch.undo()
    again = harness.studio.get(earlier.id)
    assert again.status == "succeeded" and again.images[0].path.read_bytes()
    assert not [p for p in (load_settings().data_dir / "images").rglob("*.tmp")]


def test_a_data_dir_that_cannot_be_created(tmp_path, monkeypatch, studio_env):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError) as caught:
        Store(blocker / "data")
    assert "cannot create its data directory" in caught.value.message

    monkeypatch.setenv("STUDIO_DATA_DIR", str(blocker / "data"))
    done = subprocess.run(
        [sys.executable, "-m", "studio", "generate", "a fox"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("studio: The studio cannot create its data directory")
    assert "Traceback" not in done.stderr
