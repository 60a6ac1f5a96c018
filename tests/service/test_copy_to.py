"""`studio copy-to`: a studio made through the real service (emulator over HTTP, real SQLite files and images)
copied into another data directory; the copy shows the same History, byte for byte, and resumes after a
SIGKILL. SQLite -> SQLite here; the team backends add their own cases."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from studio import cli
from studio.domain.requests import GenerationRequest
from studio.services import doctor, editing, runs, uploads
from studio.services.access import Access
from studio.services.drafts import Draft
from studio.services.gallery import GalleryService
from studio.services.organise import OrganiseService
from studio.services.templates import TemplateService
from studio.storage import GalleryFilter, Store
from tests.factories import png

FLASH, PRO = "gemini-2.5-flash-image", "gemini-3-pro-image"


def _one(studio, ids):
    records = studio.wait(ids, timeout=60)
    assert records and all(r.status != "pending" for r in records)
    return records


@pytest.fixture
def source(studio, tmp_path):
    """A studio with a bit of everything: variants, a failure, a conversation, organisation, a template, a
    run, a draft with a reference tray image, something in the trash, an acknowledged interruption."""
    ref = uploads.prepare(png((10, 120, 30)), "leaf.png")
    variants = _one(
        studio,
        studio.submit(
            GenerationRequest(prompt="a red teapot on a shelf", model=FLASH, variants=3, references=(ref,))
        ),
    )
    _one(studio, studio.submit(GenerationRequest(prompt="a broken request [[fault:400]]", model=FLASH)))
    first = _one(studio, editing.start_edit(studio, "a brass lamp", model=PRO))[0]
    second = _one(studio, editing.continue_edit(studio, first.id, "make the lamp glow"))[0]
    assert second.status == "succeeded"
    plain = _one(studio, studio.submit(GenerationRequest(prompt="bakeries at dawn", model=FLASH)))[0]
    org = studio.organise
    org.add_tags([variants[0].id, plain.id], ["Kitchen", "warm"])
    org.set_favourite([variants[1].id], True)
    org.set_rating([variants[2].id], 4)
    board = org.create_collection("Moodboard")
    org.add_to_collection([variants[0].id, second.id], board)
    studio.templates.save("Still life", "a {object} on a table", tags=["studio"], notes="kept")
    # gallery review (revision 0004): a decision, a pinned thread, a read mark and a client link
    studio.review.decide(variants[0].id, "changes", collection_id=board)
    note = studio.review.comment(variants[0].id, "warmer glaze", pin={"x": 0.2, "y": 0.3, "w": 0.4, "h": 0.5})
    studio.review.comment(variants[0].id, "agreed", parent_id=note.id)
    studio.review.mark_read([note.id])
    studio.review.link_version(note.id, second.id)
    studio.links.create(board, feedback=True)
    run_id = runs.start(
        studio, runs.RunSpec(template="a {animal} portrait", variables={"animal": ["cat", "owl"]})
    )
    assert runs.wait(studio, run_id, timeout=60)
    trashed = _one(studio, studio.submit(GenerationRequest(prompt="a discarded sketch", model=FLASH)))[0]
    org.trash([trashed.id])
    studio.drafts.save(
        Draft(values={"gen_prompt": "half an idea"}, tray=(uploads.prepare(png((5, 5, 200)), "sky.png"),))
    )
    return Path(os.environ["STUDIO_DATA_DIR"])


def _copy(target: Path, *extra: str, capsys) -> tuple[int, str, str]:
    code = cli.main(
        ["copy-to", "--database", f"sqlite:///{target}/studio.db", "--storage", str(target), *extra]
    )
    out, err = capsys.readouterr()
    return code, out, err


def _tree(root: Path, folders=("images", "thumbs", "turns", "drafts", "previews")) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for folder in folders
        for p in sorted((root / folder).rglob("*"))
        if p.is_file()
    }


def _history(root: Path) -> dict:
    """What History shows, with paths made relative to the data directory."""
    store = Store(root)
    try:
        gallery = GalleryService(store, Access.local())

        def page(f=None):
            rows = []
            for r in gallery.page(f, limit=500):
                data = r.to_json()
                rows.append(json.loads(json.dumps(data, default=str).replace(str(root), "ROOT")))
            return rows

        return {
            "live": page(),
            "trash": page(GalleryFilter(deleted=True)),
            "teapot": [r.id for r in gallery.page(GalleryFilter(search="teapots"), limit=50)],
            "bakery": [r.id for r in gallery.page(GalleryFilter(search="bakery"), limit=50)],
            "facets": gallery.facets(),
            "totals": gallery.totals(),
            "tagged": [r.id for r in gallery.page(GalleryFilter(tag="kitchen"), limit=50)],
            "favourites": [r.id for r in gallery.page(GalleryFilter(favourite=True), limit=50)],
            "collections": OrganiseService(store, Access.local()).collections(),
            "templates": [
                (t.name, t.body, t.notes, t.tags) for t in TemplateService(store, Access.local()).templates()
            ],
            "draft": store.drafts.get(),
            "turn": [store.generations.model_content(r["id"]) is not None for r in page()],
        }
    finally:
        store.close()


def _tables(db: Path) -> dict[str, list]:
    conn = sqlite3.connect(db)
    try:
        names = [
            n
            for (n,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
            if not n.startswith("generation_fts") and n != "worker"  # leases: the live processes' own
        ]
        query = {n: f"SELECT * FROM {n}" for n in names}  # noqa: S608
        # the facet cube: empty cells left by pending rows, and float sums in another order, aside
        query["generation_stats"] = (
            "SELECT live, status, model, aspect_ratio, image_size, n, images, round(cost_usd, 6), "
            "prompt_tokens, output_tokens, total_tokens FROM generation_stats WHERE n != 0"
        )
        return {n: sorted(map(repr, conn.execute(q).fetchall())) for n, q in query.items()}
    finally:
        conn.close()


def test_copy_shows_the_same_history_and_a_second_run_copies_nothing(source, tmp_path, capsys):
    target = tmp_path / "copy"
    code, out, err = _copy(target, "--json", capsys=capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["ok"] and not report["already_there"] and report["failures"] == []
    assert report["rows"]["generation"] == report["rows_total"]["generation"] >= 10
    assert report["rows"]["asset"] == report["rows_total"]["asset"] > 0
    assert report["files"]["copied"] > 0 and report["files"]["bytes"] > 0
    assert report["verified"] == report["files"]["copied"] + report["files"]["present"]
    assert "traceback" not in err.lower()

    # every table (organisation, templates, runs, notices, drafts, stats) equal row for row
    assert _tables(target / "studio.db") == _tables(source / "studio.db")
    review = ("decision", "comment", "comment_seen", "share_link")
    assert all(_tables(target / "studio.db")[t] for t in review)  # the review came along too
    # the files byte-identical, and History the same: records, search (stemmed), facets, trash
    assert _tree(target) == _tree(source)
    assert _tree(source, ("drafts",)) and _tree(source, ("turns",))
    mine, theirs = _history(source), _history(target)
    assert mine["teapot"] and mine["bakery"] and mine["trash"] and mine["tagged"] and mine["favourites"]
    assert theirs == mine

    # the doctor finds the copy exactly as healthy as the source: no missing file, no orphan, no stray
    def kinds(root):
        return sorted((p.kind, p.detail.replace(str(root), "ROOT")) for p in doctor.check(root).problems)

    assert kinds(target) == kinds(source)

    code, out, err = _copy(target, "--json", capsys=capsys)
    again = json.loads(out)
    assert code == 0 and again["already_there"] is True
    assert set(again["rows"].values()) == {0} and again["files"]["copied"] == 0
    assert again["verified"] == again["files"]["present"] == report["verified"]
    code, out, _ = _copy(target, capsys=capsys)
    assert code == 0 and out.startswith("Nothing to copy:")


REPORT = {
    "ok": bool,
    "source": str,
    "target": str,
    "rows": dict,
    "rows_total": dict,
    "updated": dict,
    "files": dict,
    "verified": int,
    "already_there": bool,
    "failures": list,
}


def test_json_report_shape(source, tmp_path, capsys):
    code, out, _ = _copy(tmp_path / "copy", "--json", capsys=capsys)
    assert code == 0
    report = json.loads(out)
    assert {k: type(v) for k, v in report.items()} == REPORT
    assert set(report["files"]) == {"copied", "present", "bytes"}
    assert set(report["rows"]) == set(report["rows_total"]) == set(report["updated"])
    assert {
        "generation",
        "asset",
        "generation_asset",
        "tag",
        "collection",
        "run",
        "template",
        "draft",
    } <= set(report["rows"])
    assert str(tmp_path / "copy") in report["target"] and str(source) in report["source"]


def test_changes_since_an_earlier_copy_are_brought_over(source, studio, tmp_path, capsys):
    target = tmp_path / "copy"
    assert _copy(target, capsys=capsys)[0] == 0
    live = studio.gallery.page(limit=500)
    studio.organise.set_rating([live[0].id], 2)
    studio.organise.trash([live[1].id])
    studio.organise.add_tags([live[2].id], ["later"])
    new = _one(studio, studio.submit(GenerationRequest(prompt="made after the copy", model=FLASH)))[0]
    code, out, err = _copy(target, "--json", capsys=capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["rows"]["generation"] == 1 and report["updated"]["generation"] == 2
    assert report["rows"]["tag"] == 1 and report["files"]["copied"] >= 1
    assert _tables(target / "studio.db") == _tables(source / "studio.db")
    assert _history(target) == _history(source)
    assert new.id in [r["id"] for r in _history(target)["live"]]


def test_a_target_holding_another_history_is_refused(source, tmp_path, capsys):
    other = Store(tmp_path / "other")
    try:
        other.generations.create_pending(prompt="someone else's", model=FLASH, owner="t", settings={})
    finally:
        other.close()
    code, _, err = _copy(tmp_path / "other", capsys=capsys)
    assert code == 1 and "different generation #1" in err and "Traceback" not in err
    conn = sqlite3.connect(tmp_path / "other" / "studio.db")
    try:
        assert conn.execute("SELECT prompt FROM generation").fetchall() == [("someone else's",)]
        assert conn.execute("SELECT count(*) FROM asset").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM draft").fetchone() == (0,)
    finally:
        conn.close()
    assert not list((tmp_path / "other" / "images").rglob("*.*"))  # not a file written either


def test_the_conversation_goes_on_in_the_copy(source, studio_env, tmp_path, capsys):
    """The copy opened as a studio: an edit continues from a copied turn (its thought signatures and images
    rebuilt from the copied files, checked by the emulator)."""
    from studio.domain.settings import load_settings
    from studio.services.studio import Studio

    target = tmp_path / "copy"
    assert _copy(target, capsys=capsys)[0] == 0
    moved = Studio(load_settings({**os.environ, "STUDIO_DATA_DIR": str(target)}))
    try:
        [turn] = [r for r in moved.gallery.page(GalleryFilter(search="glow"), limit=5)]
        assert turn.has_model_content and turn.images[0].path.is_relative_to(target)
        [next_turn] = _one(moved, editing.continue_edit(moved, turn.id, "and a red shade"))
        assert next_turn.status == "succeeded", next_turn.error_message
        assert next_turn.parent_id == turn.id and next_turn.id > max(
            r.id for r in moved.gallery.page(limit=500)[1:]
        )
    finally:
        moved.close()


def test_a_new_generation_in_the_target_takes_a_new_id(source, tmp_path, capsys):
    target = tmp_path / "copy"
    assert _copy(target, capsys=capsys)[0] == 0
    store = Store(target)
    try:
        highest = max(
            r.id for r in GalleryService(store, Access.local()).page(GalleryFilter(deleted=None), limit=500)
        )
        new = store.generations.create_pending(prompt="after the move", model=FLASH, owner="t", settings={})
        assert new > highest
    finally:
        store.close()


def test_a_corrupt_source_file_is_named_and_no_row_is_written(source, tmp_path, capsys):
    image = sorted((source / "images").rglob("*.png"))[0]
    image.write_bytes(image.read_bytes()[:-7] + b"garbage")
    target = tmp_path / "copy"
    code, out, err = _copy(target, "--json", capsys=capsys)
    assert code == 1
    report = json.loads(out)
    assert report["ok"] is False and len(report["failures"]) == 1
    assert image.name in report["failures"][0] and "sha256" in report["failures"][0]
    assert image.name in err and "used by generation #" in err and "Traceback" not in err
    assert set(report["rows"].values()) == {0}
    conn = sqlite3.connect(target / "studio.db")
    try:
        assert conn.execute("SELECT count(*) FROM generation").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM asset").fetchone() == (0,)
    finally:
        conn.close()
    assert not (target / image.relative_to(source)).exists()  # the bad bytes were never written


def test_copying_into_itself_and_bad_urls_are_refused(source, tmp_path, capsys):
    code, _, err = _copy(source, capsys=capsys)
    assert code == 2 and "own database" in err
    code = cli.main(["copy-to", "--database", "not a url", "--storage", str(tmp_path / "x")])
    _, err = capsys.readouterr()
    assert code == 2 and "--database" in err and "Traceback" not in err
    code = cli.main(["copy-to", "--database", "mysql://u:hunter2@db/x", "--storage", str(tmp_path / "x")])
    _, err = capsys.readouterr()
    assert code == 2 and "hunter2" not in err and "mysql" in err
    with pytest.raises(SystemExit) as exit_:
        cli.main(["copy-to", "--storage", str(tmp_path / "x")])
    assert exit_.value.code == 2


def test_the_password_in_a_url_is_never_printed(source, tmp_path, capsys):
    target = tmp_path / "copy"
    url = f"sqlite://user:s3cret-pw@/{target}/studio.db"
    code = cli.main(["copy-to", "--database", url, "--storage", str(target), "--json"])
    out, err = capsys.readouterr()
    assert "s3cret-pw" not in out + err
    assert code == 0, err
    assert json.loads(out)["ok"]
    # a PostgreSQL URL nobody answers on: a sentence without the password, never a traceback
    url = "postgresql+psycopg://studio:s3cret-pw@127.0.0.1:1/studio"
    code = cli.main(["copy-to", "--database", url, "--storage", str(tmp_path / "pg"), "--json"])
    out, err = capsys.readouterr()
    assert code in (1, 2) and "s3cret-pw" not in out + err and "Traceback" not in err
    assert err.startswith("studio: ") and len(err.strip().splitlines()) == 1  # one sentence


def test_a_copy_killed_halfway_resumes_and_finishes(source, tmp_path, capsys):
    target = tmp_path / "copy"
    cmd = [
        sys.executable,
        "-m",
        "studio",
        "copy-to",
        "--database",
        f"sqlite:///{target}/studio.db",
        "--storage",
        str(target),
        "--batch-size",
        "1",
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    seen = []
    assert proc.stderr is not None
    for line in proc.stderr:
        seen.append(line)
        if "copying generation:" in line:  # rows are going in: stop it dead
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, seen

    def rows(db: Path) -> int:
        return sum(len(v) for k, v in _tables(db).items() if k != "generation_stats")

    half, whole = rows(target / "studio.db"), rows(source / "studio.db")
    assert 0 < half < whole, (half, whole)  # it really stopped halfway, after some batches went in
    # no row of the half copy names a file the target lacks
    conn = sqlite3.connect(target / "studio.db")
    try:
        for (path,) in conn.execute("SELECT path FROM asset"):
            assert (target / path).is_file()
    finally:
        conn.close()

    done = subprocess.run(
        [*cmd, "--json"], capture_output=True, text=True, env=os.environ.copy(), timeout=120
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] and not report["already_there"] and report["files"]["present"] > 0
    assert sum(report["rows"].values()) == whole - half  # resumed: only what the killed run had not done
    assert _tables(target / "studio.db") == _tables(source / "studio.db")
    assert _tree(target) == _tree(source)
    assert _history(target) == _history(source)


def test_copy_into_a_bucket_puts_every_file_under_its_key_and_a_second_run_copies_nothing(
    source, tmp_path, s3, monkeypatch, capsys
):
    from tests.servers import S3_ENV

    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("STUDIO_S3_ENDPOINT_URL", s3.endpoint_url)
    bucket = s3.create_bucket()
    db = tmp_path / "team.db"
    args = ["copy-to", "--database", f"sqlite:///{db}", "--storage", f"s3://{bucket}/studio", "--json"]
    assert cli.main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["files"]["copied"] > 0 and f"s3://{bucket}/studio" in report["target"]

    client = s3.client()
    objects = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="studio/"):
        for item in page.get("Contents", []):
            body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            objects[item["Key"].removeprefix("studio/")] = hashlib.sha256(body).hexdigest()
    assert objects == _tree(source)  # every original, thumbnail, turn and tray file, byte for byte

    assert cli.main(args) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["already_there"] is True and again["files"]["copied"] == 0


def test_the_own_database_under_another_address_is_refused(pg_server, tmp_path, monkeypatch, capsys):
    """A PostgreSQL history reached over TCP, and copy-to given the same database through the server's
    socket: the URLs differ, the database does not, and nothing is copied into itself."""
    url = pg_server.create_database()
    monkeypatch.setenv("STUDIO_DATABASE_URL", url)
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path / "data"))
    Store(tmp_path / "data", database_url=url).close()
    name = url.rsplit("/", 1)[1]
    from tests.servers import PG_USER

    by_socket = f"postgresql+psycopg://{PG_USER}@/{name}?host={pg_server.socket_dir}&port={pg_server.port}"
    code = cli.main(["copy-to", "--database", by_socket, "--storage", str(tmp_path / "copy")])
    _, err = capsys.readouterr()
    assert code == 2 and "own database under another address" in err and "Traceback" not in err
