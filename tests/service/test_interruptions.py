"""Work a stopped studio left unfinished (service level): which rows are offered, Retry sends each once,
Dismiss is kept in the database. The UI side is in tests/app/test_interrupted_notice.py."""

from __future__ import annotations

import threading
import uuid

import pytest

from studio.domain.errors import ConfigError, StudioError
from studio.domain.requests import GenerationRequest
from studio.domain.settings import load_settings
from studio.services.studio import Studio
from studio.storage import Store, migrations
from tests.stores import legacy_row

MODEL = "gemini-2.5-flash-image"
DEAD = "a-stopped-host:1:gone"  # another host's owner: a starting studio counts it as dead


def _left_behind(store: Store, prompt: str, **request) -> int:
    """A pending row as a studio that stopped before finishing it leaves behind."""
    req = GenerationRequest(prompt=prompt, model=MODEL, **request)
    return store.generations.create_pending(
        prompt=prompt, model=MODEL, settings=req.settings() | {"reference_roles": []}, owner=DEAD
    )


def _start() -> Studio:
    return Studio(load_settings())


def _sent(emulator, marker: str) -> int:
    return sum(1 for r in list(emulator.requests) if marker in str(r.get("body")))


def test_a_retry_is_sent_once_however_often_and_wherever_it_is_asked(studio_env):
    marker = uuid.uuid4().hex
    store = Store(load_settings().data_dir)
    ids = [_left_behind(store, f"a kite {marker} {n}") for n in range(2)]
    store.close()
    studio = _start()
    try:
        assert studio.interrupted_on_start == ids and studio.interrupted_work() == ids
        results: list[list[int]] = []
        clicks = [
            threading.Thread(target=lambda: results.append(studio.retry_interrupted(ids))) for _ in range(4)
        ]
        for click in clicks:  # a double click, or two tabs, at the same moment
            click.start()
        for click in clicks:
            click.join()
        sent = [gen_id for result in results for gen_id in result]
        assert len(sent) == 2 and studio.retry_interrupted(ids) == []
        assert [r.status for r in studio.wait(sent, timeout=20)] == ["succeeded", "succeeded"]
        assert _sent(studio_env, marker) == 2
        assert studio.interrupted_work() == []
        assert [studio.get(i).status for i in ids] == [
            "interrupted",
            "interrupted",
        ]  # the history is untouched
    finally:
        studio.close()


def test_a_retry_keeps_the_seed_of_each_variant(studio_env):
    store = Store(load_settings().data_dir)
    first = _left_behind(store, "two pears", seed=40, variants=2)
    second = store.generations.create_pending(
        prompt="two pears",
        model=MODEL,
        owner=DEAD,
        variant_index=1,
        settings=GenerationRequest(prompt="two pears", model=MODEL, seed=40, variants=2).settings()
        | {"reference_roles": []},
    )
    store.close()
    studio = _start()
    try:
        sent = studio.retry_interrupted([first, second])
        assert [r.settings["seed"] for r in studio.wait(sent, timeout=20)] == [40, 41]
    finally:
        studio.close()


def test_only_work_interrupted_by_a_stop_is_offered(studio_env):
    store = Store(load_settings().data_dir)
    stopped, trashed, cancelled = (_left_behind(store, name) for name in ("stopped", "trashed", "cancelled"))
    store.generations.set_status(cancelled, "cancelled", error=StudioError("Cancelled."))
    store.close()
    studio = _start()
    try:
        studio._store.trash_bin.trash([trashed])
        assert studio.interrupted_work() == [stopped]
    finally:
        studio.close()


def test_dismiss_is_kept_for_every_later_start(studio_env):
    store = Store(load_settings().data_dir)
    ids = [_left_behind(store, f"a shell {n}") for n in range(3)]
    store.close()
    studio = _start()
    try:
        assert studio.dismiss_interrupted(ids[:2]) == 2
        assert studio.dismiss_interrupted(ids[:2]) == 0
        assert studio.interrupted_work() == ids[2:]
        assert studio.retry_interrupted(ids[:2]) == []  # dismissed: Retry from a stale page sends nothing
    finally:
        studio.close()
    again = _start()
    try:
        assert again.interrupted_work() == ids[2:]
        assert {again.get(i).status for i in ids} == {"interrupted"}
    finally:
        again.close()


def test_a_retry_that_cannot_be_sent_stays_offered(studio_env, monkeypatch):
    store = Store(load_settings().data_dir)
    gen_id = _left_behind(store, "a quiet pond")
    store.close()
    monkeypatch.delenv("STUDIO_API_KEY")
    keyless = _start()
    try:
        with pytest.raises(ConfigError):
            keyless.retry_interrupted([gen_id])
        assert keyless.interrupted_work() == [gen_id]
    finally:
        keyless.close()


def test_rows_interrupted_before_the_upgrade_are_not_offered(studio_env, monkeypatch):
    data_dir = load_settings().data_dir
    with monkeypatch.context() as old:  # the studio before notices: schema 4
        old.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:4])
        old.setattr(migrations, "LATEST", 4)
        Store(data_dir).close()
    # rows as schema 4 wrote them (today's ORM names columns that schema did not have)
    long_ago = legacy_row(data_dir / "studio.db", "stopped months ago", status="interrupted", owner=DEAD)
    in_flight = legacy_row(data_dir / "studio.db", "in flight when the old version stopped", owner=DEAD)
    studio = _start()  # the upgrade: migration 5, then the start resolves what was in flight
    try:
        assert studio.get(long_ago).status == "interrupted"
        assert studio.interrupted_on_start == [in_flight]
        assert studio.interrupted_work() == [in_flight]
    finally:
        studio.close()
