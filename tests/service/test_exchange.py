"""Export to ZIP and import into another studio, on real stores; hostile ZIPs change nothing."""

from __future__ import annotations

import hashlib
import io
import json
import stat
import struct
import warnings
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from studio import cli
from studio.domain.errors import InputError, StoreError
from studio.domain.requests import ImagePart, Outcome
from studio.imaging import images
from studio.services.exchange import Limits, export_bytes, export_zip, import_zip
from studio.storage import GalleryFilter, Store
from tests.stores import db_execute, open_store

_n = iter(range(1, 10_000))


def png(size=(24, 16)) -> bytes:
    c = next(_n)
    buf = io.BytesIO()
    Image.new("RGB", size, (c % 256, 40, (c * 7) % 256)).save(buf, format="PNG")
    return buf.getvalue()


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (20, 20), (next(_n) % 256, 90, 9)).save(buf, format="JPEG")
    return buf.getvalue()


def make(store: Store, prompt: str, *datas: bytes, status: str = "succeeded", parent_id=None, refs=()) -> int:
    gen = store.generations.create_pending(
        prompt=prompt,
        model="gemini-2.5-flash-image",
        owner="t",
        parent_id=parent_id,
        settings={"aspect_ratio": "1:1", "seed": 3},
        composition={"subject": prompt},
        references=refs,
    )
    if status == "succeeded":
        out = Outcome(
            images=[ImagePart(d, images.sniff(d) or "") for d in datas],
            text=f"reply {prompt}",
            usage={"promptTokenCount": 5, "candidatesTokenCount": 50, "totalTokenCount": 55},
            finish_reason="STOP",
        )
        store.generations.save_success(gen, out, latency_ms=9, cost_usd=0.039)
    elif status != "pending":
        store.generations.save_failure(gen, status=status, error=StoreError("Simulated failure."))
    return gen


@pytest.fixture
def src(tmp_path: Path):
    s = Store(tmp_path / "src")
    yield s
    s.close()


@pytest.fixture
def dst(tmp_path: Path, backend: str):
    s = open_store(tmp_path / "dst")  # imports land on the backend under test; exports read SQLite
    yield s
    s.close()


@pytest.fixture
def populated(src: Store) -> dict[str, int]:
    shared = png()
    ref = images.sanitize_upload(png(), "face.png", role="character")
    g = {"root": make(src, "a fox in snow", shared, jpeg())}
    g["child"] = make(src, "the fox, now at night", png(), parent_id=g["root"], refs=[ref])
    g["twin"] = make(src, "another fox", shared)
    g["failed"] = make(src, "a blocked owl", status="blocked")
    g["other"] = make(src, "a city", png())
    src.organise.add_tags([g["root"], g["child"]], ["fox", "client"])
    src.organise.set_favourite([g["child"]], True)
    src.organise.set_rating([g["root"]], 4)
    return g


def snapshot(store: Store) -> tuple:
    counts = tuple(
        db_execute(store, f"SELECT count(*) FROM {t}")[0][0]
        for t in ("generation", "asset", "generation_asset", "tag", "generation_tag")
    )
    on_disk = sorted(
        str(p.relative_to(store.data_dir))
        for p in store.data_dir.rglob("*")
        if p.is_file() and not p.name.startswith("studio.db")
    )
    return counts, on_disk


# -- export ------------------------------------------------------------------------------------


