"""studio.files and studio._store on real files and real SQLite databases under tmp_path."""

from __future__ import annotations

import errno
import io
import os
import sqlite3
import threading
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import event, inspect

from studio.domain.errors import Blocked, Cancelled, DiskFull, InputError, StoreError
from studio.domain.requests import ImagePart, Outcome
from studio.imaging import images
from studio.storage import GenerationRecord, Store, files, fts_query, migrations
from studio.storage.tables import (
    Asset,
    Collection,
    CollectionItem,
    Generation,
    GenerationAsset,
    GenerationTag,
    Tag,
)
from tests.stores import open_store, sqlite_only


def png(w: int = 32, h: int = 24, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), color).save(buf, format="PNG")
    return buf.getvalue()


def jpeg(w: int = 32, h: int = 24, color: tuple[int, int, int] = (30, 30, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), color).save(buf, format="JPEG")
    return buf.getvalue()


def outcome(*datas: bytes, text: str = "", thoughts: tuple[bytes, ...] = ()) -> Outcome:
    return Outcome(
        images=[ImagePart(d, "image/png") for d in datas],
        thought_images=[ImagePart(d, "image/png", thought=True) for d in thoughts],
        text=text,
        finish_reason="STOP",
        usage={"promptTokenCount": 14, "candidatesTokenCount": 1290, "totalTokenCount": 1304},
        model_content={"role": "model", "parts": [{"text": text, "thoughtSignature": "c2ln" * 1000}]},
    )


@pytest.fixture
def store(tmp_path: Path, backend: str):
    s = open_store(tmp_path / "data")
    yield s
    s.close()


def pending(store: Store, prompt: str = "a red cat", **kw) -> int:
    kw.setdefault("model", "gemini-2.5-flash-image")
    return store.generations.create_pending(
        prompt=prompt, settings={"aspect_ratio": "1:1"}, owner="proc-1", **kw
    )


def sql(store: Store, query: str) -> list[tuple]:
    con = sqlite3.connect(store.db_path)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


# -- files.write_atomic ------------------------------------------------------------------------


def test_write_atomic_writes_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "f.bin"
    files.write_atomic(target, b"one")
    files.write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert os.listdir(target.parent) == ["f.bin"]


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EDQUOT])
def test_write_atomic_maps_disk_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, err: int) -> None:
    target = tmp_path / "f.bin"
    files.write_atomic(target, b"old")

    def full(fd: int, data) -> int:
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(DiskFull) as info:
        files.write_atomic(target, b"new")
    assert str(tmp_path) in info.value.message and "nothing already saved was lost" in info.value.message
    assert target.read_bytes() == b"old"  # never a partial file under the final name
    assert os.listdir(tmp_path) == ["f.bin"]


def test_write_atomic_maps_permission_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(src, dst) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(os, "replace", denied)
    with pytest.raises(StoreError) as info:
        files.write_atomic(tmp_path / "f.bin", b"x")
    assert not isinstance(info.value, DiskFull)
    assert str(tmp_path) in info.value.message
    assert os.listdir(tmp_path) == []


def test_write_atomic_partial_writes_are_completed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real(fd, bytes(data[:3])))
    files.write_atomic(tmp_path / "f.bin", b"0123456789")
    assert (tmp_path / "f.bin").read_bytes() == b"0123456789"


# -- files.contained and relpaths --------------------------------------------------------------

TRAVERSAL = [
    "../x",
    "/etc/passwd",
    "a/../../b",
    "..",
    "C:\\x",
    "C:x",
    "\\\\server\\share",
    "x\x00y",
    "a\\..\\..\\b",
    "",
]


@pytest.mark.parametrize("part", TRAVERSAL)
def test_contained_rejects_traversal(tmp_path: Path, part: str) -> None:
    with pytest.raises(InputError):
        files.contained(tmp_path, "images", part)


def test_contained_rejects_symlink_escape(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "link").symlink_to(outside)
    with pytest.raises(InputError):
        files.contained(root, "link", "secret.txt")


