"""Write paths that relied on SQLite's single writer, run concurrently against a real PostgreSQL (READ
COMMITTED) from several stores at once (each its own pool, as several studio processes would be)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from studio.domain.errors import InputError
from studio.storage import Store
from studio.storage.filter_sql import GalleryFilter

N = 8


@pytest.fixture
def stores(tmp_path: Path, pg_server, pg_template):
    url = pg_server.create_database(template=pg_template)
    opened = [Store(tmp_path / f"p{i}", database_url=url) for i in range(3)]
    yield opened
    for s in opened:
        s.close()
    pg_server.drop_database(url.rsplit("/", 1)[1])


def at_once(fn: Callable[[int], Any], n: int = N) -> tuple[list[Any], list[BaseException]]:
    """Run ``fn(i)`` for i < n on n threads released together."""
    barrier = threading.Barrier(n)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results.append(fn(i))
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def pending(store: Store, prompt: str = "a red cat") -> int:
    return store.generations.create_pending(
        prompt=prompt, model="m", settings={"aspect_ratio": "1:1"}, owner="proc-1"
    )


def test_new_tag_from_many_writers_is_one_tag(stores: list[Store]) -> None:
    gens = [pending(stores[0]) for _ in range(N)]
    added, errors = at_once(lambda i: stores[i % 3].organise.add_tags([gens[i]], ["Fresh", "shared"]))
    assert errors == [] and sum(added) == 2 * N
    assert sorted(stores[1].organise.tags()) == [("Fresh", N), ("shared", N)]


def test_one_collection_name_wins(stores: list[Store]) -> None:
    made, errors = at_once(lambda i: stores[i % 3].organise.create_collection("Moodboard"))
    assert len(made) == 1 and len(errors) == N - 1
    assert all(isinstance(e, InputError) and "already exists" in str(e) for e in errors)


def test_one_template_name_wins(stores: list[Store]) -> None:
    made, errors = at_once(
        lambda i: stores[i % 3].templates.insert(kind="template", name="Shot", body=f"b{i}")
    )
    assert len(made) == 1 and len(errors) == N - 1 and all(isinstance(e, InputError) for e in errors)


def test_counters_and_facets_stay_exact(stores: list[Store]) -> None:
    def work(i: int) -> int:
        s = stores[i % 3]
        gen = pending(s, f"job {i}")
        s.generations.mark_running(gen)
        if i % 2:
            s.trash_bin.trash([gen])
        return gen

    gens, errors = at_once(work)
    assert errors == [] and len(gens) == N
    totals = stores[0].gallery.totals()
    assert totals["count"] == N // 2 == stores[0].gallery.count()
    assert stores[0].gallery.count(GalleryFilter(deleted=True)) == N // 2
    assert dict(stores[2].gallery.facets()["status"]) == {"running": N // 2}


def test_interrupt_claims_each_row_once(stores: list[Store]) -> None:
    gens = [pending(stores[0]) for _ in range(N)]
    claimed, errors = at_once(lambda i: stores[i % 3].generations.interrupt_orphans(lambda owner: False), n=6)
    assert errors == []
    flat = [g for batch in claimed for g in batch]
    assert sorted(flat) == gens  # every row once, by exactly one caller


def test_draft_read_modify_write_takes_turns(stores: list[Store]) -> None:
    stores[0].drafts.put("0")

    def bump(i: int) -> None:
        stores[i % 3].drafts.update(lambda body: str(int(body or "0") + 1))

    _, errors = at_once(bump)
    assert errors == [] and stores[1].drafts.get() == str(N)
