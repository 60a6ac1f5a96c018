"""The composer's draft (``studio.drafts``) on a real SQLite file, and a dropped image's recipe."""

from __future__ import annotations

import io
import json
import logging
import sqlite3
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from studio.domain import catalogue
from studio.domain.requests import GenerationRequest
from studio.imaging import metadata
from studio.services import drafts as drafts_service
from studio.services import runs, uploads
from studio.services.drafts import Draft
from studio.storage import Store, migrations
from tests.factories import make_image, png
from tests.stores import legacy_row, sqlite_only, stored_keys

pytestmark = pytest.mark.usefixtures("backend")


def _ref(color=(10, 20, 30), name="fox.png"):
    return uploads.prepare(png(color), name)


def _clock_at(monkeypatch, now: float) -> None:
    """Set the drafts service's clock (files no draft names go only after a grace period, measured from
    their write time by the storage's own clock). A bucket's objects cannot be dated back the way a file's
    can with ``os.utime``, so on both backends the clock goes forward instead."""
    monkeypatch.setattr(drafts_service, "time", SimpleNamespace(time=lambda: now))


def _two_hours_after(monkeypatch, studio) -> None:
    """The drafts service's clock: two hours after the newest kept tray image was written (past the grace)."""
    blobs = studio._store.files.blobs
    written = [blobs.modified(key) for key in stored_keys(studio._store, "drafts/")]
    assert written and None not in written
    _clock_at(monkeypatch, max(written) + 2 * 3600)


def _kept(studio) -> list[str]:
    """The hashes of the kept tray images in the store's storage (the data directory, or the bucket)."""
    return [key.rsplit("/", 1)[-1].split(".")[0] for key in stored_keys(studio._store, "drafts/")]


def test_save_load_clear_round_trip(studio, monkeypatch) -> None:
    tray = (_ref((10, 20, 30), "fox.png"), uploads.prepare(png((90, 10, 10)), "map.png", role="character"))
    values = {
        "gen_prompt": "a fox reading a map",
        "gen_model": "gemini-3-pro-image-preview",
        "gen_variants": 3,
        "gen_adv_temperature": 0.7,
        "exp_models": ["gemini-2.5-flash-image"],
        "edit_first": "make it blue",
    }
    state = {
        "gen_feed": [
            {"ids": [41, 42], "prompt": "a fox", "model": "m", "at": 1.5},
            {"ids": [40], "prompt": "", "model": "m", "at": 1},
        ],
        "gen_sketches": [{"sha256": "ab", "name": "sketch-1.png"}],
    }
    assert studio.drafts.save(Draft(values=values, state=state, tray=tray))

    back = studio.drafts.load()
    assert back is not None
    assert back.values == values
    assert back.state == state
    assert [(r.sha256, r.role, r.name, r.data) for r in back.tray] == [
        (r.sha256, r.role, r.name, r.data) for r in tray
    ]
    assert _kept(studio) == sorted(r.sha256 for r in tray)

    _two_hours_after(monkeypatch, studio)  # past the grace period
    studio.drafts.save(Draft(values=values, tray=tray[:1]))  # the second image leaves the tray: its file goes
    assert _kept(studio) == [tray[0].sha256]

    _two_hours_after(monkeypatch, studio)  # (saving it again re-kept it: its grace period restarted)
    studio.drafts.clear()
    assert studio.drafts.load() is None
    assert _kept(studio) == []


def test_draft_survives_a_new_studio_on_the_same_data_dir(studio_env) -> None:
    from studio.domain.settings import load_settings
    from studio.services.studio import Studio

    first = Studio(load_settings())
    first.drafts.save(Draft(values={"gen_prompt": "kept"}, tray=(_ref(),)))
    first.close()
    second = Studio(load_settings())
    try:
        draft = second.drafts.load()
        assert draft is not None and draft.values == {"gen_prompt": "kept"} and len(draft.tray) == 1
    finally:
        second.close()


