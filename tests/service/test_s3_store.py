"""The store's file paths — save, read, History reruns, trash, export/import, doctor, adoption — on a folder
and on a bucket of moto's S3 server (``STUDIO_STORAGE_URL=s3://bucket/prefix``), through ``Store.for_settings``.

The ``storage`` fixture is the one the lead folds into the two-backend fixture: params ``files`` and ``s3``.
"""

from __future__ import annotations

import base64
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from studio.domain.errors import StoreError
from studio.domain.requests import ImagePart, Outcome
from studio.domain.settings import load_settings
from studio.imaging import images
from studio.services import doctor, exchange
from studio.storage import Store, files, journal
from tests.factories import make_image, solid_image
from tests.servers import S3_ENV, s3_server


def outcome(*datas: bytes, text: str = "done") -> Outcome:
    return Outcome(
        images=[ImagePart(d, "image/png") for d in datas],
        thought_images=[],
        text=text,
        finish_reason="STOP",
        usage={"promptTokenCount": 3, "candidatesTokenCount": 9, "totalTokenCount": 12},
        model_content={
            "role": "model",
            "parts": [
                {"inlineData": {"mimeType": "image/png", "data": "eA=="}},
                {"thoughtSignature": "c2ln"},
            ],
        },
    )


class Storage:
    """Where the files of this test's studio live, and a way to look at them from outside the studio."""

    def __init__(self, mode: str, data_dir: Path, url: str | None, s3=None, bucket: str | None = None):
        self.mode, self.data_dir, self.url, self.s3, self.bucket = mode, data_dir, url, s3, bucket

    def open(self) -> Store:
        return Store.for_settings(load_settings())

    def keys(self) -> list[str]:
        if self.mode == "files":
            return sorted(
                p.relative_to(self.data_dir).as_posix()
                for top in ("images", "thumbs", "turns", "previews", "journal")
                for p in (self.data_dir / top).rglob("*")
                if p.is_file()
            )
        listed = self.s3.client().list_objects_v2(Bucket=self.bucket).get("Contents", [])
        return sorted(o["Key"].removeprefix("team/") for o in listed)

    def read(self, key: str) -> bytes:
        if self.mode == "files":
            return (self.data_dir / key).read_bytes()
        return self.s3.client().get_object(Bucket=self.bucket, Key=f"team/{key}")["Body"].read()

    def write(self, key: str, data: bytes) -> None:
        if self.mode == "files":
            (self.data_dir / key).write_bytes(data)
        else:
            self.s3.client().put_object(Bucket=self.bucket, Key=f"team/{key}", Body=data)


@pytest.fixture(params=["files", "s3"])
def storage(request, tmp_path, monkeypatch):
    if request.param == "files":
        return Storage("files", tmp_path / "data", None)
    return _bucket_storage(request.getfixturevalue("s3"), tmp_path, monkeypatch)


@pytest.fixture
def bucket_storage(s3, tmp_path, monkeypatch):
    """Object mode only (what a folder does not have: the cache, the bucket's journal)."""
    return _bucket_storage(s3, tmp_path, monkeypatch)


def _bucket_storage(s3, tmp_path, monkeypatch) -> Storage:
    data_dir = tmp_path / "data"
    bucket = s3.create_bucket()
    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    url = f"s3://{bucket}/team"
    monkeypatch.setenv("STUDIO_STORAGE_URL", url)
    monkeypatch.setenv("STUDIO_S3_ENDPOINT_URL", s3.endpoint_url)
    return Storage("s3", data_dir, url, s3, bucket)


@pytest.fixture
def store(storage):
    s = storage.open()
    yield s
    s.close()


def _save(store: Store, *datas: bytes, prompt: str = "a teapot") -> int:
    gen = store.generations.create_pending(prompt=prompt, settings={}, owner="proc-1", model="m")
    store.generations.mark_running(gen)
    store.generations.save_success(gen, outcome(*datas), latency_ms=5, cost_usd=None)
    return gen