def test_export_writes_manifest_and_exact_originals(
    src: Store, populated: dict[str, int], tmp_path: Path
) -> None:
    out = tmp_path / "out" / "export.zip"
    out.parent.mkdir()
    report = export_zip(src, out)
    assert (report.path, report.generations, report.images) == (out, 5, 5)  # shared image stored once
    assert list(out.parent.iterdir()) == [out]  # no temp file left behind
    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        names = zf.namelist()
        assert len(names) == len(set(names)) == 6
        for info in zf.infolist():
            if info.filename.startswith("images/"):
                data = zf.read(info)
                assert info.compress_type == zipfile.ZIP_STORED
                assert info.filename.split("/")[1].split(".")[0] == hashlib.sha256(data).hexdigest()
    assert manifest["format"] == "studio-export" and manifest["version"] == 1 and manifest["exported_at"]
    gens = {g["prompt"]: g for g in manifest["generations"]}
    root, child = gens["a fox in snow"], gens["the fox, now at night"]
    assert child["parent"] == root["id"] and root["parent"] is None
    assert root["tags"] == ["client", "fox"] and root["rating"] == 4 and child["favourite"] is True
    assert root["settings"] == {"aspect_ratio": "1:1", "seed": 3} and root["composition"] == {
        "subject": "a fox in snow"
    }
    assert (
        root["usage"]["totalTokenCount"] == 55
        and root["cost_usd"] == 0.039
        and root["text"] == "reply a fox in snow"
    )
    assert child["references"][0]["name"] == "face.png" and child["references"][0]["path"].startswith(
        "images/"
    )
    assert gens["a blocked owl"]["status"] == "blocked" and gens["a blocked owl"]["images"] == []
    record = src.generations.get(populated["root"])
    with zipfile.ZipFile(out) as zf:
        for image in record.images:
            assert zf.read(f"images/{image.sha256}.{image.path.suffix[1:]}") == image.path.read_bytes()


def test_export_selection_and_search(src: Store, populated: dict[str, int]) -> None:
    data, report = export_bytes(src, ids=[populated["other"]])
    assert report.generations == 1 and report.images == 1 and report.path is None
    _, report = export_bytes(src, filter=GalleryFilter(search="fox"))
    assert report.generations == 3
    src.trash_bin.trash([populated["twin"]])
    _, report = export_bytes(src, filter=GalleryFilter(search="fox"))
    assert report.generations == 2  # the trash is not exported unless asked for


# -- import ------------------------------------------------------------------------------------


def test_import_round_trip_without_duplicates(
    src: Store, dst: Store, populated: dict[str, int], tmp_path: Path
) -> None:
    zip_path = tmp_path / "x.zip"
    export_zip(src, zip_path)
    already = make(dst, "something of dst's own", png())
    report = import_zip(dst, zip_path)
    assert (report.generations_added, report.generations_skipped, report.images_added) == (5, 0, 5)
    assert dst.gallery.count() == 6
    by_prompt = {r.prompt: r for r in dst.gallery.page()}
    root, child = by_prompt["a fox in snow"], by_prompt["the fox, now at night"]
    original = src.generations.get(populated["root"])
    assert child.parent_id == root.id and root.tags == ["client", "fox"] and root.rating == 4
    assert child.favourite and child.references[0].name == "face.png"
    assert (root.settings, root.composition, root.text, root.usage, root.cost_usd, root.created_at) == (
        original.settings,
        original.composition,
        original.text,
        original.usage,
        original.cost_usd,
        original.created_at,
    )
    for mine, theirs in zip(root.images, original.images, strict=True):
        assert mine.read() == theirs.read() and mine.sha256 == theirs.sha256  # a bucket: fetched on read
        assert mine.thumb_path is not None and mine.thumb_path.exists()
    assert (
        dst.gallery.page(GalleryFilter(search="night"))[0].id == child.id
    )  # searchable at once (FTS triggers)
    assert dst.generations.get(already).prompt == "something of dst's own"

    before = snapshot(dst)
    again = import_zip(dst, zip_path)
    assert (again.generations_added, again.generations_skipped, again.images_added) == (0, 5, 0)
    assert snapshot(dst) == before and again.ids == report.ids

    # a ZIP exported from the importing studio does not duplicate the originals either
    back = tmp_path / "back.zip"
    export_zip(dst, back)
    home = import_zip(src, back)
    assert (home.generations_added, home.generations_skipped) == (1, 5)  # only dst's own generation is new
    assert home.images_present == 0 and home.images_added == 1


def test_import_reuses_images_already_stored(src: Store, dst: Store, tmp_path: Path) -> None:
    shared = png()
    make(src, "made in src", shared)
    make(dst, "made in dst from the same bytes", shared)
    zip_path = tmp_path / "x.zip"
    export_zip(src, zip_path)
    report = import_zip(dst, zip_path)
    assert (report.generations_added, report.images_added, report.images_present) == (1, 0, 1)
    assert db_execute(dst, "SELECT count(*) FROM asset") == [(1,)]