def test_unknown_keys_values_and_models_are_dropped_on_load(studio) -> None:
    body = {
        "version": 1,
        "values": {
            "gen_prompt": "still here",
            "gen_model": "gemini-9-imaginary",  # gone from the catalogue: the default is used
            "edit_model": "nope",
            "exp_models": ["gemini-9-imaginary", "gemini-2.5-flash-image"],
            "gen_variants": 99,
            "studio_secret": "x",  # not a builder key
            "gen_ratio": {"nested": "dict"},  # not a plain value
            "gen_tray": "not a widget value either",
        },
        "state": {"gen_feed": [{"ids": [1, 2]}], "other": 3},
        "tray": [{"sha256": "f" * 64, "mime_type": "image/png", "width": 1, "height": 1}, "junk"],
    }
    studio._store.drafts.put(json.dumps(body))
    draft = studio.drafts.load()
    assert draft is not None
    assert draft.values == {
        "gen_prompt": "still here",
        "exp_models": ["gemini-2.5-flash-image"],
        "gen_variants": catalogue.MAX_VARIANTS,
    }  # gen_tray: a plain value, but no widget's key
    assert draft.state == {"gen_feed": [{"ids": [1, 2]}]}
    assert draft.tray == ()  # its image is missing, and "junk" is no entry


def test_a_custom_model_id_is_kept(studio) -> None:
    studio.drafts.save(Draft(values={"gen_model": "__custom__", "gen_custom_model": "my-relay-model"}))
    assert studio.drafts.load().values == {"gen_model": "__custom__", "gen_custom_model": "my-relay-model"}


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", '{"values": [1]}', '{"tray": {"a": 1}}', "null"])
def test_a_corrupt_draft_is_ignored_with_a_log_line(studio, body, caplog) -> None:
    studio._store.drafts.put(body)
    with caplog.at_level(logging.WARNING, logger="studio.services.drafts"):
        assert studio.drafts.load() is None
    assert "saved draft was ignored" in caplog.text


def test_a_tray_image_whose_file_changed_is_left_out(studio, caplog) -> None:
    ref = _ref()
    studio.drafts.save(Draft(tray=(ref,)))
    [key] = stored_keys(studio._store, "drafts/")
    studio._store.files.blobs.put(key, png((1, 2, 3)), replace=True)
    with caplog.at_level(logging.WARNING, logger="studio.services.drafts"):
        assert studio.drafts.load().tray == ()
    assert "left out" in caplog.text


def test_a_read_only_store_does_not_raise(studio, monkeypatch) -> None:
    monkeypatch.setattr(studio._store.db, "readonly", True)
    assert studio.drafts.save(Draft(values={"gen_prompt": "x"})) is False
    studio.drafts.clear()  # logged, not raised


def test_migration_6_upgrades_a_database_made_up_to_migration_5(tmp_path: Path, monkeypatch) -> None:
    sqlite_only("a legacy SQLite file")
    upto5 = migrations.MIGRATIONS[: migrations.MIGRATIONS.index(migrations.m006_drafts)]
    assert upto5[-1] is migrations.m005_interruption_notices
    with monkeypatch.context() as m:
        m.setattr(migrations, "MIGRATIONS", upto5)
        m.setattr(migrations, "LATEST", len(upto5))
        Store(tmp_path).close()
    gen = legacy_row(tmp_path / "studio.db", "before drafts")
    con = sqlite3.connect(tmp_path / "studio.db")
    assert con.execute("PRAGMA user_version").fetchone() == (5,)
    assert con.execute("SELECT name FROM sqlite_master WHERE name = 'draft'").fetchall() == []
    con.close()

    store = Store(tmp_path)
    try:
        assert store.generations.get(gen).prompt == "before drafts"
        assert store.drafts.get() is None
        store.drafts.put('{"values": {}}')
        assert store.drafts.get() == '{"values": {}}'
        assert any(p.name.startswith("studio-5-") for p in (tmp_path / "backups").iterdir())
    finally:
        store.close()


# -- a dropped image ----------------------------------------------------------------------------


def _made(studio, **kw) -> tuple[int, bytes]:
    kw.setdefault("aspect_ratio", "16:9")
    request = GenerationRequest(prompt="a lighthouse in fog", model="gemini-2.5-flash-image", seed=7, **kw)
    [record] = studio.generate(request, timeout=30)
    assert record.status == "succeeded", record.error_message
    return record.id, record.images[0].path.read_bytes()


