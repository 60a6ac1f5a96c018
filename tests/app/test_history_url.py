"""History's view lives in the URL: a link or a reload with ``?q=…&status=…`` shows those results with the
widgets set; a widget writes the URL; a URL changed under the page (back, forward) moves the widgets; the
detail's ← → walk the URL's filter. AppTest with the real emulator and a real SQLite history."""

from __future__ import annotations

import pytest

from studio.domain.requests import GenerationRequest

from .history_helpers import grid, shown

FLASH = "gemini-2.5-flash-image"


def _make(studio, prompt: str, variants: int = 1) -> list[int]:
    return [
        r.id
        for r in studio.generate(GenerationRequest(prompt=prompt, model=FLASH, variants=variants), timeout=30)
    ]


def _history(make_app, studio, **params: str):
    at = make_app(studio).run()
    at.switch_page("screens/history.py")
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, at.exception
    return at


def test_a_link_with_a_search_and_filters_opens_on_those_results(make_app, studio):
    [kite] = _make(studio, "a red kite")
    _make(studio, "a blue kite")
    _make(studio, "a whale")
    _make(studio, "[[fault:blocked]] a kite nobody sees")
    studio.organise.add_tags([kite], ["hero"])
    at = _history(make_app, studio, q="kite", status="succeeded", tag="hero")
    assert shown(at) == ["a red kite"]
    assert at.text_input(key="hist_search").value == "kite"
    assert at.multiselect(key="hist_status").value == ["succeeded"]
    assert at.selectbox(key="hist_tag").value == "hero"


def test_a_widget_writes_the_url_and_a_changed_url_moves_the_widgets(make_app, studio):
    _make(studio, "a red kite")
    _make(studio, "a whale")
    at = _history(make_app, studio)
    at.text_input(key="hist_search").input("kite").run()
    assert at.query_params["q"] == "kite" and shown(at) == ["a red kite"]
    at.toggle(key="hist_fav_only").set_value(True).run()
    assert at.query_params["fav"] == "1" and shown(at) == []
    # the browser's back: the URL loses ``fav``; the page follows it, widgets included
    del at.query_params["fav"]
    at.run()
    assert not at.toggle(key="hist_fav_only").value and shown(at) == ["a red kite"]
    del at.query_params["q"]
    at.run()
    assert at.text_input(key="hist_search").value == "" and sorted(shown(at)) == ["a red kite", "a whale"]


def test_the_detail_steps_through_the_urls_filter_and_back_keeps_it(make_app, studio):
    [a] = _make(studio, "a red kite")
    _make(studio, "a whale")
    [b] = _make(studio, "a blue kite")
    [c] = _make(studio, "a green kite")
    at = _history(make_app, studio, q="kite", id=str(b))
    assert at.button(key="hist_prev").disabled is False and at.button(key="hist_next").disabled is False
    at.button(key="hist_next").click().run()  # → older within "kite": the whale is skipped
    assert at.query_params["id"] == str(a) and at.button(key="hist_next").disabled
    at.button(key="hist_prev").click().run()
    at.button(key="hist_prev").click().run()
    assert at.query_params["id"] == str(c) and at.button(key="hist_prev").disabled
    at.button(key="hist_back").click().run()
    assert "id" not in at.query_params and at.query_params["q"] == "kite"
    assert shown(at) == ["a green kite", "a blue kite", "a red kite"]
    assert at.text_input(key="hist_search").value == "kite"


def test_variants_stack_on_the_grid_and_the_detail_links_them(make_app, studio):
    trio = _make(studio, "three teacups", variants=3)
    [lone] = _make(studio, "one teapot")
    at = _history(make_app, studio)
    groups = [[t["id"] for t in g["tiles"]] for g in grid(at)["groups"]]
    assert groups == [[lone], trio]
    at.query_params["id"] = str(trio[1])
    at.run()
    assert any("Variant 2 of 3" in c.value for c in at.caption)
    assert at.button(key=f"hist_variant_{trio[1]}").disabled
    at.button(key=f"hist_variant_{trio[2]}").click().run()
    assert at.query_params["id"] == str(trio[2])


def test_an_unknown_or_bad_id_is_a_sentence(make_app, studio):
    _make(studio, "a kite")
    at = _history(make_app, studio, id="999")
    assert any("#999 is not in the history" in w.value for w in at.warning)
    at = _history(make_app, studio, id="../etc", before="x", rating="lots", to="²⁰²⁶-01-01", coll=HUGE)
    assert not at.exception and shown(at) == ["a kite"]  # a garbled URL shows the grid, not a traceback
    [note] = at.warning  # one box, a line for each part dropped
    assert note.value.count("left out") == 5, note.value


HUGE = "9" * 23  # more than SQLite's INTEGER holds