def test_import_marks_running_rows_interrupted(src: Store, dst: Store, tmp_path: Path) -> None:
    make(src, "still pending", status="pending")
    export_zip(src, tmp_path / "x.zip")
    import_zip(dst, tmp_path / "x.zip")
    [record] = dst.gallery.page()
    assert record.status == "interrupted" and record.owner == "import"
    assert dst.generations.active() == []


def test_cli_functions(src: Store, populated: dict[str, int], tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("STUDIO_DATA_DIR", str(src.data_dir))
    assert cli.main(["export", "--out", str(tmp_path / "cli.zip"), "--search", "fox"]) == 0
    assert "Exported 3 generations" in capsys.readouterr().out
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path / "fresh"))
    assert cli.main(["import", str(tmp_path / "cli.zip")]) == 0
    assert "Imported 3 generations" in capsys.readouterr().out


# -- hostile ZIPs ------------------------------------------------------------------------------

Members = list[tuple[zipfile.ZipInfo | str, bytes]]


def rebuild(base: Path, out: Path, mutate: Callable[[Members, dict], None]) -> Path:
    """Copy ``base`` member by member, letting ``mutate`` change the list and the manifest."""
    with zipfile.ZipFile(base) as zf:
        members: Members = [(info.filename, zf.read(info)) for info in zf.infolist()]
    manifest = json.loads(dict(members)["manifest.json"])
    mutate(members, manifest)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate-name case
        with zipfile.ZipFile(out, "w") as zf:
            for name, data in members:
                if name == "manifest.json" and data == b"":
                    data = json.dumps(manifest).encode()
                zf.writestr(name, data, zipfile.ZIP_DEFLATED)
    return out


def _manifest_placeholder(members: Members) -> None:
    """Mark the manifest to be re-serialised from the (mutated) dict."""
    for i, (name, _) in enumerate(members):
        if name == "manifest.json":
            members[i] = (name, b"")


def first_image(members: Members) -> int:
    return next(i for i, (n, _) in enumerate(members) if str(getattr(n, "filename", n)).startswith("images/"))


def add(name: str, data: bytes = b"x") -> Callable:
    return lambda members, manifest: members.append((name, data))


def symlink(members: Members, manifest: dict) -> None:
    i = first_image(members)
    info = zipfile.ZipInfo(members[i][0])
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    members[i] = (info, b"/etc/passwd")


def bomb(members: Members, manifest: dict) -> None:
    members.append(("images/" + "ab" * 32 + ".png", b"\x00" * (3 * 2**20)))


def duplicate(members: Members, manifest: dict) -> None:
    members.append(members[first_image(members)])


def drop(name: str) -> Callable:
    return lambda members, manifest: members.__setitem__(
        slice(None), [(n, d) for n, d in members if n != name]
    )


def replace_image(data: bytes) -> Callable:
    def go(members: Members, manifest: dict) -> None:
        i = first_image(members)
        members[i] = (members[i][0], data)

    return go


def manifest_edit(fn: Callable[[dict], None]) -> Callable:
    def go(members: Members, manifest: dict) -> None:
        fn(manifest)
        _manifest_placeholder(members)

    return go


def with_image(data: bytes, mime: str = "image/png", ext: str = "png") -> Callable:
    """Add an image entry whose hash matches ``data`` (so only the content check can refuse it)."""

    def go(members: Members, manifest: dict) -> None:
        sha = hashlib.sha256(data).hexdigest()
        manifest["generations"][0]["images"].append(
            {"sha256": sha, "mime_type": mime, "path": f"images/{sha}.{ext}"}
        )
        members.append((f"images/{sha}.{ext}", data))
        _manifest_placeholder(members)

    return go


def png_claiming(width: int, height: int) -> bytes:
    data = bytearray(png((1, 1)))
    ihdr = data[12:29]
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)
    return bytes(data)


def gen0(key: str, value) -> Callable:
    return manifest_edit(lambda m: m["generations"][0].__setitem__(key, value))