def test_a_stored_original_gives_back_its_request(studio) -> None:
    gen_id, data = _made(studio, references=(_ref(),))
    request = studio.drafts.from_image(data)
    assert request is not None
    assert (request.prompt, request.model, request.aspect_ratio, request.seed) == (
        "a lighthouse in fog",
        "gemini-2.5-flash-image",
        "16:9",
        7,
    )
    assert len(request.references) == 1


def test_a_download_with_metadata_gives_back_its_request(studio) -> None:
    gen_id, _ = _made(studio, temperature=0.4)
    record = studio.get(gen_id)
    embedded, _, _ = metadata.embed(record, record.images[0])
    request = studio.drafts.from_image(embedded)
    assert request is not None
    assert (request.prompt, request.aspect_ratio, request.seed, request.temperature) == (
        "a lighthouse in fog",
        "16:9",
        7,
        0.4,
    )


def test_a_download_from_another_studio_restores_from_its_metadata(studio) -> None:
    gen_id, _ = _made(studio)
    record = studio.get(gen_id)
    other = type(record)(
        **{**record.__dict__, "id": 999, "prompt": "a castle at dusk", "model": "m-elsewhere"}
    )
    embedded, _, _ = metadata.embed(other, record.images[0])
    request = studio.drafts.from_image(embedded)
    assert request is not None
    assert (request.prompt, request.model, request.aspect_ratio, request.references) == (
        "a castle at dusk",
        "m-elsewhere",
        "16:9",
        (),
    )


@pytest.mark.parametrize(
    "data", [make_image(), make_image(fmt="JPEG"), b"", b"GIF89a garbage", b"\x89PNG\r\n\x1a\n"]
)
def test_any_other_file_is_only_a_reference(studio, data) -> None:
    assert studio.drafts.from_image(data) is None


def test_run_zip_images_carry_their_prompt_and_settings(studio) -> None:
    spec = runs.RunSpec(
        template="a {animal}", variables={"animal": ["fox"]}, models=["gemini-2.5-flash-image"]
    )
    run_id = studio.runs.start(spec, concurrency=1)
    deadline = time.monotonic() + 60
    while studio.runs.is_running(run_id) and time.monotonic() < deadline:
        time.sleep(0.05)
    data = studio.runs.contact_sheet_zip(run_id)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        [name] = [n for n in zf.namelist() if n.startswith("images/")]
        found = metadata.read_embedded(zf.read(name))
    assert found is not None
    assert found["prompt"] == "a fox" and found["model"] == "gemini-2.5-flash-image"


def test_save_changes_merges_into_the_stored_draft(studio) -> None:
    from studio.services.drafts import DraftChanges

    studio.drafts.save(Draft(values={"gen_prompt": "a dog", "gen_variants": 2, "exp_template": "t"}))
    studio.drafts.save_changes(DraftChanges(values={"gen_variants": 3}, dropped_values=("exp_template",)))
    back = studio.drafts.load()
    assert back is not None and back.values == {"gen_prompt": "a dog", "gen_variants": 3}
    studio.drafts.save_changes(DraftChanges(tray=(_ref(),)))
    back = studio.drafts.load()
    assert back is not None and back.values["gen_prompt"] == "a dog" and len(back.tray) == 1