@pytest.mark.parametrize(
    ("name", "value", "sentence"),
    [
        ("id", "²", "is not a generation number"),  # "²".isdigit() is true; int("²") raises
        ("before", "²", "is not a generation number"),
        ("rating", "²", "There is no rating"),
        ("coll", "²", "There is no collection"),
        ("id", HUGE, "is not a generation number"),
        ("before", HUGE, "is not a generation number"),
        ("after", "٣", "is not a generation number"),  # an Arabic-Indic three
        ("to", "9999-12-31", "is not a date between"),  # the day after would overflow
        ("from", "0001-01-01", "is not a date between"),
        ("rating", "9", "There is no rating"),  # out of range: said, not silently ignored
    ],
)
def test_a_bad_value_in_the_url_is_dropped_with_a_sentence(make_app, studio, name, value, sentence):
    _make(studio, "a kite")
    at = _history(make_app, studio, q="kite", **{name: value})
    assert not at.exception
    assert any(sentence in w.value for w in at.warning), [w.value for w in at.warning]
    assert name not in at.query_params and at.query_params["q"] == "kite"  # the rest of the link stays
    assert shown(at) == ["a kite"]  # the grid, not a traceback
    assert "Traceback" not in str([e.value for e in at.error])
    at.run()  # the next run (a fresh tab's second one comes at once) still says it
    assert any(sentence in w.value for w in at.warning)
    at.text_input(key="hist_search").input("kit").run()  # the view moved on: the sentence goes
    assert not any(sentence in w.value for w in at.warning)


def test_a_deleted_collection_in_the_url_is_dropped_with_a_sentence(make_app, studio):
    [kite] = _make(studio, "a kite")
    cid = studio.organise.create_collection("Gone soon")
    studio.organise.add_to_collection([kite], cid)
    at = _history(make_app, studio, coll=str(cid))
    assert shown(at) == ["a kite"] and not at.warning
    assert at.query_params["coll"] == str(cid)
    studio.organise.delete_collection(cid)
    at = _history(make_app, studio, coll=str(cid))
    assert any("There is no collection" in w.value for w in at.warning)
    assert "coll" not in at.query_params and shown(at) == ["a kite"]


def test_a_fresh_tab_whose_grid_fails_still_shows_the_sentence_and_the_filters(make_app, studio, monkeypatch):
    """Under `studio run` a fresh tab draws the grid first and the filters once it has painted; a grid that
    could not be read never paints, so the filters must come with the sentence, not never."""
    from studio.app.widgets import tiles
    from studio.domain.errors import StudioError
    from studio.services.gallery import GalleryService

    _make(studio, "a kite")
    monkeypatch.setenv(tiles.THUMB_ROUTE, "/thumbs")  # thumbnails by address: images first

    real, locked = studio.gallery.grouped_page, [True]

    def unreadable(*args, **kwargs):
        if locked:
            raise StudioError("The history could not be read (the database is locked).")
        return real(*args, **kwargs)

    # every session's gallery (the page holds its own StudioSession, not the studio's default one)
    monkeypatch.setattr(GalleryService, "grouped_page", lambda self, *a, **kw: unreadable(*a, **kw))
    at = _history(make_app, studio, q="kite")
    assert any("could not be read" in e.value for e in at.error)
    assert at.text_input(key="hist_search").value == "kite"  # the filters are there, the URL's kept
    assert at.multiselect(key="hist_status") is not None
    locked.clear()
    at.run()  # it reads again: the grid and the same filter
    assert shown(at) == ["a kite"] and at.query_params["q"] == "kite"


def test_the_trash_grid_sends_its_thumbnails_inline(make_app, studio, monkeypatch):
    """The /thumbs route serves live generations only, so the Trash view's tiles carry their thumbnails."""
    from studio.app.widgets import tiles

    [kept] = _make(studio, "a kept kite")
    [gone] = _make(studio, "a trashed kite")
    studio.organise.trash([gone])
    monkeypatch.setenv(tiles.THUMB_ROUTE, "/thumbs")
    at = _history(make_app, studio)
    [tile] = [t for g in grid(at)["groups"] for t in g["tiles"]]
    assert tile["id"] == kept and tile["src"].startswith("/thumbs/")
    at = _history(make_app, studio, trash="1")
    [tile] = [t for g in grid(at)["groups"] for t in g["tiles"]]
    assert tile["id"] == gone and tile["src"].startswith("data:image/jpeg")


def test_back_to_grid_after_stepping_shows_the_page_holding_the_image(make_app, studio, monkeypatch):
    from studio.app.widgets import gallery_grid as gallery

    monkeypatch.setattr(gallery, "PAGE_SIZE", 3)
    ids = [_make(studio, f"kite {n}")[0] for n in range(4)]
    trio = _make(studio, "three kites", variants=3)  # the first page: the trio's stack
    at = _history(make_app, studio, id=str(trio[1]))  # opened from the first page (no cursor)
    at.button(key="hist_back").click().run()
    assert "before" not in at.query_params and "id" not in at.query_params  # on it already: the same page
    at.query_params["id"] = str(trio[1])
    at.run()
    for _ in range(3):  # → walks down the history, past the first page
        at.button(key="hist_next").click().run()
    assert at.query_params["id"] == str(ids[2])
    at.button(key="hist_back").click().run()
    assert "id" not in at.query_params
    assert shown(at) == ["kite 2", "kite 1", "kite 0"]  # the page holding the image, not the first one
    at.query_params["id"] = str(trio[1])
    at.query_params["before"] = str(ids[1])  # a page far from the image
    at.run()
    at.button(key="hist_back").click().run()
    assert at.query_params["before"] == str(trio[2] + 1) and shown(at) == ["three kites"] * 3  # its stack
