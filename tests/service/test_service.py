"""The service end to end over real HTTP: pending rows first, workers, cancel, re-use."""

from __future__ import annotations

import time

import pytest

from studio.domain.errors import ConfigError
from studio.domain.requests import GenerationRequest
from studio.domain.settings import load_settings
from studio.imaging.images import sanitize_upload
from studio.services.studio import Studio
from tests.factories import make_image

pytestmark = pytest.mark.usefixtures("backend")

MODEL = "gemini-2.5-flash-image"


def _wait_status(studio: Studio, gen_id: int, wanted: set[str], timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = studio.get(gen_id).status
        if status in wanted:
            return status
        time.sleep(0.02)
    raise AssertionError(f"generation {gen_id} stayed {studio.get(gen_id).status}")


def test_a_pending_row_exists_before_the_paid_call_returns(studio):
    [gen_id] = studio.submit(GenerationRequest(prompt="a slow fox [[latency:1]]", model=MODEL))
    assert studio.get(gen_id).status in ("pending", "running")
    assert _wait_status(studio, gen_id, {"running"}) == "running"
    [record] = studio.wait([gen_id], timeout=10)
    assert record.status == "succeeded" and record.images
    assert record.images[0].path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert record.latency_ms >= 900 and record.cost_usd == pytest.approx(0.039, abs=0.001)


def test_variants_run_in_parallel_and_differ(studio):
    ids = studio.submit(GenerationRequest(prompt="four foxes [[latency:2]]", model=MODEL, variants=4))
    # Parallel, not queued: at one moment all four calls are in flight (a structural check, not a timing).
    most = 0
    deadline = time.monotonic() + 15
    while most < 4 and time.monotonic() < deadline:
        most = max(most, sum(studio.get(i).status == "running" for i in ids))
        time.sleep(0.02)
    records = studio.wait(ids, timeout=30)
    assert most == 4
    assert [r.status for r in records] == ["succeeded"] * 4
    assert len({r.images[0].sha256 for r in records}) == 4  # no seed: each variant is its own image


def test_cancel_while_the_server_holds_the_request(studio):
    [gen_id] = studio.submit(GenerationRequest(prompt="never mind [[latency:5]]", model=MODEL))
    _wait_status(studio, gen_id, {"running"})
    time.sleep(0.2)
    assert studio.cancel(gen_id)
    [record] = studio.wait([gen_id], timeout=5)
    assert record.status == "cancelled" and record.error_kind == "cancelled"
    assert not studio.cancel(gen_id)  # nothing left to cancel


def test_references_are_sent_stored_and_reused(studio, emulator):
    ref = sanitize_upload(make_image(80, 60), "board.png")
    req = GenerationRequest(
        prompt="use this palette",
        model="gemini-3-pro-image",
        aspect_ratio="16:9",
        image_size="2K",
        references=(ref,),
        modalities=("TEXT", "IMAGE"),
    )
    [record] = studio.generate(req, timeout=20)
    assert record.status == "succeeded" and record.text
    assert (record.images[0].width, record.images[0].height) == (2752, 1536)
    assert [r.sha256 for r in record.references] == [ref.sha256]
    sent = emulator.requests[-1]["body"]["contents"][-1]["parts"]
    assert sent[0] == {"text": "use this palette"} and "inlineData" in sent[1]

    again = studio.request_for(record.id)
    assert (again.prompt, again.model, again.aspect_ratio, again.image_size) == (
        "use this palette",
        "gemini-3-pro-image",
        "16:9",
        "2K",
    )
    assert again.references[0].data == ref.data and again.modalities == ("TEXT", "IMAGE")
    [rerun] = studio.wait(studio.retry(record.id), timeout=20)
    assert rerun.status == "succeeded" and rerun.id != record.id


def test_refusals_and_errors_leave_a_row_with_a_sentence(studio):
    blocked, server = (
        studio.generate(GenerationRequest(prompt=p, model=MODEL), timeout=20)[0]
        for p in ("x [[fault:blocked]]", "y [[fault:500]]")
    )
    assert blocked.status == "blocked" and "blocked" in blocked.error_message
    assert server.status == "failed" and server.error_kind == "server" and "500" in server.error_message


def test_no_key_is_a_config_error_and_records_nothing(studio_env, monkeypatch):
    monkeypatch.delenv("STUDIO_API_KEY")
    studio = Studio(load_settings())
    try:
        with pytest.raises(ConfigError, match="STUDIO_API_KEY"):
            studio.submit(GenerationRequest(prompt="a fox", model=MODEL))
        assert studio.history() == []
    finally:
        studio.close()


def test_rows_of_a_dead_process_become_interrupted_on_start(studio_env):
    first = Studio(load_settings())
    gen_id = first._store.generations.create_pending(
        prompt="lost", model=MODEL, settings={}, owner="somehost:999999:dead"
    )
    first.close()
    second = Studio(load_settings())
    try:
        assert gen_id in second.interrupted_on_start
        assert second.get(gen_id).status == "interrupted"
    finally:
        second.close()


def test_demo_mode_needs_no_key_and_no_network(monkeypatch):
    studio = Studio(load_settings().with_(demo=True))
    try:
        assert studio.is_demo and studio.settings.base_url.startswith("http://127.0.0.1:")
        [record] = studio.generate(GenerationRequest(prompt="offline fox", model=MODEL), timeout=20)
        assert record.status == "succeeded"
    finally:
        studio.close()


def test_wait_with_a_timeout_returns_while_the_job_runs(studio):
    [gen_id] = studio.submit(GenerationRequest(prompt="patience [[latency:2]]", model=MODEL))
    [record] = studio.wait([gen_id], timeout=0.2)
    assert record.status in ("pending", "running") and studio.is_active(gen_id)
    assert studio.cancel(gen_id)
    assert studio.wait([gen_id], timeout=10)[0].status == "cancelled"