def test_each_value_is_checked_for_its_widgets_kind(studio) -> None:
    good = {
        "gen_prompt": "p",
        "gen_f_subject": "a fox",
        "exp_template": "a {x}",
        "exp_var_x": "1\n2",
        "gen_adv_system": "be brief",
        "gen_mode": "Form",
        "gen_ratio": "16:9",
        "gen_size": None,
        "exp_ratios": ["1:1", "4:3"],
        "gen_adv_include_thoughts": True,
        "edit_adv_google_search": False,
        "gen_adv_safety_harassment": "BLOCK_NONE",
        "exp_repeats": 2,
        "exp_threshold": 1.5,
        "gen_adv_seed": -5,
    }
    bad = {
        "exp_template": 5,  # a text area given a number stops the Experiment page on every visit
        "gen_prompt": ["a", "list"],
        "gen_f_subject": True,
        "gen_mode": 3,
        "exp_ratios": "1:1",
        "exp_sizes": [1, 2],
        "gen_adv_include_thoughts": "yes",
        "gen_adv_image_search": 1,
        "exp_repeats": 99,  # out of its range
        "exp_concurrency": 0,
        "exp_threshold": -1.0,
        "gen_adv_temperature": 7.0,
        "gen_adv_seed": 2**40,
        "edit_from_id": 0,
        "gen_unknown_widget": "x",  # no widget of that key
    }
    studio._store.drafts.put(json.dumps({"values": good}))
    assert studio.drafts.load().values == {**good, "exp_threshold": 1.5}
    studio._store.drafts.put(json.dumps({"values": bad}))
    assert studio.drafts.load().values == {}


def test_page_state_is_checked_for_its_shape(studio) -> None:
    good = {
        "gen_feed": [{"ids": [5, 6], "prompt": "p", "model": "m", "at": 2.0}],
        "gen_ids": [7, 8],
        "gen_sketches": [{"sha256": "ab", "name": "sketch-1.png", "instruction": "add a hat"}],
    }
    studio._store.drafts.put(json.dumps({"state": good}))
    assert studio.drafts.load().state == good
    bad = {
        "gen_feed": [[5, 6], {"ids": ["6"]}, {"ids": [1], "at": True}],
        "gen_ids": ["7"],
        "gen_sketches": [{"sha256": 5, "name": "x"}],
    }
    studio._store.drafts.put(json.dumps({"state": bad}))
    assert studio.drafts.load().state == {}


def test_a_session_saving_meanwhile_never_removes_a_tray_image_another_is_about_to_name(studio) -> None:
    """Session A keeps its tray image, then writes its row; session B saves (and prunes) in between."""
    from studio.services.drafts import DraftChanges

    repo = studio._store.drafts
    real_update = repo.update
    ref = _ref((200, 100, 50), "new.png")

    def b_saves_first(*args, **kwargs):
        repo.update = real_update
        studio.drafts.save_changes(DraftChanges(values={"gen_prompt": "B's prompt"}))  # prunes
        return real_update(*args, **kwargs)

    repo.update = b_saves_first
    studio.drafts.save_changes(DraftChanges(tray=(ref,)))  # session A
    back = studio.drafts.load()
    assert back is not None and back.values["gen_prompt"] == "B's prompt"
    assert [r.sha256 for r in back.tray] == [ref.sha256]  # its file is still there


def test_only_files_no_draft_names_and_older_than_the_grace_period_are_removed(studio, monkeypatch) -> None:
    old, young, named = _ref((1, 1, 1), "old.png"), _ref((2, 2, 2), "young.png"), _ref((3, 3, 3), "n.png")
    studio.drafts.save(Draft(tray=(old, named)))
    blobs = studio._store.files.blobs
    [old_key] = [k for k in stored_keys(studio._store, "drafts/") if old.sha256 in k]
    old_written = blobs.modified(old_key)
    assert old_written is not None
    # "young" is kept after "old" by the storage's own clock (a bucket's times are whole seconds)
    deadline = time.monotonic() + 10
    while True:
        studio._store.drafts.keep_image(young.sha256, young.mime_type, young.data)
        [young_key] = [k for k in stored_keys(studio._store, "drafts/") if young.sha256 in k]
        young_written = blobs.modified(young_key)
        assert young_written is not None
        if young_written > old_written:
            break
        assert time.monotonic() < deadline, "the storage's write times never moved on"
        time.sleep(0.1)
    # now: "old" (and "named") were written more than the grace period ago, "young" less
    _clock_at(monkeypatch, (old_written + young_written) / 2 + drafts_service.PRUNE_GRACE_S)
    studio.drafts.save(Draft(tray=(named,)))  # "old" is no longer named
    assert _kept(studio) == sorted([young.sha256, named.sha256])  # young: within the grace period
