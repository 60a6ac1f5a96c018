"""AppTest of the History gallery against the real emulator: search, filters with counts, density,
paging, organising, bulk actions, compare, trash, export, downloads and hand-overs to other pages.

The grid is one browser component: these tests read what it is sent (``grid``/``shown``), open a generation
through the URL (``?id=``, the contract a click uses) and select through ``hist_selected``; the clicks
themselves (open, star, select, stacks) are driven in Chromium (tests/browser/test_browser_gallery.py)."""

from __future__ import annotations

import io
import json
import traceback
import zipfile
from datetime import UTC, datetime

import pytest
from PIL import Image
from streamlit.runtime.media_file_manager import MediaFileManager

from studio.app.widgets import gallery_grid as gallery
from studio.domain.requests import GenerationRequest
from studio.services import editing

from .helpers import all_text, texts
from .history_helpers import grid, shown

FLASH, PRO = "gemini-2.5-flash-image", "gemini-3-pro-image"


@pytest.fixture
def downloads(monkeypatch) -> dict:
    """file name -> the deferred data callable a download button registered (called by the test)."""
    seen: dict = {}
    original = MediaFileManager.add_deferred

    def record(self, data_callable, mimetype, coordinates, file_name=None, **kw):
        seen[file_name] = data_callable
        return original(self, data_callable, mimetype, coordinates, file_name=file_name, **kw)

    monkeypatch.setattr(MediaFileManager, "add_deferred", record)
    return seen


def _make(studio, prompt: str, model: str = FLASH, **kw) -> int:
    [record] = studio.generate(GenerationRequest(prompt=prompt, model=model, **kw), timeout=20)
    return record.id


def _history(make_app, studio):
    at = make_app(studio).run()
    at.switch_page("screens/history.py").run()
    assert not at.exception, at.exception
    return at


def _open(at, gen_id: int):
    """Open a generation as a click on its tile does: ``?id=`` in the URL."""
    at.query_params["id"] = str(gen_id)
    return at.run()


def _select(at, *ids: int):
    at.session_state["hist_selected"] = (
        [*at.session_state["hist_selected"], *ids] if "hist_selected" in at.session_state else list(ids)
    )
    at.run()
    assert set(ids) <= set(at.session_state["hist_selected"])
    assert set(ids) <= set(grid(at)["selected"])  # the tiles are drawn selected
    return at


def _captions(at) -> str:
    return "\n".join(c.value.replace("\\", "") for c in at.caption)


def test_filters_show_counts_and_combine(make_app, studio):
    _make(studio, "a fox in snow", FLASH, aspect_ratio="1:1")
    _make(studio, "a fox in rain", PRO, aspect_ratio="16:9", image_size="2K")
    _make(studio, "a heron at dawn", PRO, aspect_ratio="16:9", image_size="1K")
    at = _history(make_app, studio)
    assert set(shown(at)) == {"a fox in snow", "a fox in rain", "a heron at dawn"}
    assert "3 generations · 3 images" in _captions(at).replace("**", "")
    models = at.multiselect(key="hist_model").options
    assert any(o.endswith("(2)") and "Pro" in o for o in models) and any(o.endswith("(1)") for o in models)
    at.multiselect(key="hist_model").set_value([PRO]).run()
    assert set(shown(at)) == {"a fox in rain", "a heron at dawn"}
    assert "2 generations" in _captions(at).replace("**", "")
    # the model facet ignores its own filter; the size facet honours the model filter
    assert any(o.endswith("(1)") for o in at.multiselect(key="hist_model").options)
    assert sorted(at.multiselect(key="hist_size").options) == ["1K (1)", "2K (1)"]
    at.multiselect(key="hist_size").set_value(["2K"]).run()
    assert shown(at) == ["a fox in rain"]
    at.button(key="hist_clear_filters").click().run()
    at.text_input(key="hist_search").input("fox").run()
    assert set(shown(at)) == {"a fox in snow", "a fox in rain"}
    at.multiselect(key="hist_ratio").set_value(["1:1"]).run()
    assert shown(at) == ["a fox in snow"]
    at.multiselect(key="hist_status").set_value(["blocked"]).run()
    assert not shown(at) and any("Nothing matches" in i.value for i in at.info)
    assert not at.exception