def test_contained_accepts_inner_paths(tmp_path: Path) -> None:
    assert (
        files.contained(tmp_path, "quarantine", "abc.bin") == (tmp_path / "quarantine" / "abc.bin").resolve()
    )


def test_relpaths() -> None:
    sha = "ab" + "0" * 62
    assert files.image_relpath(sha, "image/png") == f"images/ab/{sha}.png"
    assert files.image_relpath(sha, "image/jpeg") == f"images/ab/{sha}.jpg"
    assert files.image_relpath(sha, "image/webp") == f"images/ab/{sha}.webp"
    assert files.thumb_relpath(sha) == f"thumbs/ab/{sha}.jpg"
    for bad in ("AB" + "0" * 62, "../" + "0" * 61, "0" * 63, "0" * 65):
        with pytest.raises(InputError):
            files.thumb_relpath(bad)
    with pytest.raises(InputError):
        files.image_relpath(sha, "image/svg+xml")


# -- engine, schema and migrations -------------------------------------------------------------


def test_new_store_layout_and_pragmas(store: Store) -> None:
    sqlite_only("reads the SQLite file itself")
    for name in ("images", "thumbs", "turns", "quarantine", "backups"):
        assert (store.data_dir / name).is_dir()
    with store.db.engine.connect() as conn:
        pragma = lambda name: conn.exec_driver_sql(f"PRAGMA {name}").scalar_one()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("synchronous") == 2  # FULL
        assert pragma("busy_timeout") == 5000
        assert pragma("foreign_keys") == 1
        assert pragma("user_version") == migrations.LATEST
    assert list((store.data_dir / "backups").iterdir()) == []  # nothing to back up in a new DB


def test_writes_begin_immediate(store: Store) -> None:
    sqlite_only("reads the SQLite file itself")
    seen: list[str] = []
    event.listen(store.db.engine, "before_cursor_execute", lambda c, cur, stmt, *a: seen.append(stmt))
    pending(store)
    assert "BEGIN IMMEDIATE" in seen
    seen.clear()
    store.gallery.page()
    assert "BEGIN IMMEDIATE" not in seen


def test_models_match_migrated_schema(store: Store) -> None:
    insp = inspect(store.db.engine)
    for model in (Generation, Asset, GenerationAsset, Tag, GenerationTag, Collection, CollectionItem):
        db_cols = {c["name"] for c in insp.get_columns(model.__tablename__)}
        db_cols -= {"search_stem", "search_raw"}  # PostgreSQL's full-text columns, read through Match only
        assert db_cols == set(model.__table__.columns.keys())


def test_reopen_is_idempotent(tmp_path: Path) -> None:
    s = Store(tmp_path)
    gen = pending(s)
    s.close()
    s = Store(tmp_path)
    assert s.generations.get(gen) is not None and not s.readonly
    assert sql(s, "PRAGMA user_version") == [(migrations.LATEST,)]
    assert list((tmp_path / "backups").iterdir()) == []
    s.close()


SHIPPED_HEAD = migrations.head()  # before any test swaps in scripts of its own


def _with_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    """The shipped Alembic scripts plus a revision 0099 after their head whose upgrade runs ``body``."""
    import shutil

    scripts = tmp_path / "scripts"
    shutil.copytree(migrations.SCRIPTS, scripts)
    (scripts / "versions" / "0099_next.py").write_text(
        f'revision = "0099"\ndown_revision = "{SHIPPED_HEAD}"\nbranch_labels = None\ndepends_on = None\n'
        "from alembic import op\n\n\ndef upgrade():\n"
        + "".join(f"    {line}\n" for line in body.splitlines())
    )
    monkeypatch.setattr(migrations, "SCRIPTS", scripts)