def test_save_puts_original_thumbnail_and_turn_then_reads_them(storage, store):
    data = make_image(900, 600)
    gen = _save(store, data)
    sha = images.sha256_hex(data)
    keys = storage.keys()
    assert files.image_relpath(sha, "image/png") in keys and files.thumb_relpath(sha) in keys
    assert [k for k in keys if k.startswith("turns/")] and not [k for k in keys if k.startswith("journal/")]
    assert storage.read(files.image_relpath(sha, "image/png")) == data  # byte-identical in the bucket
    record = store.generations.get(gen)
    image = record.images[0]
    assert image.read() == data and image.thumb_path.is_file()
    turn = store.generations.model_content(gen)  # the slimmed turn, its image rebuilt from the storage
    assert base64.b64decode(turn["parts"][0]["inlineData"]["data"]) == data
    path = record.to_json()["images"][0]["path"]
    if storage.mode == "s3":
        assert path == f"s3://{storage.bucket}/team/{files.image_relpath(sha, 'image/png')}"
        assert not list((storage.data_dir / "images").rglob("*.png"))  # the bucket holds the originals
    else:
        assert path == str(storage.data_dir / files.image_relpath(sha, "image/png"))


def test_files_are_in_storage_before_the_row_commits(storage, store, monkeypatch):
    gen = store.generations.create_pending(prompt="p", settings={}, owner="proc-1", model="m")
    seen: list[tuple[str, str]] = []
    blobs = store.files.blobs
    real = blobs.put

    def spy(key, data, **kw):
        seen.append((key.split("/")[0], store.generations.get(gen).status))
        return real(key, data, **kw)

    monkeypatch.setattr(blobs, "put", spy)
    store.generations.save_success(gen, outcome(make_image(40, 30)), latency_ms=1, cost_usd=None)
    tops = [top for top, _ in seen]
    # the thumbnail is stored alongside the original, the turn after both
    assert sorted(tops[:2]) == ["images", "thumbs"] and tops[2] == "turns"
    assert {status for _, status in seen} == {"pending"}  # every object was there before the row said so
    if storage.mode == "s3":
        assert ("journal", "pending") in seen  # the journal reaches the bucket too, before the commit


class Requests:
    def __init__(self, client):
        self.sent: list[str] = []
        client.meta.events.register("before-send.s3", self._seen)

    def _seen(self, request, **_) -> None:  # returning something would stand in for the reply
        self.sent.append(request.method)


def test_history_reruns_read_the_local_cache(bucket_storage):
    storage, store = bucket_storage, bucket_storage.open()
    for i in range(4):
        _save(store, solid_image((10 * i, 20, 30), (120, 80)))
    shutil.rmtree(storage.data_dir / "cache")  # another machine: nothing cached yet
    requests = Requests(store.files.blobs.client)
    page = store.gallery.page(limit=10)
    assert len(page) == 4 and all(r.images[0].thumb_path.is_file() for r in page)
    assert requests.sent == ["GET"] * 4  # each thumbnail fetched once
    for _rerun in range(3):
        again = store.gallery.page(limit=10)
        assert [r.images[0].thumb_path.read_bytes() for r in again] == [
            r.images[0].thumb_path.read_bytes() for r in page
        ]
    assert requests.sent == ["GET"] * 4  # reruns sent nothing to the bucket
    store.close()


def test_a_new_image_is_put_without_asking_first_and_the_same_bytes_again_are_not_put(bucket_storage):
    storage, store = bucket_storage, bucket_storage.open()
    try:
        requests = Requests(store.files.blobs.client)
        data = make_image(300, 200)
        _save(store, data)
        # one question (is its thumbnail there?), then the original, its thumbnail, the turn and the journal
        assert sorted(requests.sent) == sorted(["HEAD", "PUT", "PUT", "PUT", "PUT", "DELETE"])
        requests.sent.clear()
        keys = storage.keys()
        _save(store, data, prompt="the same image again")
        assert requests.sent.count("PUT") == 2  # its turn and journal; the original and thumbnail stay
        assert storage.keys() == keys  # nothing new: the same bytes have the same names
    finally:
        store.close()


def test_trash_purge_removes_the_objects(storage, store):
    keep = _save(store, solid_image((1, 2, 3)))
    gone = _save(store, solid_image((200, 2, 3)))
    gone_sha = store.generations.get(gone).images[0].sha256
    store.trash_bin.trash([gone])
    report = store.trash_bin.empty_trash()
    assert report.generations == 1 and report.files_removed >= 2
    keys = storage.keys()
    assert not [k for k in keys if gone_sha in k]
    assert store.generations.get(keep).images[0].read() == solid_image((1, 2, 3))