def test_failed_cards_show_status_and_error_kind_and_density_changes_columns(make_app, studio):
    _make(studio, "a calm lake")
    _make(studio, "[[fault:blocked]] a dragon")
    at = _history(make_app, studio)
    data = grid(at)
    [[tile]] = [g["tiles"] for g in data["groups"]]  # the succeeded one's thumbnail
    assert tile["prompt"] == "a calm lake" and tile["w"] > 0 and tile["src"].startswith("data:image/jpeg")
    [chip] = data["chips"]  # the blocked one is a compact chip, not an image-sized card
    assert chip["label"] == "Blocked" and chip["prompt"] == "[[fault:blocked]] a dragon"
    medium = data["row"]
    at.button_group(key="hist_density").set_value("Small").run()
    assert grid(at)["row"] < medium
    at.button_group(key="hist_density").set_value("Large").run()
    assert grid(at)["row"] > medium
    at.multiselect(key="hist_status").set_value(["succeeded"]).run()  # the status filter hides failures
    assert grid(at)["chips"] == [] and shown(at) == ["a calm lake"]


def test_paging_is_keyset_and_survives_a_filter(make_app, studio, monkeypatch):
    monkeypatch.setattr(gallery, "PAGE_SIZE", 2)
    for n in range(5):
        _make(studio, f"tile {n}")
    at = _history(make_app, studio)
    assert shown(at) == ["tile 4", "tile 3"]
    at.button(key="hist_older").click().run()
    assert shown(at) == ["tile 2", "tile 1"] and at.query_params["before"] == "4"  # keyset, in the URL
    at.button(key="hist_older").click().run()
    assert shown(at) == ["tile 0"] and at.button(key="hist_older").disabled
    at.button(key="hist_newer").click().run()
    assert shown(at) == ["tile 2", "tile 1"] and at.query_params["after"] == "1"  # just above tile 0
    assert "before" not in at.query_params
    at.button(key="hist_newer").click().run()
    assert shown(at) == ["tile 4", "tile 3"] and at.button(key="hist_newer").disabled
    at.button(key="hist_older").click().run()
    at.text_input(key="hist_search").input("tile").run()  # a new filter starts at the first page
    assert "before" not in at.query_params and "after" not in at.query_params
    assert shown(at) == ["tile 4", "tile 3"]


def test_favourite_and_rating_then_filter_by_them(make_app, studio):
    a, b = _make(studio, "star me"), _make(studio, "leave me")
    at = _history(make_app, studio)
    _open(at, a)
    at.button(key="hist_fav").click().run()
    assert studio.get(a).favourite and not studio.get(b).favourite
    at.button(key="hist_back").click().run()
    assert [t["fav"] for g in grid(at)["groups"] for t in g["tiles"]] == [False, True]  # b, a
    at.toggle(key="hist_fav_only").set_value(True).run()
    assert shown(at) == ["star me"]
    at.toggle(key="hist_fav_only").set_value(False).run()
    _open(at, b)
    at.feedback(key=f"hist_rate_{b}").set_value(3).run()  # the 4th star
    assert studio.get(b).rating == 4
    at.button(key="hist_back").click().run()
    at.selectbox(key="hist_min_rating").set_value(4).run()
    assert shown(at) == ["leave me"]


