"""What a page shows is what it does: the Edit page's model, the default model on every page, model labels,
and History's selection when the designer comes back from another page (AppTest against the real emulator)."""

from __future__ import annotations

import re

from studio.app.widgets import components
from studio.domain import catalogue
from studio.domain.requests import GenerationRequest

from .helpers import all_text
from .history_helpers import grid
from .test_gallery_ui import _history, _make, _select

PRO, NB2 = "gemini-3-pro-image", "gemini-3.1-flash-image"


def _edit(make_app, studio):
    at = make_app(studio).run()
    at.switch_page("screens/edit.py").run()
    assert not at.exception, at.exception
    return at


def _shown_model(at) -> str | None:
    """The model the Edit page shows for the next turn: the picker's choice, or the line that names it."""
    pickers = [s for s in at.selectbox if s.key == "edit_model"]
    if pickers:
        return components.model_label(pickers[0].value)
    line = next((m.value for m in at.markdown if "Model: " in m.value), None)
    return re.search(r"\*\*(.+?)\*\*", line).group(1).replace("\\", "") if line else None


def _requested_models(emulator, instruction: str) -> list[str]:
    """The model of every request that reached the emulator with ``instruction`` as its newest user turn."""
    out = []
    for request in list(emulator.requests):
        contents = (request.get("body") or {}).get("contents") or []
        parts = contents[-1].get("parts", []) if contents else []
        if any(p.get("text") == instruction for p in parts):
            out.append(request["model"])
    return out


def _turn(studio, at) -> object:
    [record] = studio.wait([at.session_state["edit_head"]], timeout=30)
    at.run()
    assert not at.exception, at.exception
    return record


def test_an_edit_turn_runs_on_the_model_the_page_shows(make_app, studio, emulator):
    [source] = studio.generate(GenerationRequest(prompt="a teapot on a table", model=PRO), timeout=30)
    at = _edit(make_app, studio)
    at.radio(key="edit_source").set_value("A history image").run()
    at.number_input(key="edit_from_id").set_value(source.id).run()
    shown = _shown_model(at)
    at.text_area(key="edit_first").input("make the teapot blue").run()
    at.button(key="edit_start").click().run()
    first = _turn(studio, at)
    assert (shown, first.model) == (components.model_label(PRO), PRO)
    assert _requested_models(emulator, "make the teapot blue") == [PRO]

    shown = _shown_model(at)  # the thread: the next turn's model is on the page too
    at.text_area(key="edit_instruction").input("now a red lid").run()
    at.button(key="edit_send").click().run()
    second = _turn(studio, at)
    assert shown == components.model_label(second.model) and second.parent_id == first.id
    assert _requested_models(emulator, "now a red lid") == [second.model]


def test_an_edit_from_a_prompt_runs_on_the_picked_model(make_app, studio, emulator):
    at = _edit(make_app, studio)
    at.selectbox(key="edit_model").set_value(NB2).run()
    assert _shown_model(at) == components.model_label(NB2)
    at.text_area(key="edit_first").input("a kite over dunes, for the picker").run()
    at.button(key="edit_start").click().run()
    assert _turn(studio, at).model == NB2
    assert _requested_models(emulator, "a kite over dunes, for the picker") == [NB2]


def test_generate_edit_and_experiment_start_on_the_same_default_model(make_app, studio):
    at = make_app(studio).run()
    assert at.selectbox(key="gen_model").value == catalogue.DEFAULT_MODEL
    at.switch_page("screens/edit.py").run()
    assert at.selectbox(key="edit_model").value == catalogue.DEFAULT_MODEL
    at.switch_page("screens/experiment.py").run()
    assert at.multiselect(key="exp_models").value == [catalogue.DEFAULT_MODEL]
    at.multiselect(key="exp_models").set_value([]).run()  # an empty list runs on the default: it says so
    assert components.model_label(catalogue.DEFAULT_MODEL) in all_text(at)


def test_the_library_sends_to_generate_on_the_same_default_model(make_app, studio):
    template = studio.templates.save("Animal", "a {animal} reading a map", kind="template")
    at = make_app(studio).run()
    at.switch_page("screens/library.py").run()
    assert at.selectbox(key=f"lib_use_{template.id}_model").value == catalogue.DEFAULT_MODEL


def _says_each_thing_once(label: str) -> bool:
    words = re.findall(r"[a-z]+", label.lower())
    stages = [w for w in words if w in ("retired", "preview", "stable")]
    return len(stages) == len(set(stages))


def test_no_model_label_says_a_thing_twice(make_app, studio):
    at = make_app(studio).run()
    generate = at.selectbox(key="gen_model").options
    assert any("retired" in o for o in generate)  # the retired model is listed, and said to be retired once
    at.switch_page("screens/edit.py").run()
    edit = at.selectbox(key="edit_model").options
    at.switch_page("screens/experiment.py").run()
    experiment = at.multiselect(key="exp_models").options
    for label in (*generate, *edit, *experiment):
        assert _says_each_thing_once(label), label
    assert all(_says_each_thing_once(catalogue.display_label(m)) for m in catalogue.MODELS)


def test_a_history_selection_is_not_carried_back_from_another_page(make_app, studio):
    a, b = _make(studio, "a kite"), _make(studio, "a whale")
    at = _history(make_app, studio)
    _select(at, a, b)
    assert "2 selected" in all_text(at)
    at.switch_page("screens/experiment.py").run()
    at.switch_page("screens/history.py").run()
    assert not at.exception, at.exception
    assert at.session_state["hist_selected"] == [] and "0 selected" in all_text(at)
    assert grid(at)["selected"] == []  # no tile is drawn selected
    assert not [x for x in at.button if x.key in ("hist_bulk_trash", "hist_bulk_fav", "hist_compare_btn")]


def test_a_selection_that_the_grid_does_not_show_is_said_to_be_there(make_app, studio):
    a, b = _make(studio, "a kite"), _make(studio, "a whale")
    at = _history(make_app, studio)
    _select(at, a, b)
    at.text_input(key="hist_search").input("kite").run()
    assert "2 selected** · 1 not shown here" in all_text(at)
    at.run()  # reruns of History itself keep the selection
    assert sorted(at.session_state["hist_selected"]) == sorted([a, b])


def test_advanced_boxes_filled_from_a_remix_or_an_edit_turn_say_model_default(make_app, studio):
    from .test_gallery_ui import _browser_shows

    at = make_app(studio)
    at.session_state["remix"] = GenerationRequest(prompt="a lantern", model=NB2)  # no level, no safety
    at.run()
    assert not at.exception, at.exception
    for name in ("gen_adv_thinking", "gen_adv_safety_harassment", "gen_adv_safety_dangerous_content"):
        assert _browser_shows(at.selectbox(key=name), "Model default") == "Model default", name
    [first] = studio.generate(GenerationRequest(prompt="a teapot", model=NB2), timeout=30)
    at.session_state["edit_head"] = first.id  # the thread fills Edit's controls from the turn it continues
    at.switch_page("screens/edit.py").run()
    assert not at.exception, at.exception
    for name in ("edit_adv_thinking", "edit_adv_safety_hate_speech"):
        assert _browser_shows(at.selectbox(key=name), "Model default") == "Model default", name