def test_export_streams_and_import_puts_back(storage, store, tmp_path):
    a = make_image(300, 200)
    _save(store, a)
    out = tmp_path / "out.zip"
    report = exchange.export_selection(store, out)
    assert report.images == 1
    with zipfile.ZipFile(out) as zf:
        member = [n for n in zf.namelist() if n.endswith(".png")][0]
        assert zf.read(member) == a
    # empty the studio (rows and objects), then import the ZIP back into the same storage
    store.trash_bin.trash([r.id for r in store.gallery.page()])
    store.trash_bin.empty_trash()
    assert not [k for k in storage.keys() if k.startswith("images/")]
    result = exchange.import_zip(store, out)
    assert result.images_added == 1 and store.gallery.page()[0].images[0].read() == a
    sha = images.sha256_hex(a)
    assert storage.read(files.image_relpath(sha, "image/png")) == a
    assert files.thumb_relpath(sha) in storage.keys()


def test_doctor_finds_wrong_hash_and_remakes_thumbnail(storage, store):
    data = make_image(200, 100)
    gen = _save(store, data)
    sha = images.sha256_hex(data)
    rel = files.image_relpath(sha, "image/png")
    store.close()
    # damage the original in the storage and lose the thumbnail
    storage.write(rel, b"\x89PNG not the same bytes")
    if storage.mode == "files":
        (storage.data_dir / files.thumb_relpath(sha)).unlink()
    else:
        storage.s3.client().delete_object(Bucket=storage.bucket, Key=f"team/{files.thumb_relpath(sha)}")
    report = doctor.check(storage.data_dir, is_alive=lambda owner: False)
    kinds = {p.kind for p in report.problems}
    assert "wrong_hash" in kinds and not report.ok
    # put the original back: only the thumbnail is missing now, and --repair remakes it
    storage.write(rel, data)
    report = doctor.check(storage.data_dir, repair=True, is_alive=lambda owner: False)
    assert [p.kind for p in report.problems] == ["missing_thumbnail"] and report.ok
    assert files.thumb_relpath(sha) in storage.keys()
    s = storage.open()
    try:
        assert s.generations.get(gen).images[0].read() == data
    finally:
        s.close()


def test_another_machine_adopts_a_dead_process_paid_image(storage, store, monkeypatch):
    """The process died between its journal and its commit; in object mode a process on ANOTHER machine
    (its own data directory) finds the journal in the bucket and adopts the row."""
    from studio.storage import generation_repo

    gen = store.generations.create_pending(prompt="p", settings={}, owner="dead-proc", model="m")

    def die(*a, **k):
        raise SystemExit("killed")

    monkeypatch.setattr(generation_repo.GenerationRepository, "_commit_with_retries", die)
    with pytest.raises(SystemExit):
        store.generations.save_success(gen, outcome(make_image(50, 40)), latency_ms=1, cost_usd=None)
    monkeypatch.undo()
    if storage.mode == "files":
        assert list(journal.listing(storage.data_dir)) == [gen]
        adopted = store.generations.adopt_orphans(lambda owner: False)
        assert adopted == [gen]
        return
    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    # another machine: same history database (here: the same file), a data directory of its own
    local = storage.data_dir / "journal" / f"{gen}.json"
    local.unlink()  # that machine's disk never had it
    adopted = store.generations.adopt_orphans(lambda owner: False)
    assert adopted == [gen]
    assert store.generations.get(gen).status == "succeeded"
    store.generations._drop_stale_journals()
    assert not [k for k in storage.keys() if k.startswith("journal/")]