def test_tags_and_collections_from_detail_and_bulk(make_app, studio):
    a, b, c = _make(studio, "moodboard one"), _make(studio, "moodboard two"), _make(studio, "elsewhere")
    at = _history(make_app, studio)
    at.text_input(key="hist_new_coll").input("Client A").run()
    at.button(key="hist_create_coll").click().run()
    [(cid, name, _)] = studio._store.organise.collections()
    assert name == "Client A"
    _select(at, a, b)
    at.selectbox(key="hist_bulk_coll").set_value(cid)
    at.button(key="hist_bulk_coll_add").click().run()
    assert [r.collections for r in studio._store.gallery.records([a, b, c])] == [[cid], [cid], []]
    at.text_input(key="hist_bulk_tag").input("hero")
    at.button(key="hist_bulk_tag_add").click().run()
    assert studio.get(a).tags == ["hero"] and studio.get(b).tags == ["hero"] and studio.get(c).tags == []
    assert "hero (2)" in at.selectbox(key="hist_tag").options
    at.selectbox(key="hist_collection").set_value(cid).run()
    assert set(shown(at)) == {"moodboard one", "moodboard two"}
    at.selectbox(key="hist_collection").set_value(gallery.ANY_COLLECTION).run()
    at.selectbox(key="hist_tag").set_value("hero").run()
    assert set(shown(at)) == {"moodboard one", "moodboard two"}
    at.selectbox(key="hist_tag").set_value(gallery.ANY_TAG).run()
    # in the detail view: add a tag, remove it, put the third one in the board
    _open(at, c)
    at.text_input(key=f"hist_tag_new_{c}").input("b-side")
    at.button(key=f"hist_tag_add_{c}").click().run()
    assert studio.get(c).tags == ["b-side"]
    at.button(key=f"hist_untag_{c}_b-side").click().run()
    assert studio.get(c).tags == []
    at.button(key=f"hist_coll_add_{c}").click().run()
    assert studio.get(c).collections == [cid]
    at.button(key="hist_back").click().run()
    at.text_input(key=f"hist_rename_{cid}").input("Client B")
    at.button(key=f"hist_rename_btn_{cid}").click().run()
    assert studio._store.organise.collections()[0][1] == "Client B"
    at.button(key=f"hist_delete_coll_{cid}").click().run()
    assert studio._store.organise.collections() == [] and studio.get(c) is not None


def test_bulk_favourite_rate_trash_restore_and_empty(make_app, studio):
    a, b, c = _make(studio, "keep"), _make(studio, "bin one"), _make(studio, "bin two")
    at = _history(make_app, studio)
    at.button(key="hist_select_page").click().run()
    assert sorted(at.session_state["hist_selected"]) == [a, b, c]
    at.button(key="hist_bulk_fav").click().run()
    assert all(r.favourite for r in studio._store.gallery.records([a, b, c]))
    at.selectbox(key="hist_bulk_stars").set_value(2)
    at.button(key="hist_bulk_rate").click().run()
    assert [r.rating for r in studio._store.gallery.records([a, b, c])] == [2, 2, 2]
    at.button(key="hist_clear_sel").click().run()
    _select(at, b, c)
    at.button(key="hist_bulk_trash").click().run()
    assert shown(at) == ["keep"] and any("trash" in s.value for s in at.success)
    at.toggle(key="hist_trash").set_value(True).run()
    assert set(shown(at)) == {"bin one", "bin two"}
    _select(at, b)
    at.button(key="hist_bulk_restore").click().run()
    assert studio.get(b).deleted_at is None and shown(at) == ["bin two"]
    path = studio.get(c).images[0].path
    at.button(key="hist_empty").click().run()
    warning = " ".join(w.value for w in at.warning)
    assert "1 generation" in warning and "cannot be undone" in warning
    assert "#%d · bin two" % c in texts(at)
    at.button(key="hist_empty_yes").click().run()
    assert studio.get(c) is None and not path.exists()
    assert any("Deleted 1 generation" in s.value for s in at.success)


def test_compare_two_shows_both_and_the_diff(make_app, studio):
    a = _make(studio, "a chair", FLASH, aspect_ratio="1:1")
    b = _make(studio, "a chair", PRO, aspect_ratio="16:9", image_size="2K")
    at = _history(make_app, studio)
    _select(at, a)
    assert at.button(key="hist_compare_btn").disabled  # needs 2-4
    _select(at, b)
    at.button(key="hist_compare_btn").click().run()
    assert not at.exception
    assert len(at.image) == 2
    frame = at.dataframe[0].value
    assert list(frame.columns) == ["Setting", f"#{a}", f"#{b}"]
    rows = dict(zip(frame["Setting"], zip(frame[f"#{a}"], frame[f"#{b}"], strict=True), strict=True))
    assert rows["aspect_ratio"] == ("1:1", "16:9") and rows["model"] == (FLASH, PRO)
    assert "prompt" not in rows  # the same in both: only differences are listed
    at.button(key="hist_compare_back").click().run()
    assert len(shown(at)) == 2


