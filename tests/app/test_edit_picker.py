"""AppTest of the Edit page against the real emulator: the source picked from thumbnails (and searched),
compact turns with a before/after choice, and switching between the branches of a conversation."""

from __future__ import annotations

from studio.app.widgets import components
from studio.domain import catalogue
from studio.domain.requests import GenerationRequest

from .helpers import all_text


def _open(make_app, studio):
    at = make_app(studio).run()
    at.switch_page("screens/edit.py").run()
    assert not at.exception, at.exception
    return at


def _make(studio, prompt: str):
    [record] = studio.generate(GenerationRequest(prompt=prompt, model=catalogue.DEFAULT_MODEL), timeout=30)
    return record


def test_the_source_is_picked_from_thumbnails_or_found_by_search(make_app, studio):
    pot, car = _make(studio, "a ceramic teapot"), _make(studio, "a red car in the rain")
    at = _open(make_app, studio)
    assert not at.exception, at.exception
    assert at.number_input(key="edit_from_id").value is None  # nothing chosen until the designer picks
    assert at.radio(key="edit_source").value == "A history image"  # with images, the page opens on them
    at.text_area(key="edit_first").input("picker: nothing picked").run()
    at.button(key="edit_start").click().run()
    assert "edit_head" not in at.session_state
    assert any("Pick an image above" in w.value for w in at.warning)
    picks = {b.key for b in at.button if b.key.startswith("edit_pick_")}
    assert picks == {f"edit_pick_{pot.id}", f"edit_pick_{car.id}"}
    at.button(key=f"edit_pick_{car.id}").click().run()
    assert not at.exception, at.exception
    assert at.session_state["edit_from_id"] == car.id and at.number_input(key="edit_from_id").value == car.id
    assert f"Source: #{car.id}" in all_text(at)
    at.text_input(key="edit_pick_search").input("teapots").run()  # the History search language
    assert {b.key for b in at.button if b.key.startswith("edit_pick_")} == {f"edit_pick_{pot.id}"}
    at.text_input(key="edit_pick_search").input("-teapot today").run()
    assert "Showing images without teapot · today" in all_text(at)
    assert {b.key for b in at.button if b.key.startswith("edit_pick_")} == {f"edit_pick_{car.id}"}
    at.text_area(key="edit_first").input("make the car blue").run()
    at.button(key="edit_start").click().run()
    assert not at.exception, at.exception
    [turn] = studio.wait([at.session_state["edit_head"]], timeout=30)
    assert turn.parent_id == car.id  # the picked generation's conversation goes on


def test_the_typed_number_still_works_and_a_bad_one_is_a_sentence(make_app, studio):
    pot = _make(studio, "a ceramic teapot")
    at = _open(make_app, studio)
    at.radio(key="edit_source").set_value("A history image").run()
    at.number_input(key="edit_from_id").set_value(pot.id).run()
    assert f"Source: #{pot.id}" in all_text(at)
    assert at.button(key=f"edit_pick_{pot.id}").proto.type == "primary"  # the picked thumbnail is marked
    at.number_input(key="edit_from_id").set_value(999).run()
    assert not at.exception and any("#999 has no image" in w.value for w in at.warning)


def test_turns_are_compact_with_before_after_and_branches_switch(make_app, studio):
    first = _make(studio, "a ceramic teapot")
    [blue] = studio.editing.continue_(first.id, "picker: paint the pot blue")
    studio.wait([blue], timeout=30)
    [green] = studio.editing.continue_(first.id, "picker: paint the pot green")
    studio.wait([green], timeout=30)
    [greener] = studio.editing.continue_(green, "picker: greener still")
    studio.wait([greener], timeout=30)
    at = make_app(studio).run()
    at.session_state["edit_head"] = blue
    at.switch_page("screens/edit.py").run()
    assert not at.exception, at.exception
    page = all_text(at)
    assert "Conversation · 2 turns" in page and "Turn 1" in page and "2 branches" in page
    switcher = at.selectbox(key="edit_branch")
    assert switcher.options == [
        "Branch 1 · 2 turns · “picker: paint the pot blue”",
        "Branch 2 · 3 turns · “picker: greener still”",
    ]
    assert switcher.value == blue
    switcher.set_value(greener).run()
    assert not at.exception, at.exception
    assert at.session_state["edit_head"] == greener and "Conversation · 3 turns" in all_text(at)
    assert at.selectbox(key="edit_branch").value == greener
    # every turn made from an image offers its before/after; the latest is shown unless one is chosen
    assert {b.key for b in at.button if b.key.startswith("edit_cmp_")} == {
        f"edit_cmp_{green}",
        f"edit_cmp_{greener}",
    }
    assert "Turn 3 · before / after" in all_text(at)
    at.button(key=f"edit_cmp_{green}").click().run()
    assert at.session_state["edit_compare"] == green and "Turn 2 · before / after" in all_text(at)
    # branching from turn 1 offers a new branch in the switcher
    at.button(key=f"edit_branch_{first.id}").click().run()
    assert at.session_state["edit_head"] == first.id
    assert at.selectbox(key="edit_branch").value == first.id
    assert "New branch from turn 1" in at.selectbox(key="edit_branch").options


def test_the_pick_survives_switching_start_from_away_and_back(make_app, studio):
    pot, car = _make(studio, "a ceramic teapot"), _make(studio, "a red car in the rain")
    at = _open(make_app, studio)
    at.button(key=f"edit_pick_{car.id}").click().run()
    assert f"Source: #{car.id}" in all_text(at)
    for away in ("A prompt", "An uploaded image", "A prompt"):
        at.radio(key="edit_source").set_value(away).run()  # the number box is not drawn on this run
        assert not at.exception, at.exception
        at.radio(key="edit_source").set_value("A history image").run()
        assert not at.exception, at.exception
        assert f"Source: #{car.id}" in all_text(at), away
        assert at.number_input(key="edit_from_id").value == car.id
        assert at.button(key=f"edit_pick_{car.id}").proto.type == "primary"
    at.number_input(key="edit_from_id").set_value(pot.id).run()  # a typed number is a pick too
    at.radio(key="edit_source").set_value("A prompt").run()
    at.radio(key="edit_source").set_value("A history image").run()
    assert f"Source: #{pot.id}" in all_text(at) and at.number_input(key="edit_from_id").value == pot.id
    at.text_area(key="edit_first").input("make the pot blue").run()
    at.button(key="edit_start").click().run()
    assert not at.exception, at.exception
    [turn] = studio.wait([at.session_state["edit_head"]], timeout=30)
    assert turn.parent_id == pot.id


def test_a_thumbnail_tooltip_shows_the_prompt_as_text_not_markdown(make_app, studio):
    prompt = "a teapot [click me](https://evil.example/x) ![img](https://evil.example/p.png) **bold**"
    record = _make(studio, prompt)
    at = _open(make_app, studio)
    tip = at.button(key=f"edit_pick_{record.id}").proto.help
    assert tip == components.escape_md(prompt)
    assert "](" not in tip and "![" not in tip and "**" not in tip.replace("\\*", "")  # no link, image, bold
    assert "`https://evil.example/p.png`" in tip  # an address is shown as code, never fetched on hover