def test_migration_backs_up_then_upgrades(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = Store(tmp_path / "data")
    gen = pending(s, prompt="before upgrade")
    s.close()
    _with_revision(tmp_path, monkeypatch, 'op.execute("CREATE TABLE extra (id INTEGER PRIMARY KEY)")')
    s = Store(tmp_path / "data")
    assert sql(s, "SELECT version_num FROM alembic_version") == [("0099",)]
    assert sql(s, "SELECT name FROM sqlite_master WHERE name = 'extra'") == [("extra",)]
    assert s.generations.get(gen).prompt == "before upgrade"
    s.close()
    [backup] = list((tmp_path / "data" / "backups").iterdir())
    assert backup.suffix == ".db"
    con = sqlite3.connect(backup)
    assert con.execute("SELECT version_num FROM alembic_version").fetchall() == [(SHIPPED_HEAD,)]
    assert con.execute("SELECT prompt FROM generation").fetchall() == [("before upgrade",)]
    con.close()


def test_failed_migration_rolls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Store(tmp_path / "data").close()
    _with_revision(
        tmp_path, monkeypatch, 'op.execute("CREATE TABLE half_done (id INTEGER)")\nraise RuntimeError("boom")'
    )
    with pytest.raises(RuntimeError):
        Store(tmp_path / "data")
    con = sqlite3.connect(tmp_path / "data" / "studio.db")
    assert con.execute("SELECT version_num FROM alembic_version").fetchall() == [(SHIPPED_HEAD,)]
    assert con.execute("SELECT name FROM sqlite_master WHERE name = 'half_done'").fetchall() == []
    con.close()


def test_unknown_revision_opens_read_only(tmp_path: Path) -> None:
    s = Store(tmp_path)
    gen = pending(s)
    s.close()
    con = sqlite3.connect(tmp_path / "studio.db")
    con.execute("UPDATE alembic_version SET version_num = 'f00d'")
    con.commit()
    con.close()
    s = Store(tmp_path)
    assert s.readonly and s.generations.get(gen) is not None
    with pytest.raises(StoreError, match="newer version"):
        pending(s)
    s.close()


def test_newer_schema_opens_read_only(tmp_path: Path) -> None:
    s = Store(tmp_path)
    gen = pending(s)
    s.close()
    con = sqlite3.connect(tmp_path / "studio.db")
    con.execute("PRAGMA user_version = 99")
    con.close()
    s = Store(tmp_path)
    assert s.readonly
    assert s.generations.get(gen).status == "pending" and s.gallery.count() == 1
    with pytest.raises(StoreError, match="newer version"):
        pending(s)
    with pytest.raises(StoreError, match="read-only"):
        s.generations.set_status(gen, "cancelled")
    s.close()
    assert sql(s, "PRAGMA user_version") == [(99,)]


def test_garbage_database_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "studio.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="damaged"):
        Store(tmp_path)


# -- create / run / save ----------------------------------------------------------------------


def test_create_pending_round_trip_with_references(store: Store) -> None:
    ref = images.sanitize_upload(jpeg(40, 30), "face.jpg", role="character")
    parent = pending(store, prompt="parent")
    gen = pending(
        store, composition={"subject": "cat"}, references=[ref], parent_id=parent, run_id=7, variant_index=2
    )
    rec = store.generations.get(gen)
    assert isinstance(rec, GenerationRecord)
    assert (rec.status, rec.prompt, rec.owner, rec.parent_id, rec.run_id, rec.variant_index) == (
        "pending",
        "a red cat",
        "proc-1",
        parent,
        7,
        2,
    )
    assert rec.settings == {"aspect_ratio": "1:1"} and rec.composition == {"subject": "cat"}
    assert rec.created_at.tzinfo is not None and rec.images == []
    [r] = rec.references
    assert (r.name, r.role, r.position, r.width, r.height, r.mime_type) == (
        "face.jpg",
        "reference",
        0,
        40,
        30,
        "image/jpeg",
    )
    assert r.path.read_bytes() == ref.data and r.path.name == f"{ref.sha256}.jpg"
    assert store.generations.get(9999) is None


def test_mark_running_only_moves_pending(store: Store) -> None:
    gen, other = pending(store), pending(store)
    store.generations.mark_running(gen)
    assert store.generations.get(gen).status == "running"
    store.generations.set_status(other, "cancelled", error=Cancelled("You cancelled this generation."))
    store.generations.mark_running(other)
    rec = store.generations.get(other)
    assert rec.status == "cancelled" and rec.error == {
        "kind": "cancelled",
        "message": "You cancelled this generation.",
    }


def test_save_success_stores_originals_thumbs_and_turn(store: Store) -> None:
    sqlite_only("reads the SQLite file itself")
    big = png(1000, 500)
    lying_jpeg = ImagePart(jpeg(), "image/png")  # the declared mime is never trusted
    out = outcome(big, text="Here you go", thoughts=(png(8, 8, (1, 2, 3)),))
    out.images.append(lying_jpeg)
    gen = pending(store)
    store.generations.mark_running(gen)
    rec = store.generations.save_success(gen, out, latency_ms=1234, cost_usd=0.039)
    assert rec.status == "succeeded" and rec.text == "Here you go" and rec.finish_reason == "STOP"
    assert (rec.latency_ms, rec.cost_usd, rec.usage["candidatesTokenCount"]) == (1234, 0.039, 1290)
    assert sql(
        store, f"SELECT prompt_tokens, output_tokens, total_tokens FROM generation WHERE id={gen}"
    ) == [(14, 1290, 1304)]
    first, second = rec.images
    assert first.path.read_bytes() == big  # byte-identical original
    assert first.path == store.data_dir / files.image_relpath(images.sha256_hex(big), "image/png")
    assert (first.width, first.height, first.size_bytes) == (1000, 500, len(big))
    assert second.path.suffix == ".jpg" and second.mime_type == "image/jpeg"
    for img in rec.images:
        with Image.open(img.thumb_path) as th:
            assert th.format == "JPEG" and max(th.size) <= 384
    assert len(rec.thought_images) == 1 and rec.thought_images[0].role == "thought"
    assert store.generations.model_content(gen) == out.model_content
    assert rec.has_model_content
    data = rec.to_json()
    assert set(data) >= {
        "id",
        "status",
        "model",
        "prompt",
        "finish_reason",
        "text",
        "images",
        "usage",
        "error",
        "created_at",
        "settings",
        "latency_ms",
        "cost_usd",
        "parent_id",
        "block_reason",
    }
    assert data["error"] is None and data["images"][0] == {
        "path": str(first.path),
        "sha256": first.sha256,
        "mime_type": "image/png",
        "width": 1000,
        "height": 500,
    }
    assert not list(store.data_dir.rglob("*.tmp"))


def test_files_are_written_before_the_row_commits(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    sqlite_only("reads the SQLite file itself")
    gen = pending(store)
    statuses: list[str] = []
    real = files.write_atomic
    calls = 0

    def spy(path: Path, data: bytes) -> None:
        nonlocal calls
        statuses.append(store.generations.get(gen).status)
        calls += 1
        if calls == 3:  # image 1 + its thumbnail succeed, image 2 fails
            raise DiskFull("The disk is full.")
        real(path, data)

    monkeypatch.setattr(files, "write_atomic", spy)
    with pytest.raises(DiskFull):
        store.generations.save_success(
            gen, outcome(png(), png(color=(0, 255, 0))), latency_ms=1, cost_usd=None
        )
    assert set(statuses) == {"pending"}
    assert store.generations.get(gen).status == "pending" and store.generations.get(gen).images == []
    assert sql(store, "SELECT count(*) FROM asset") == [(0,)]
    monkeypatch.setattr(files, "write_atomic", real)
    rec = store.generations.save_success(
        gen, outcome(png(), png(color=(0, 255, 0))), latency_ms=1, cost_usd=None
    )
    assert rec.status == "succeeded" and len(rec.images) == 2


def test_same_image_is_stored_once(store: Store) -> None:
    sqlite_only("reads the SQLite file itself")
    data = png(50, 50)
    a, b = pending(store), pending(store)
    ra = store.generations.save_success(a, outcome(data), latency_ms=1, cost_usd=None)
    rb = store.generations.save_success(b, outcome(data), latency_ms=1, cost_usd=None)
    assert ra.images[0].path == rb.images[0].path and ra.images[0].id == rb.images[0].id
    assert sql(store, "SELECT count(*) FROM asset") == [(1,)]
    assert len(list((store.data_dir / "images").rglob("*.png"))) == 1


def test_emptying_the_trash_while_the_same_image_is_saved_loses_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save that finds its image already stored (a trashed generation has the same bytes) writes nothing;
    if the trash is emptied before its row commits, nothing names the file and it is removed. The commit
    checks, under the files lock, that what it found is still there, and writes it again."""
    from studio.storage import generation_repo
    from tests.stores import is_stored, stored_bytes

    data = png(60, 40)
    old = pending(store)
    store.generations.save_success(old, outcome(data), latency_ms=1, cost_usd=None)
    store.trash_bin.trash([old])
    new = pending(store)
    emptied: list[object] = []

    def another_tab_empties_the_trash(name: str) -> None:
        if name == "after_journal" and not emptied:  # files "found", row not committed yet
            emptied.append(store.trash_bin.empty_trash())

    monkeypatch.setattr(generation_repo, "crashpoint", another_tab_empties_the_trash)
    rec = store.generations.save_success(new, outcome(data), latency_ms=1, cost_usd=None)
    [report] = emptied
    assert report.generations == 1 and report.files_removed >= 2  # the original and its thumbnail went
    [image] = rec.images
    assert (
        is_stored(store, image.path) and image.thumb_path is not None and is_stored(store, image.thumb_path)
    )
    assert stored_bytes(store, store.files.key_of(image.path)) == data
    assert store.generations.get(old) is None


def test_unreadable_image_bytes_are_quarantined(store: Store) -> None:
    gen = pending(store)
    junk = b"not an image at all"
    rec = store.generations.save_success(gen, outcome(junk), latency_ms=5, cost_usd=None)
    assert rec.status == "failed" and rec.error_kind == "bad_response" and rec.images == []
    assert (store.data_dir / "quarantine" / f"{images.sha256_hex(junk)}.bin").read_bytes() == junk
    assert list((store.data_dir / "images").rglob("*")) == []


def test_save_failure_keeps_text_and_usage(store: Store) -> None:
    gen = pending(store)
    out = Outcome(
        text="I can't draw that.",
        finish_reason="IMAGE_SAFETY",
        block_reason="SAFETY",
        usage={"promptTokenCount": 9, "totalTokenCount": 9},
    )
    rec = store.generations.save_failure(
        gen,
        status="blocked",
        error=Blocked("The request was blocked for safety."),
        outcome=out,
        latency_ms=300,
    )
    assert (rec.status, rec.error_kind, rec.block_reason, rec.finish_reason) == (
        "blocked",
        "blocked",
        "SAFETY",
        "IMAGE_SAFETY",
    )
    assert rec.text == "I can't draw that." and rec.usage["promptTokenCount"] == 9 and rec.latency_ms == 300
    assert rec.to_json()["error"] == {"kind": "blocked", "message": "The request was blocked for safety."}
    assert store.generations.model_content(gen) is None


def test_bad_status_and_unknown_ids(store: Store) -> None:
    gen = pending(store)
    with pytest.raises(ValueError):
        store.generations.set_status(gen, "exploded")
    with pytest.raises(ValueError):
        store.generations.save_failure(gen, status="succeeded", error=Cancelled("x."))
    with pytest.raises(StoreError):
        store.generations.set_status(424242, "cancelled")


def test_active_and_interrupt_orphans(store: Store) -> None:
    alive = store.generations.create_pending(prompt="a", model="m", settings={}, owner="alive")
    dead_pending = store.generations.create_pending(prompt="b", model="m", settings={}, owner="dead")
    dead_running = store.generations.create_pending(prompt="c", model="m", settings={}, owner="dead")
    dead_done = store.generations.create_pending(prompt="d", model="m", settings={}, owner="dead")
    store.generations.mark_running(dead_running)
    store.generations.save_success(dead_done, outcome(png()), latency_ms=1, cost_usd=None)
    assert [r.id for r in store.generations.active()] == [alive, dead_pending, dead_running]
    asked: list[str] = []
    interrupted = store.generations.interrupt_orphans(lambda owner: asked.append(owner) or owner == "alive")
    assert interrupted == [dead_pending, dead_running]
    assert sorted(asked) == ["alive", "dead"]  # each owner checked once
    rec = store.generations.get(dead_running)
    assert rec.status == "interrupted" and rec.error_kind == "interrupted" and rec.error_message.endswith(".")
    assert store.generations.get(dead_done).status == "succeeded"
    assert [r.id for r in store.generations.active()] == [alive]
    assert store.generations.interrupt_orphans(lambda owner: False) == [alive]


# -- list, paging and search -------------------------------------------------------------------


def test_keyset_paging_has_no_gaps_or_duplicates(store: Store) -> None:
    ids = [pending(store, prompt=f"prompt {i}") for i in range(200)]
    seen: list[int] = []
    before = None
    while True:
        page = store.gallery.page(limit=48, before_id=before)
        if not page:
            break
        assert len(page) <= 48
        seen.extend(r.id for r in page)
        before = page[-1].id
    assert seen == sorted(ids, reverse=True)
    assert store.gallery.count() == 200


def test_list_filters_and_deleted(store: Store) -> None:
    sqlite_only("reads the SQLite file itself")
    a = pending(store, model="m1")
    b = pending(store, model="m2")
    c = pending(store, model="m2")
    store.generations.set_status(b, "cancelled")
    con = sqlite3.connect(store.db_path)
    con.execute(f"UPDATE generation SET deleted_at = '2026-01-01T00:00:00+00:00' WHERE id = {c}")
    con.commit()
    con.close()
    assert [r.id for r in store.gallery.page()] == [b, a]
    assert [r.id for r in store.gallery.page(include_deleted=True)] == [c, b, a]
    assert [r.id for r in store.gallery.page(model="m2")] == [b]
    assert [r.id for r in store.gallery.page(status="pending")] == [a]
    assert store.gallery.count(model="m2") == 1 and store.gallery.count(status="cancelled") == 1
    assert store.generations.get(c).deleted_at is not None


def test_list_loads_images_without_n_plus_one(store: Store) -> None:
    for i in range(6):
        gen = pending(store)
        store.generations.save_success(
            gen, outcome(png(color=(i, 0, 0)), png(color=(0, i, 0))), latency_ms=1, cost_usd=None
        )
    selects: list[str] = []
    event.listen(
        store.db.engine,
        "before_cursor_execute",
        lambda c, cur, stmt, *a: selects.append(stmt) if stmt.lstrip().startswith("SELECT") else None,
    )
    page = store.gallery.page(limit=6)
    assert len(selects) == 2
    assert all(len(r.images) == 2 for r in page)


def test_search_prompt_and_reply_newest_first(store: Store) -> None:
    cat = pending(store, prompt="A watercolour cat on a windowsill")
    dog = pending(store, prompt="An oil painting of a dog")
    cafe = pending(store, prompt="Café au lait, morning light")
    store.generations.save_success(
        dog, outcome(png(), text="A loyal dog with a cat friend"), latency_ms=1, cost_usd=None
    )
    assert [r.id for r in store.gallery.page(search="cat")] == [dog, cat]
    assert [r.id for r in store.gallery.page(search="paint")] == [dog]  # prefix match on the last word
    assert [r.id for r in store.gallery.page(search="oil paint")] == [dog]
    assert [r.id for r in store.gallery.page(search="cafe")] == [cafe]  # diacritics folded
    assert [r.id for r in store.gallery.page(search="café")] == [cafe]
    assert store.gallery.page(search="zebra") == []
    assert store.gallery.count(search="cat") == 2
    assert (
        len(store.gallery.page(search="   ")) == 3 and len(store.gallery.page(search='"*()')) == 3
    )  # nothing left: no filter


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '""',
        'cat"',
        '"cat',
        "AND",
        "OR",
        "NOT",
        "cat AND",
        "OR dog",
        "NOT NOT",
        "(",
        ")",
        "(cat",
        "cat)",
        "*",
        "cat*",
        "*cat",
        "NEAR",
        "NEAR(cat dog)",
        "NEAR(cat",
        "cat:dog",
        "prompt:cat",
        "-cat",
        "+",
        "^cat",
        "{prompt}: cat",
        "'",
        "\\",
        "\x00",
        "猫",
        "🐈 cat",
        "ǅ",
        "a" * 5000,
        "c\u0301at",
        "x" + "\u202e" + "y",
    ],
)
def test_hostile_search_never_raises(store: Store, query: str) -> None:
    pending(store, prompt='cat and dog (NEAR) "quoted" 猫')
    assert isinstance(store.gallery.page(search=query), list)
    assert isinstance(store.gallery.count(search=query), int)


def test_fts_query_quotes_words() -> None:
    query = fts_query('say "hi" now')  # "hi" is a phrase
    assert query and (query.stemmed, query.last, query.phrases) == ('"say"', '"now"', '"hi"')
    assert (q := fts_query('say"hi"')) and q.last == '"say""hi"""'
    assert (q := fts_query("AND OR -NOT")) and (q.stemmed, q.last, q.excluded) == ('"AND"', '"OR"', '"NOT"')
    assert fts_query("*** ( )") is None and fts_query(None) is None


# -- concurrency -------------------------------------------------------------------------------


def test_concurrent_writers_never_lock(store: Store) -> None:
    sqlite_only("reads the SQLite file itself")
    errors: list[BaseException] = []
    made: list[int] = []
    lock = threading.Lock()
    shared = png(8, 8, (9, 9, 9))  # every thread also saves this one: dedupe under contention

    def worker(t: int) -> None:
        try:
            for i in range(50):
                gen = store.generations.create_pending(
                    prompt=f"thread {t} job {i}", model="m", settings={"i": i}, owner=f"t{t}"
                )
                store.generations.mark_running(gen)
                if i % 5 == 4:
                    store.generations.save_failure(gen, status="failed", error=StoreError("Simulated."))
                else:
                    out = outcome(png(8, 8, (t, i, 1)), shared if i % 7 == 0 else png(8, 8, (t, i, 2)))
                    store.generations.save_success(gen, out, latency_ms=i, cost_usd=0.01)
                with lock:
                    made.append(gen)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert len(made) == len(set(made)) == 400
    assert store.gallery.count() == 400
    assert store.gallery.count(status="succeeded") == 320 and store.gallery.count(status="failed") == 80
    assert sql(store, "SELECT count(*) FROM asset WHERE sha256 = '%s'" % images.sha256_hex(shared)) == [(1,)]
    assert sql(store, "SELECT count(*) FROM generation_asset") == [(640,)]
    assert sql(store, "PRAGMA integrity_check") == [("ok",)]
    assert sql(store, "INSERT INTO generation_fts(generation_fts) VALUES ('integrity-check')") == []
    assert sql(store, "INSERT INTO generation_fts_raw(generation_fts_raw) VALUES ('integrity-check')") == []


def test_large_originals_get_a_preview_made_once(tmp_path: Path) -> None:
    from PIL import Image as PILImage

    from studio.domain.requests import ImagePart, Outcome
    from studio.storage import generation_repo as repository

    s = Store(tmp_path)
    buf = io.BytesIO()
    PILImage.new("RGB", (3000, 1500), (30, 90, 160)).save(buf, "JPEG", quality=90)
    small = png(64, 64)
    gen = pending(s)
    record = s.generations.save_success(
        gen,
        Outcome(images=[ImagePart(buf.getvalue(), "image/jpeg"), ImagePart(small, "image/png")]),
        latency_ms=1,
        cost_usd=None,
    )
    big, tiny = record.images
    preview = s.generations.preview(big)
    assert preview != big.path and preview.parent.parent.name == "previews"
    with PILImage.open(preview) as im:
        assert im.format == "JPEG" and im.size == (repository.PREVIEW_SIDE, repository.PREVIEW_SIDE // 2)
    stamp = preview.stat().st_mtime_ns
    assert s.generations.preview(big) == preview and preview.stat().st_mtime_ns == stamp  # made once
    assert s.generations.preview(tiny) == tiny.path  # small originals are shown as they are
    s.trash_bin.trash([gen])
    s.trash_bin.empty_trash()
    assert not preview.exists() and not big.path.exists()
    s.close()