def _manifest_prompts(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        for g in manifest["generations"]:
            assert g["images"][0]["path"] in zf.namelist()
    return sorted(g["prompt"] for g in manifest["generations"])


def test_export_zip_of_selection_and_of_search(make_app, studio, downloads):
    a, b = _make(studio, "export alpha"), _make(studio, "export beta")
    _make(studio, "not this")
    at = _history(make_app, studio)
    _select(at, a, b)
    assert at.download_button(key="hist_export_sel").label == "Export 2"
    assert _manifest_prompts(downloads["studio-selection.zip"]()) == ["export alpha", "export beta"]
    at.button(key="hist_clear_sel").click().run()
    at.text_input(key="hist_search").input("export").run()
    assert _manifest_prompts(downloads["studio-export.zip"]()) == [
        "export alpha",
        "export beta",
    ]  # the search


def test_download_carries_prompt_and_settings(make_app, studio, downloads):
    gen_id = _make(studio, "a tin robot", FLASH, aspect_ratio="3:2")
    at = _history(make_app, studio)
    _open(at, gen_id)
    [name] = [n for n in downloads if n.startswith(f"studio-{gen_id}-")]
    data = downloads[name]()
    with Image.open(io.BytesIO(data)) as im:
        assert im.text["prompt"] == "a tin robot"
        assert json.loads(im.text["parameters"])["settings"]["aspect_ratio"] == "3:2"


def test_detail_shows_lineage_sources_and_inert_text(make_app, studio):
    root = _make(studio, "a teapot <b>bold</b>", FLASH)
    [child] = studio.wait(editing.continue_edit(studio, root, "make it blue"), timeout=20)
    at = _history(make_app, studio)
    _open(at, child.id)
    assert not at.exception
    assert at.button(key=f"hist_tree_{root}") and at.button(key=f"hist_tree_{child.id}").disabled
    at.button(key=f"hist_tree_{root}").click().run()
    assert [c.value for c in at.code][0] == "a teapot <b>bold</b>"
    assert not at.get("html") and "<b>bold</b>" not in " ".join(m.value for m in at.markdown)
    assert "Traceback" not in all_text(at)


def test_remix_reference_and_continue_editing_hand_over(make_app, studio):
    gen_id = _make(studio, "a paper boat", PRO, aspect_ratio="4:3", image_size="1K")
    at = _history(make_app, studio)
    _open(at, gen_id)
    at.button(key="hist_remix").click().run()
    assert at.text_area(key="gen_prompt").value == "a paper boat"
    assert at.selectbox(key="gen_ratio").value == "4:3"

    at.switch_page("screens/history.py").run()
    at.query_params["id"] = str(gen_id)
    at.run()
    at.button(key="hist_use_ref").click().run()
    assert not at.exception
    assert len(at.session_state["gen_tray"]) == 1
    assert any(f"#{gen_id}" in s.value for s in at.success)

    at.switch_page("screens/history.py").run()
    at.query_params["id"] = str(gen_id)
    at.run()
    at.button(key="hist_continue_edit").click().run()
    assert not at.exception
    assert at.session_state["edit_source_id"] == gen_id
    assert any(f"generation #{gen_id}" in m.value for m in at.markdown)


def test_a_gallery_rerun_encodes_no_image(make_app, studio, monkeypatch):
    """Thumbnails are JPEG files made once at save time: browsing re-encodes nothing (goal P5)."""
    for prompt in ("a red kite", "a blue kite", "a green kite"):
        _make(studio, prompt)
    at = _history(make_app, studio)
    # the three stored thumbnails, sent as they are (AppTest has no /thumbs route: inline JPEG data)
    tiles = [t for g in grid(at)["groups"] for t in g["tiles"]]
    assert len(tiles) == 3 and all(t["src"].startswith("data:image/jpeg;base64,/9j/") for t in tiles)
    saves: list[str] = []
    original = Image.Image.save

    def counted_save(self, *args, **kwargs):
        # The emulator shares this process and renders its answers with Pillow (a call another test left
        # in flight may still be rendering): only the studio's own encodes count.
        if not any("/studio/emulator/" in frame.filename for frame in traceback.extract_stack()):
            saves.append(repr(self))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", counted_save)
    for _ in range(3):
        at.run()
        assert not at.exception
    at.text_input(key="hist_search").input("kite").run()
    assert saves == []


def test_unstarring_under_the_favourites_filter_refreshes_the_totals(make_app, studio):
    a, b = _make(studio, "a starred fox"), _make(studio, "a starred owl")
    studio._store.organise.set_favourite([a, b], True)
    at = _history(make_app, studio)
    at.toggle(key="hist_fav_only").set_value(True).run()
    assert "2 generations" in _captions(at).replace("**", "")
    _open(at, a)
    at.button(key="hist_fav").click().run()
    at.button(key="hist_back").click().run()
    assert not at.exception
    assert "1 generation" in _captions(at).replace("**", "")  # the header, not only the grid, is current


def test_totals_under_a_broad_search_say_they_cover_the_newest_matches(make_app, studio, monkeypatch):
    """A search's counts come from its newest SEARCH_WINDOW matches (fast at 1 M rows); the line says so."""
    from studio.services.gallery import GalleryService
    from studio.storage import gallery_repo as queries

    for n in range(3):
        _make(studio, f"a red kite number {n}")
    _make(studio, "a blue whale")
    monkeypatch.setattr(queries, "SEARCH_WINDOW", 2)
    monkeypatch.setattr(GalleryService, "SEARCH_WINDOW", 2)
    at = _history(make_app, studio)
    at.text_input(key="hist_search").input("kite").run()
    assert not at.exception
    assert "counted over the newest 2 matches" in _captions(at)
    at.text_input(key="hist_search").input("whale").run()
    assert "1 generation · 1 image ·" in _captions(at).replace("**", "") and "counted over" not in _captions(
        at
    )


def test_filters_survive_the_detail_and_compare_views(make_app, studio):
    a, b = _make(studio, "a kite over the dunes"), _make(studio, "a kite at the beach")
    _make(studio, "a whale")
    at = _history(make_app, studio)
    at.text_input(key="hist_search").input("kite").run()
    at.segmented_control(key="hist_density").set_value("Small").run()
    _open(at, a)
    at.run()  # several runs with the filter widgets hidden
    at.button(key="hist_back").click().run()
    assert at.text_input(key="hist_search").value == "kite"
    assert sorted(shown(at)) == ["a kite at the beach", "a kite over the dunes"]
    _select(at, a, b)
    at.button(key="hist_compare_btn").click().run()
    at.run()
    at.button(key="hist_compare_back").click().run()
    assert at.text_input(key="hist_search").value == "kite"
    assert at.segmented_control(key="hist_density").value == "Small"
    assert "a whale" not in " ".join(shown(at))


# -- what the filter widgets show ---------------------------------------------------------------------

_STALE = object()  # what the browser still shows when the page did not send the widget a value


def _browser_shows(widget, before=_STALE):
    """What the browser shows after a run. It keeps its own value for a widget unless the page sends one
    (``set_value``); a select box sent no value is drawn blank."""
    proto = widget.proto
    if not proto.set_value:
        return before
    kind = type(proto).__name__
    if kind == "Selectbox":
        return proto.raw_value if proto.HasField("raw_value") else ""
    if kind == "MultiSelect":
        return list(proto.raw_values)
    if kind == "DateInput":
        return list(proto.value)
    return proto.value


def test_clear_filters_shows_every_filter_empty_and_the_old_tag_stays_gone(make_app, studio):
    a = _make(studio, "a fox in snow", PRO, aspect_ratio="16:9", image_size="2K")
    _make(studio, "a fox in rain", PRO, aspect_ratio="16:9", image_size="2K")
    _make(studio, "a heron at dawn")
    studio._store.organise.add_tags([a], ["hero"])
    studio._store.organise.set_rating([a], 3)
    studio._store.organise.set_favourite([a], True)
    cid = studio._store.organise.create_collection("Client A")
    studio._store.organise.add_to_collection([a], cid)
    today = datetime.now(UTC).date()
    at = _history(make_app, studio)
    at.text_input(key="hist_search").input("fox").run()
    for key, value in (
        ("hist_model", [PRO]),
        ("hist_status", ["succeeded"]),
        ("hist_ratio", ["16:9"]),
        ("hist_size", ["2K"]),
    ):
        at.multiselect(key=key).set_value(value).run()
    at.date_input(key="hist_from").set_value(today).run()
    at.date_input(key="hist_to").set_value(today).run()
    at.selectbox(key="hist_min_rating").set_value(3).run()
    at.selectbox(key="hist_tag").set_value("hero").run()
    at.selectbox(key="hist_collection").set_value(cid).run()
    at.toggle(key="hist_fav_only").set_value(True).run()
    assert shown(at) == ["a fox in snow"]

    at.button(key="hist_clear_filters").click().run()
    assert sorted(shown(at)) == ["a fox in rain", "a fox in snow", "a heron at dawn"]
    widgets = {
        w.key: _browser_shows(w)
        for w in (*at.text_input, *at.multiselect, *at.date_input, *at.selectbox, *at.toggle)
        if w.key in gallery._FILTER_KEYS
    }
    assert widgets == {
        "hist_search": "",
        "hist_model": [],
        "hist_status": [],
        "hist_ratio": [],
        "hist_size": [],
        "hist_from": [],
        "hist_to": [],
        "hist_min_rating": "Any rating",
        "hist_tag": "Any tag",
        "hist_collection": "Any collection",
        "hist_fav_only": False,
        "hist_review": [],
    }
    # the next change sends every widget's value as the browser shows it: the tag must not come back
    tag = at.selectbox(key="hist_tag")
    tag.set_value("hero" if _browser_shows(tag) is _STALE else tag.value)
    at.multiselect(key="hist_ratio").set_value(["16:9"]).run()
    assert sorted(shown(at)) == ["a fox in rain", "a fox in snow"]
    assert at.selectbox(key="hist_tag").value == gallery.ANY_TAG


def test_creating_a_collection_leaves_the_filter_as_it_was(make_app, studio):
    a, b = _make(studio, "a kite"), _make(studio, "a kite again")
    _make(studio, "a whale")
    studio._store.organise.add_tags([a, b], ["hero"])
    at = _history(make_app, studio)
    at.selectbox(key="hist_tag").set_value("hero").run()
    at.text_input(key="hist_new_coll").input("Client A").run()
    at.button(key="hist_create_coll").click().run()
    assert [name for _, name, _ in studio._store.organise.collections()] == ["Client A"]
    assert sorted(shown(at)) == ["a kite", "a kite again"]  # not the new, empty board
    assert at.selectbox(key="hist_collection").value == gallery.ANY_COLLECTION
    assert _browser_shows(at.selectbox(key="hist_collection"), "Any collection") == "Any collection"
    assert at.selectbox(key="hist_tag").value == "hero"


def test_after_the_detail_view_the_tag_and_collection_boxes_say_any_not_blank(make_app, studio):
    a = _make(studio, "a kite")
    at = _history(make_app, studio)
    _open(at, a)
    at.button(key="hist_back").click().run()  # the filter values are sent back to the remounted widgets
    assert _browser_shows(at.selectbox(key="hist_tag")) == "Any tag"
    assert _browser_shows(at.selectbox(key="hist_collection")) == "Any collection"


def test_deleting_the_filtered_collection_shows_any_collection_and_everything(make_app, studio):
    a = _make(studio, "a kite")
    _make(studio, "a whale")
    cid = studio._store.organise.create_collection("Client A")
    studio._store.organise.add_to_collection([a], cid)
    at = _history(make_app, studio)
    at.selectbox(key="hist_collection").set_value(cid).run()
    assert shown(at) == ["a kite"]
    at.button(key=f"hist_delete_coll_{cid}").click().run()
    assert sorted(shown(at)) == ["a kite", "a whale"]
    assert _browser_shows(at.selectbox(key="hist_collection")) == "Any collection"


def test_the_search_box_says_how_it_was_read(make_app, studio):
    _make(studio, "a teapot on a table", FLASH)
    _make(studio, "teapots in a bakery window", FLASH)
    at = _history(make_app, studio)
    at.text_input(key="hist_search").input("teapots -bakery").run()
    assert shown(at) == ["a teapot on a table"]  # stemmed, and the excluded word leaves the other out
    assert "Searching" in _captions(at) and "without bakery" in _captions(at)
    at.text_input(key="hist_search").input("teapot").run()  # plain words need no explanation
    assert "Searching" not in _captions(at)
    assert not at.exception