HOSTILE: dict[str, tuple[Callable, str]] = {
    "dotdot": (add("../evil.txt"), "outside the archive"),
    "dotdot-inside": (add("images/../../evil.png"), "outside the archive"),
    "absolute": (add("/etc/cron.d/evil"), "outside the archive"),
    "drive": (add("C:\\evil.png"), "outside the archive"),
    "drive-slash": (add("C:/evil.png"), "outside the archive"),
    "unc": (add("\\\\server\\share\\evil.png"), "outside the archive"),
    "nul": (add("images/a\x00.png"), "refused"),  # zipfile cuts the name at NUL: refused either way
    "unexpected": (add("evil.py", b"import os"), "not part of a studio export"),
    "symlink": (symlink, "symbolic link"),
    "duplicate": (duplicate, "appears twice"),
    "bomb": (bomb, "ZIP bomb"),
    "no-manifest": (drop("manifest.json"), "no manifest.json"),
    "missing-image": (lambda m, _: m.pop(first_image(m)), "is missing"),
    "sha-mismatch": (replace_image(png()), "does not match its sha256"),
    "not-an-image": (with_image(b"<svg onload=alert(1)>" + b" " * 64), "is not a image/png image"),
    "html-as-jpeg": (with_image(b"<html><script>x</script></html>", "image/jpeg", "jpg"), "not a image/jpeg"),
    "truncated-image": (with_image(png()[:40]), "could not be read as an image"),
    "pixel-bomb": (with_image(png_claiming(60_000, 60_000)), "could not be read|megapixels"),
    "bad-json": (lambda m, _: m.__setitem__(0, ("manifest.json", b"{not json")), "not valid JSON"),
    "not-utf8": (lambda m, _: m.__setitem__(0, ("manifest.json", b"\xff\xfe{}")), "not valid JSON"),
    "wrong-format": (manifest_edit(lambda m: m.__setitem__("format", "other-tool")), "not a studio export"),
    "version": (manifest_edit(lambda m: m.__setitem__("version", 99)), "version '99'"),
    "version-bool": (manifest_edit(lambda m: m.__setitem__("version", True)), "version"),
    "no-generations": (
        manifest_edit(lambda m: m.__setitem__("generations", {"a": 1})),
        "no list of generations",
    ),
    "bad-status": (gen0("status", "exploded"), "unknown status"),
    "bad-rating": (gen0("rating", 9), "rating outside"),
    "bool-id": (gen0("id", True), "'id'"),
    "prompt-not-text": (gen0("prompt", ["x"]), "'prompt'"),
    "bad-date": (gen0("created_at", "yesterday"), "created_at"),
    "unknown-parent": (gen0("parent", 999), "parent that is not in the export"),
    # a cost that would lower someone's month (or poison History's totals)
    "negative-cost": (gen0("cost_usd", -1000), "cost_usd that is not an amount"),
    "nan-cost": (gen0("cost_usd", float("nan")), "cost_usd that is not an amount"),
    "infinite-cost": (gen0("cost_usd", float("inf")), "cost_usd that is not an amount"),
    "text-cost": (gen0("cost_usd", "0.1"), "cost_usd"),
    "path-mismatch": (
        manifest_edit(
            lambda m: m["generations"][0]["images"][0].__setitem__("path", "images/../../../evil.png")
        ),
        "does not match its hash",
    ),
    "duplicate-ids": (
        manifest_edit(lambda m: m["generations"][1].__setitem__("id", m["generations"][0]["id"])),
        "same generation id twice",
    ),
}


@pytest.fixture
def base_zip(src: Store, populated: dict[str, int], tmp_path: Path) -> Path:
    path = tmp_path / "base.zip"
    export_zip(src, path)
    return path


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_zip_is_refused_and_changes_nothing(
    dst: Store, base_zip: Path, tmp_path: Path, case: str
) -> None:
    mutate, message = HOSTILE[case]
    hostile = rebuild(base_zip, tmp_path / f"{case}.zip", mutate)
    make(dst, "dst's own work", png())
    before = snapshot(dst)
    with pytest.raises(InputError, match=message) as info:
        import_zip(dst, hostile)
    assert info.value.message.startswith("The ZIP was refused and nothing was imported")
    assert snapshot(dst) == before
    assert not (tmp_path / "evil.txt").exists()


