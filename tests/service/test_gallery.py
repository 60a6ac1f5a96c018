"""The gallery side of the store on real SQLite files: filters, facets, totals, organising, trash, lineage."""

from __future__ import annotations

import io
import itertools
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import event

from studio.domain.errors import InputError, StoreError
from studio.domain.requests import ImagePart, Outcome
from studio.imaging import images
from studio.storage import GalleryFilter, Store, settings_diff
from tests.stores import db_execute, is_stored, open_store, stored_keys

pytestmark = pytest.mark.usefixtures("backend")

_colors = itertools.count(1)


def png(color: int | None = None) -> bytes:
    c = next(_colors) if color is None else color
    buf = io.BytesIO()
    Image.new("RGB", (16, 12), (c % 256, (c // 256) % 256, 77)).save(buf, format="PNG")
    return buf.getvalue()


def outcome(*datas: bytes, text: str = "", turn: str = "t") -> Outcome:
    return Outcome(
        images=[ImagePart(d, "image/png") for d in datas],
        text=text,
        finish_reason="STOP",
        usage={"promptTokenCount": 10, "candidatesTokenCount": 100, "totalTokenCount": 110},
        model_content={"role": "model", "parts": [{"text": turn}]},
    )


@pytest.fixture
def store(tmp_path: Path):
    s = open_store(tmp_path / "data")
    yield s
    s.close()


def make(
    store: Store,
    prompt: str = "a red cat",
    *,
    model: str = "m1",
    status: str = "succeeded",
    ratio: str | None = "1:1",
    size: str | None = None,
    data: tuple[bytes, ...] | None = None,
    parent_id: int | None = None,
    references=(),
    cost: float | None = 0.04,
    **settings,
) -> int:
    gen = store.generations.create_pending(
        prompt=prompt,
        model=model,
        owner="test",
        parent_id=parent_id,
        references=references,
        settings={"aspect_ratio": ratio, "image_size": size, **settings},
    )
    if status == "succeeded":
        store.generations.save_success(
            gen, outcome(*(data or (png(),)), turn=f"turn {gen}"), latency_ms=5, cost_usd=cost
        )
    elif status != "pending":
        store.generations.save_failure(gen, status=status, error=StoreError("Simulated."))
    return gen


def ids(records) -> list[int]:
    return [r.id for r in records]


def set_created(store: Store, gen_id: int, when: str) -> None:
    db_execute(store, "UPDATE generation SET created_at = ? WHERE id = ?", (when, gen_id))


# -- filters, facets, totals -------------------------------------------------------------------


@pytest.fixture
def corpus(store: Store) -> dict[str, int]:
    g = {
        "a": make(store, "watercolour fox", model="m1", ratio="1:1", size="1K"),
        "b": make(store, "oil fox portrait", model="m2", ratio="16:9", size="2K"),
        "c": make(store, "neon city", model="m2", ratio="16:9", size="2K", status="failed"),
        "d": make(store, "fox in snow", model="m1", ratio="9:16", size="1K", status="blocked"),
        "e": make(store, "pencil owl", model="m3", ratio=None, size=None),
    }
    store.organise.set_favourite([g["a"], g["b"]], True)
    store.organise.set_rating([g["a"]], 5)
    store.organise.set_rating([g["b"], g["e"]], 3)
    store.organise.add_tags([g["a"], g["b"], g["d"]], ["fox"])
    store.organise.add_tags([g["b"]], ["client"])
    board = store.organise.create_collection("Moodboard")
    store.organise.add_to_collection([g["b"], g["c"]], board)
    g["board"] = board
    return g


def test_filters_combine(store: Store, corpus: dict[str, int]) -> None:
    g = corpus
    F = GalleryFilter
    assert ids(store.gallery.page(F(model="m2"))) == [g["c"], g["b"]]
    assert ids(store.gallery.page(F(model=["m1", "m3"]))) == [g["e"], g["d"], g["a"]]
    assert ids(store.gallery.page(F(aspect_ratio="16:9", status="succeeded"))) == [g["b"]]
    assert ids(store.gallery.page(F(image_size="1K"))) == [g["d"], g["a"]]
    assert ids(store.gallery.page(F(favourite=True))) == [g["b"], g["a"]]
    assert ids(store.gallery.page(F(favourite=False))) == [g["e"], g["d"], g["c"]]
    assert ids(store.gallery.page(F(min_rating=3))) == [g["e"], g["b"], g["a"]]
    assert ids(store.gallery.page(F(min_rating=4))) == [g["a"]]
    assert ids(store.gallery.page(F(tag="FOX"))) == [g["d"], g["b"], g["a"]]  # tag names ignore case
    assert ids(store.gallery.page(F(tag="fox", favourite=True, model="m2"))) == [g["b"]]
    assert ids(store.gallery.page(F(collection_id=g["board"]))) == [g["c"], g["b"]]
    assert ids(store.gallery.page(F(search="fox", status=["succeeded", "blocked"], model="m1"))) == [
        g["d"],
        g["a"],
    ]
    assert store.gallery.count(F(search="fox", favourite=True)) == 2
    assert store.gallery.page(F(tag="nobody-uses-this")) == [] and store.gallery.count(F(model="m9")) == 0


def test_facets_honour_the_other_filters(store: Store, corpus: dict[str, int]) -> None:
    g = corpus
    all_facets = store.gallery.facets()
    assert all_facets["model"] == [("m1", 2), ("m2", 2), ("m3", 1)]
    assert dict(all_facets["status"]) == {"succeeded": 3, "failed": 1, "blocked": 1}
    assert dict(all_facets["aspect_ratio"]) == {"16:9": 2, "1:1": 1, "9:16": 1, None: 1}
    assert dict(all_facets["image_size"]) == {"2K": 2, "1K": 2, None: 1}
    assert all_facets["tag"] == [("fox", 3), ("client", 1)]
    assert all_facets["collection"] == [(g["board"], 2)]

    f = store.gallery.facets(GalleryFilter(model="m2", search="fox"))
    # the model facet ignores the model filter (alternatives stay visible) but honours the search
    assert f["model"] == [("m1", 2), ("m2", 1)]
    assert f["status"] == [("succeeded", 1)] and f["tag"] == [("client", 1), ("fox", 1)]
    assert f["collection"] == [(g["board"], 1)]
    assert store.gallery.facets(GalleryFilter(tag="client"))["tag"] == all_facets["tag"]
    for name, values in store.gallery.facets(GalleryFilter(favourite=True)).items():  # counts match list()
        column = {"tag": "tag", "collection": "collection_id"}.get(name, name)
        for value, count in values:
            if value is not None:
                assert store.gallery.count(GalleryFilter(favourite=True, **{column: value})) == count


def test_totals(store: Store, corpus: dict[str, int]) -> None:
    extra = make(store, "two images", model="m1", data=(png(), png()), cost=0.08)
    t = store.gallery.totals()
    assert t["count"] == 6 and t["images"] == 5  # 3 single-image successes + one with two
    assert t["cost_usd"] == pytest.approx(0.04 * 3 + 0.08)
    assert (t["prompt_tokens"], t["output_tokens"], t["total_tokens"]) == (40, 400, 440)
    t = store.gallery.totals(GalleryFilter(model="m1", status="succeeded"))
    assert (t["count"], t["images"], t["cost_usd"]) == (2, 3, pytest.approx(0.12))
    store.trash_bin.trash([extra])
    assert store.gallery.totals()["count"] == 5
    assert store.gallery.totals(GalleryFilter(model="nope")) == {
        "count": 0,
        "images": 0,
        "cost_usd": 0.0,
        "prompt_tokens": 0,
        "output_tokens": 0,
        "total_tokens": 0,
    }


def test_date_range(store: Store) -> None:
    a, b, c = make(store, "a"), make(store, "b"), make(store, "c")
    set_created(store, a, "2026-03-01T10:00:00.000000+00:00")
    set_created(store, b, "2026-03-02T23:59:59.999999+00:00")
    set_created(store, c, "2026-03-03T00:00:00.000000+00:00")
    F = GalleryFilter
    assert ids(store.gallery.page(F(date_from=date(2026, 3, 2)))) == [c, b]
    assert ids(store.gallery.page(F(date_to=date(2026, 3, 2)))) == [b, a]  # a whole day, inclusive
    assert ids(store.gallery.page(F(date_from="2026-03-02", date_to="2026-03-02"))) == [b]
    assert ids(
        store.gallery.page(F(date_from=datetime(2026, 3, 1, 10, 0, tzinfo=UTC), date_to=datetime(2026, 3, 3)))
    ) == [c, b, a]  # naive means UTC, both inclusive
    assert ids(
        store.gallery.page(F(date_from="2026-03-01T11:00:00+01:00", date_to="2026-03-01T10:00:00Z"))
    ) == [a]
    with pytest.raises(InputError, match="not a date"):
        store.gallery.page(F(date_from="last tuesday"))


def test_keyset_paging_with_filters(store: Store) -> None:
    made = [make(store, f"item {i}", model="m1" if i % 3 else "m2", status="pending") for i in range(130)]
    store.organise.set_favourite(made[::2], True)
    f = GalleryFilter(model="m1", favourite=True)
    expected = sorted((m for i, m in enumerate(made) if i % 3 and i % 2 == 0), reverse=True)
    seen, before = [], None
    while page := store.gallery.page(f, limit=10, before_id=before):
        assert len(page) <= 10
        seen += ids(page)
        before = page[-1].id
    assert seen == expected and store.gallery.count(f) == len(expected)
    # search + filter + keyset together
    page1 = store.gallery.page(GalleryFilter(search="item", model="m2"), limit=5)
    page2 = store.gallery.page(GalleryFilter(search="item", model="m2"), limit=5, before_id=page1[-1].id)
    assert ids(page1 + page2) == sorted((m for i, m in enumerate(made) if i % 3 == 0), reverse=True)[:10]


@pytest.mark.parametrize(
    "query", ['"', "fox AND", "NEAR(fox", "(", "*", "-fox", "fox:", "{prompt}: x", "\x00", "猫"]
)
def test_hostile_search_with_filters(store: Store, corpus: dict[str, int], query: str) -> None:
    f = GalleryFilter(search=query, model="m1", favourite=True, tag="fox")
    assert isinstance(store.gallery.page(f), list)
    assert isinstance(store.gallery.count(f), int)
    assert set(store.gallery.facets(f)) == {
        "model",
        "status",
        "aspect_ratio",
        "image_size",
        "tag",
        "collection",
    }
    assert store.gallery.totals(f)["count"] >= 0


def test_old_keyword_arguments_still_work(store: Store, corpus: dict[str, int]) -> None:
    g = corpus
    assert ids(store.gallery.page(search="fox", status="succeeded", model="m1", limit=10)) == [g["a"]]
    assert store.gallery.count(search="fox", model="m1") == 2
    store.trash_bin.trash([g["e"]])
    assert g["e"] not in ids(store.gallery.page()) and g["e"] in ids(store.gallery.page(include_deleted=True))
    # keywords refine a filter object
    assert ids(store.gallery.page(GalleryFilter(favourite=True), model="m1")) == [g["a"]]


def test_page_loads_tags_and_collections_without_n_plus_one(store: Store, corpus: dict[str, int]) -> None:
    selects: list[str] = []
    event.listen(
        store.db.engine,
        "before_cursor_execute",
        lambda c, cur, stmt, *a: selects.append(stmt) if stmt.lstrip().startswith("SELECT") else None,
    )
    page = store.gallery.page()
    assert len(selects) == 2  # the page (with tags and collections) + its images
    by_id = {r.id: r for r in page}
    assert by_id[corpus["b"]].tags == ["client", "fox"] and by_id[corpus["b"]].collections == [
        corpus["board"]
    ]
    assert by_id[corpus["e"]].tags == [] and by_id[corpus["e"]].collections == []
    assert store.generations.get(corpus["b"]).tags == ["client", "fox"]
    assert store.generations.get(corpus["b"]).to_json()["tags"] == ["client", "fox"]


# -- organise ----------------------------------------------------------------------------------


def test_favourite_and_rating_in_bulk(store: Store) -> None:
    a, b, c = (make(store, status="pending") for _ in range(3))
    assert store.organise.set_favourite([a, b, 999], True) == 2
    assert [store.generations.get(i).favourite for i in (a, b, c)] == [True, True, False]
    store.organise.set_favourite([b], False)
    assert ids(store.gallery.page(GalleryFilter(favourite=True))) == [a]
    assert store.organise.set_rating([a, c], 4) == 2
    assert (store.generations.get(a).rating, store.generations.get(b).rating) == (4, None)
    store.organise.set_rating([a], None)
    assert store.generations.get(a).rating is None
    for bad in (0, 6, 2.5, True, "5"):
        with pytest.raises(InputError):
            store.organise.set_rating([a], bad)  # type: ignore[arg-type]


def test_tags_in_bulk(store: Store) -> None:
    a, b, c = (make(store, status="pending") for _ in range(3))
    assert (
        store.organise.add_tags([a, b], ["Sky", "sky", "  blue   sea "]) == 4
    )  # "sky" is the same tag as "Sky"
    store.organise.add_tags([a, b], ["SKY"])  # idempotent
    store.organise.add_tags([c, 12345], ["night"])  # unknown ids are ignored
    assert store.generations.get(a).tags == ["blue sea", "Sky"]
    assert store.organise.tags() == [("blue sea", 2), ("Sky", 2), ("night", 1)]
    assert store.organise.remove_tag([a], "sky") == 1
    assert store.generations.get(a).tags == ["blue sea"] and store.generations.get(b).tags == [
        "blue sea",
        "Sky",
    ]
    store.organise.remove_tag([c], "night")
    assert "night" not in dict(store.organise.tags())  # unused tags disappear
    assert store.organise.remove_tag([a], "never-existed") == 0
    store.trash_bin.trash([b])
    assert dict(store.organise.tags())["Sky"] == 0  # counts only live generations
    for bad in ("", "   ", "\x00\x01", "x" * 61):
        with pytest.raises(InputError):
            store.organise.add_tags([a], [bad])


def test_collections(store: Store) -> None:
    a, b, c = (make(store, status="pending") for _ in range(3))
    board = store.organise.create_collection("Client A")
    other = store.organise.create_collection("Later")
    with pytest.raises(InputError, match="already exists"):
        store.organise.create_collection("client a")
    assert store.organise.add_to_collection([a, b, 777], board) == 2
    assert store.organise.add_to_collection([a], board) == 0  # already there
    store.organise.add_to_collection([a, c], other)
    with pytest.raises(InputError, match="does not exist"):
        store.organise.add_to_collection([a], 424242)
    assert store.organise.collections() == [(board, "Client A", 2), (other, "Later", 2)]
    store.organise.rename_collection(board, "Client A — final")
    store.organise.rename_collection(board, "client a — FINAL")  # renaming to itself in another case is fine
    with pytest.raises(InputError, match="already exists"):
        store.organise.rename_collection(other, "CLIENT A — final")
    assert store.generations.get(a).collections == sorted([board, other])
    assert store.organise.remove_from_collection([a], board) == 1
    assert ids(store.gallery.page(GalleryFilter(collection_id=board))) == [b]
    store.organise.delete_collection(board)
    assert [cid for cid, _, _ in store.organise.collections()] == [other]
    assert store.gallery.count() == 3 and store.generations.get(b).collections == []  # generations stay


# -- trash -------------------------------------------------------------------------------------


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and "backups" not in p.parts}


def test_trash_and_restore_keep_files(store: Store) -> None:
    a, b = make(store, "keep me"), make(store, "bin me")
    before = files_under(store.data_dir)
    assert store.trash_bin.trash([b, 999]) == 1 and store.trash_bin.trash([b]) == 0
    assert ids(store.gallery.page()) == [a] and ids(store.gallery.page(GalleryFilter(deleted=True))) == [b]
    assert store.gallery.count(GalleryFilter(deleted=None)) == 2
    assert (
        store.generations.get(b).deleted_at is not None and store.generations.get(b).images[0].path.exists()
    )
    assert files_under(store.data_dir) >= before  # nothing leaves the disk on trash
    assert store.trash_bin.restore([b]) == 1
    assert ids(store.gallery.page()) == [b, a] and store.generations.get(b).deleted_at is None


def test_empty_trash_removes_only_unreferenced_files(store: Store) -> None:
    shared = png()
    ref = images.sanitize_upload(png(), "ref.png")
    keep = make(store, "keeper", data=(shared,), references=[ref])
    gone = make(store, "goner", data=(shared, png()), references=[ref])
    child = make(store, "child", parent_id=gone, status="pending")
    busy = make(store, "still running", status="pending")
    store.organise.add_tags([gone], ["bin"])
    board = store.organise.create_collection("B")
    store.organise.add_to_collection([gone, keep], board)
    rec_keep, rec_gone = store.generations.get(keep), store.generations.get(gone)
    unique = rec_gone.images[1]
    assert len(stored_keys(store, "turns/")) == 2

    store.trash_bin.trash([gone, busy])
    report = store.trash_bin.empty_trash()
    assert (report.generations, report.skipped_active) == (1, 1)
    assert report.files_removed == 3 and report.bytes_freed > 0  # unique original + its thumb + the turn
    assert report.files_kept == 2  # the shared output and the shared reference
    assert (
        store.generations.get(gone) is None and store.generations.get(busy) is not None
    )  # a running row is never deleted
    assert not is_stored(store, unique.path) and not is_stored(store, unique.thumb_path)
    assert not unique.path.exists() and not unique.thumb_path.exists()  # nor a cached copy (a bucket)
    for image in (*rec_keep.images, *rec_keep.references):
        assert is_stored(store, image.path) and is_stored(store, image.thumb_path)
    assert len(stored_keys(store, "turns/")) == 1
    assert store.generations.get(child).parent_id is None  # the link is cut, the child stays
    assert store.organise.collections() == [(board, "B", 1)] and "bin" not in dict(store.organise.tags())
    # once nothing references the shared image, it goes too
    store.trash_bin.trash([keep])
    report = store.trash_bin.empty_trash()
    assert report.generations == 1 and not is_stored(store, rec_keep.images[0].path)
    assert not rec_keep.images[0].path.exists()
    assert not is_stored(store, rec_keep.references[0].path) and not rec_keep.references[0].path.exists()
    assert db_execute(store, "SELECT count(*) FROM asset") == [(0,)]
    if store.db.dialect == "sqlite":  # PostgreSQL checks foreign keys on every statement
        assert db_execute(store, "PRAGMA foreign_key_check") == []
    assert store.trash_bin.empty_trash().generations == 0


def test_empty_trash_keeps_a_file_that_came_back(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file saved again between the row delete and the unlink is re-checked and kept."""
    data = png()
    gone = make(store, "goner", data=(data,))
    path = store.generations.get(gone).images[0].path
    store.trash_bin.trash([gone])
    real = store.trash_bin._remove_files

    def save_again_first(rels):
        make(store, "same bytes again", data=(data,))
        return real(rels)

    monkeypatch.setattr(store.trash_bin, "_remove_files", save_again_first)
    store.trash_bin.empty_trash()
    assert path.exists() and store.gallery.page()[0].images[0].path == path


# -- lineage and compare -----------------------------------------------------------------------


def test_lineage(store: Store) -> None:
    root = make(store, "root", status="pending")
    mid = make(store, "mid", parent_id=root, status="pending")
    leaf1 = make(store, "leaf 1", parent_id=mid, status="pending")
    leaf2 = make(store, "leaf 2", parent_id=mid, status="pending")
    assert ids(store.gallery.children(mid)) == [leaf1, leaf2]
    assert ids(store.gallery.children(leaf1)) == []
    assert ids(store.gallery.ancestors(leaf2)) == [mid, root] and store.gallery.ancestors(root) == []
    store.trash_bin.trash([leaf2])
    assert ids(store.gallery.children(mid)) == [leaf1] and ids(
        store.gallery.children(mid, include_deleted=True)
    ) == [
        leaf1,
        leaf2,
    ]
    assert ids(store.gallery.page(GalleryFilter(parent_id=mid))) == [leaf1]
    # a damaged history with a cycle must not hang
    db_execute(store, "UPDATE generation SET parent_id = ? WHERE id = ?", (leaf1, root))
    assert ids(store.gallery.ancestors(leaf1)) == [mid, root]


def test_settings_diff(store: Store) -> None:
    a = make(store, "a cat", status="pending", seed=1, temperature=0.5)
    b = make(store, "a cat", status="pending", seed=2, temperature=0.5, ratio="16:9")
    c = make(store, "a dog", status="pending", model="m2", seed=1, temperature=0.5)
    recs = store.gallery.records([a, b, c])
    assert settings_diff(recs) == [
        ("prompt", ["a cat", "a cat", "a dog"]),
        ("model", ["m1", "m1", "m2"]),
        ("aspect_ratio", ["1:1", "16:9", "1:1"]),
        ("seed", [1, 2, 1]),
    ]
    assert settings_diff(store.gallery.records([a, a])) == []
    for wrong in ([recs[0]], recs + recs[:2]):
        with pytest.raises(InputError):
            settings_diff(wrong)
    assert ids(store.gallery.records([c, 9999, a])) == [c, a]


def test_facets_of_a_search_count_its_newest_matches(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from studio.storage import gallery_repo as queries

    ids = [make(store, f"lantern number {i}", model="m1" if i % 2 else "m2") for i in range(6)]
    assert sum(n for _, n in store.gallery.facets(GalleryFilter(search="lantern"))["model"]) == 6
    monkeypatch.setattr(queries, "SEARCH_WINDOW", 3)
    facets = store.gallery.facets(GalleryFilter(search="lantern"))
    assert sum(n for _, n in facets["model"]) == 3  # the three newest: ids[5], ids[4], ids[3]
    assert dict(facets["model"]) == {"m1": 2, "m2": 1}
    assert (
        store.gallery.page(GalleryFilter(search="lantern"))[-1].id == ids[0]
    )  # the list itself is not windowed