def test_lost_endpoint_is_a_sentence_and_loses_nothing(tmp_path, monkeypatch):
    """The object store goes away mid-run: the next save says so in a sentence, its row never claims an image,
    and what was saved before is still listed, with its thumbnail from the local cache."""
    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with s3_server() as own:
        bucket = own.create_bucket()
        monkeypatch.setenv("STUDIO_STORAGE_URL", f"s3://{bucket}/p")
        monkeypatch.setenv("STUDIO_S3_ENDPOINT_URL", own.endpoint_url)
        store = Store.for_settings(load_settings())
        before = _save(store, solid_image((5, 6, 7)))
        own.process.terminate()
        own.process.wait(timeout=10)
        gen = store.generations.create_pending(prompt="p", settings={}, owner="proc-1", model="m")
        with pytest.raises(StoreError) as err:
            store.generations.save_success(gen, outcome(solid_image((9, 9, 9))), latency_ms=1, cost_usd=None)
        message = str(err.value)
        assert "cannot be reached" in message and "nothing already saved was lost" in message
        assert "Traceback" not in message
        assert store.generations.get(gen).status == "pending" and store.generations.get(gen).images == []
        page = store.gallery.page()
        old = next(r for r in page if r.id == before)
        assert old.status == "succeeded" and old.images[0].thumb_path.is_file()
        # nothing cached (another machine): History still lists it; reading the original says why it cannot
        shutil.rmtree(storage_cache(store))
        requests = Requests(store.files.blobs.client)
        old = next(r for r in store.gallery.page() if r.id == before)
        assert not old.images[0].thumb_path.is_file() and requests.sent == ["GET"]
        store.gallery.page()  # a rerun during the outage does not wait on the bucket again
        assert requests.sent == ["GET"]
        with pytest.raises(StoreError, match="cannot be reached"):
            old.images[0].read()
        store.close()


def storage_cache(store: Store) -> Path:
    assert store.files.cache is not None
    return store.files.cache.root


def test_unknown_bucket_is_a_sentence(s3, tmp_path, monkeypatch):
    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("STUDIO_STORAGE_URL", "s3://nobody-made-this-bucket/p")
    monkeypatch.setenv("STUDIO_S3_ENDPOINT_URL", s3.endpoint_url)
    store = Store.for_settings(load_settings())
    try:
        with pytest.raises(StoreError, match="bucket nobody-made-this-bucket does not exist"):
            _save(store, solid_image((1, 1, 1)))
    finally:
        store.close()


def test_journal_document_is_in_the_bucket(bucket_storage):
    storage, store = bucket_storage, bucket_storage.open()
    gen = store.generations.create_pending(prompt="p", settings={}, owner="proc-1", model="m")
    journal.write(store.files.journals, gen, {"text": "x"}, [], [])
    doc = json.loads(storage.read(f"journal/{gen}.json"))
    assert doc["generation_id"] == gen and (storage.data_dir / "journal" / f"{gen}.json").is_file()
    journal.remove(store.files.journals, gen)
    assert f"journal/{gen}.json" not in storage.keys()
    store.close()


def test_doctor_quarantines_an_orphan_object_never_deleting_it(storage, store):
    _save(store, solid_image((3, 4, 5)))
    store.close()
    stray = solid_image((250, 250, 0))
    sha = images.sha256_hex(stray)
    rel = files.image_relpath(sha, "image/png")
    if storage.mode == "files":
        (storage.data_dir / rel).parent.mkdir(parents=True, exist_ok=True)
    storage.write(rel, stray)
    report = doctor.check(storage.data_dir, is_alive=lambda owner: False)
    assert [(p.kind, p.path) for p in report.problems] == [("orphan_file", rel)]
    report = doctor.check(storage.data_dir, repair=True, is_alive=lambda owner: False)
    assert report.ok and "quarantine/" in report.problems[0].action
    if storage.mode == "files":
        moved = list((storage.data_dir / "quarantine").rglob(f"{sha}.png"))
        assert [p.read_bytes() for p in moved] == [stray]
    else:
        moved = [k for k in storage.keys() if k.startswith("quarantine/")]
        assert [storage.read(k) for k in moved] == [stray] and moved[0].endswith(rel)
    assert rel not in storage.keys()
    assert doctor.check(storage.data_dir, is_alive=lambda owner: False).ok