def test_imported_rows_count_against_no_budget(dst: Store, base_zip: Path) -> None:
    """An import keeps each generation's cost and date for History, but what another studio spent (or
    what a ZIP claims it spent) is not this studio's spend: the month sums and the spend report leave it
    out, whoever imported it."""
    from datetime import UTC, datetime

    from studio.storage.spend_repo import SpendRepository, month_bounds

    report = import_zip(dst, base_zip, author="ann@studio.test")
    assert report.generations_added == 5
    assert (
        db_execute(
            dst, "SELECT count(*) FROM generation WHERE cost_usd > 0 AND author = ?", ("ann@studio.test",)
        )[0][0]
        == 4
    )
    spend = SpendRepository(dst.db)
    start, end = month_bounds(datetime.now(UTC))
    assert spend.month(since=start, until=end, author="ann@studio.test").used_usd == 0
    assert spend.month(since=start, until=end).used_usd == 0
    today = datetime.now(UTC).date()
    assert spend.report(today, today) == []
    # the importer's own work still counts
    [own] = dst.generations.create_pending_many(
        count=1,
        author="ann@studio.test",
        private=False,
        estimate_usd=0.05,
        limits=None,
        prompt="own",
        model="gemini-2.5-flash-image",
        settings={},
        owner="t",
    )
    assert spend.month(since=start, until=end, author="ann@studio.test").used_usd == pytest.approx(0.05)
    assert [r.generations for r in spend.report(today, today)] == [1]


@pytest.mark.parametrize(
    "limits, message",
    [
        (Limits(max_member_bytes=100), "the limit is"),
        (Limits(max_total_bytes=1000), "would expand to more than"),
        (Limits(max_members=2), "members; the limit is"),
        (Limits(max_manifest_bytes=50), "the limit is"),
        (Limits(max_pixels=100), "megapixels"),
        (Limits(max_zip_bytes=100), "larger than"),
        (Limits(max_generations=2), "far too many"),
    ],
)
def test_limits_are_enforced(dst: Store, base_zip: Path, limits: Limits, message: str) -> None:
    before = snapshot(dst)
    with pytest.raises(InputError, match=message):
        import_zip(dst, base_zip, limits=limits)
    assert snapshot(dst) == before


def test_not_a_zip_and_missing_file(dst: Store, tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"PK\x03\x04 definitely not a zip" * 10)
    with pytest.raises(InputError, match="not a readable ZIP"):
        import_zip(dst, junk)
    with pytest.raises(InputError, match="There is no file"):
        import_zip(dst, tmp_path / "nope.zip")
    assert snapshot(dst)[0] == (0, 0, 0, 0, 0)


def test_lying_header_size_is_caught(dst: Store, base_zip: Path, tmp_path: Path) -> None:
    """A member whose header claims fewer bytes than it holds is cut at the claimed size and fails its CRC."""
    raw = bytearray(base_zip.read_bytes())
    with zipfile.ZipFile(base_zip) as zf:
        info = next(i for i in zf.infolist() if i.filename.startswith("images/"))
    offset = info.header_offset + 22  # local header: uncompressed size
    raw[offset : offset + 4] = struct.pack("<I", 10)
    start = 0
    while (
        pos := raw.find(b"PK\x01\x02", start)
    ) != -1:  # central directory: uncompressed size of that member
        name_len = struct.unpack("<H", raw[pos + 28 : pos + 30])[0]
        if raw[pos + 46 : pos + 46 + name_len].decode() == info.filename:
            raw[pos + 24 : pos + 28] = struct.pack("<I", 10)
        start = pos + 4
    lying = tmp_path / "lying.zip"
    lying.write_bytes(bytes(raw))
    before = snapshot(dst)
    with pytest.raises(InputError, match="refused"):
        import_zip(dst, lying)
    assert snapshot(dst) == before


def test_a_private_generation_stays_private_through_export_and_import(
    src: Store, dst: Store, populated: dict[str, int], tmp_path: Path
) -> None:
    src.organise.set_private([populated["twin"]], True)
    zip_path = tmp_path / "x.zip"
    export_zip(src, zip_path)
    with zipfile.ZipFile(zip_path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert sorted(g["prompt"] for g in manifest["generations"] if g["private"]) == ["another fox"]
    import_zip(dst, zip_path)
    assert {r.prompt: r.private for r in dst.gallery.page()} == {
        "a fox in snow": False,
        "the fox, now at night": False,
        "another fox": True,
        "a blocked owl": False,
        "a city": False,
    }