def test_bucket_deleted_mid_run_is_a_sentence(bucket_storage):
    """Someone deletes the bucket while the studio runs: the next save names the missing bucket, its row never
    claims an image, and the history still lists what was saved, with its thumbnail from the local cache."""
    storage, store = bucket_storage, bucket_storage.open()
    before = _save(store, solid_image((7, 7, 70)))
    client = storage.s3.client()
    for item in client.list_objects_v2(Bucket=storage.bucket).get("Contents", []):
        client.delete_object(Bucket=storage.bucket, Key=item["Key"])
    client.delete_bucket(Bucket=storage.bucket)
    gen = store.generations.create_pending(prompt="p", settings={}, owner="proc-1", model="m")
    with pytest.raises(StoreError, match=f"bucket {storage.bucket} does not exist.*STUDIO_STORAGE_URL"):
        store.generations.save_success(gen, outcome(solid_image((1, 99, 1))), latency_ms=1, cost_usd=None)
    assert store.generations.get(gen).status == "pending"
    old = store.gallery.records([before])[0]
    assert old.status == "succeeded" and old.images[0].thumb_path.is_file()
    store.close()


def test_stashed_run_references_are_read_back_from_the_storage(storage, store):
    """An experiment's uploaded references are stashed in the storage; a re-run reads them back (in object mode
    from the bucket, so any machine can re-run it)."""
    from studio.imaging.images import sanitize_upload
    from studio.services.runs import load_references, stash_references

    ref = sanitize_upload(make_image(120, 90), "cat.png")
    [path] = stash_references(store, [ref])
    key = files.image_relpath(ref.sha256, ref.mime_type)
    assert storage.read(key) == ref.data
    if storage.mode == "s3":
        assert path == f"s3://{storage.bucket}/team/{key}"
        shutil.rmtree(storage.data_dir / "cache", ignore_errors=True)
    else:
        assert path == str(storage.data_dir / key)
    [again] = load_references([path], store.files.read_locator)
    assert again.sha256 == ref.sha256 and again.data == ref.data


def test_a_few_records_by_id_bring_their_originals_a_page_only_thumbnails(bucket_storage):
    store = bucket_storage.open()
    ids = [_save(store, solid_image((i, 40, 90), (96, 64))) for i in range(3)]
    shutil.rmtree(storage_cache(store))
    page = store.gallery.page(limit=10)
    assert all(r.images[0].thumb_path.is_file() and not r.images[0].path.is_file() for r in page)
    compared = store.gallery.records(ids[:2])  # e.g. Compare: its widgets read the originals' files
    assert all(r.images[0].path.read_bytes() == r.images[0].read() for r in compared)
    assert store.gallery.records([ids[2]])[0].images[0].path.is_file()
    store.close()


def test_a_thumbnail_cached_here_but_purged_by_another_machine_is_put_back(bucket_storage, tmp_path):
    """Machine A saves an image; machine B (own data directory, same bucket) trashes and empties it, which
    deletes the objects; A saves the same bytes again. A's cache still holds the thumbnail, but the bucket
    does not: the save must put it back, never commit a row naming a missing object."""
    import os

    a = bucket_storage.open()
    os.environ["STUDIO_DATA_DIR"] = str(tmp_path / "machine-b")  # restored by the autouse fixture
    os.environ["STUDIO_DATABASE_URL"] = f"sqlite:///{a.db_path}"  # one history, two machines' caches
    b = Store.for_settings(load_settings())
    try:
        data = solid_image((9, 90, 200))
        first = _save(a, data)
        a.gallery.page(limit=10)  # A's History caches the thumbnail
        b.trash_bin.trash([first])
        b.trash_bin.empty_trash()
        thumb_key = files.thumb_relpath(a.generations.get(_save(a, data)).images[0].sha256)
        assert thumb_key in bucket_storage.keys()
        assert [r.images[0].thumb_path.read_bytes() for r in b.gallery.page(limit=10)]  # B sees it too
    finally:
        a.close()
        b.close()


def test_a_search_page_names_the_storage_like_any_other_page(backend, tmp_path):
    """On both backends (PostgreSQL + bucket: its own search branch) a search's records point where every
    other page's do: the s3:// locator and the cached thumbnail, or the folder."""
    from tests.stores import open_store

    store = open_store(tmp_path / "data")
    try:
        _save(store, solid_image((4, 5, 6)), prompt="a teapot on a shelf")
        [plain] = store.gallery.page(limit=10)
        [found] = store.gallery.page(limit=10, search="teapots")
        assert found.images[0].locator == plain.images[0].locator
        assert found.images[0].path == plain.images[0].path and found.images[0].thumb_path.is_file()
        if backend == "postgresql":
            assert found.images[0].locator.startswith("s3://")
    finally:
        store.close()
