"""AppTest of the Experiment, Edit and Library pages against the real emulator."""

from __future__ import annotations

from studio.domain import conversation
from studio.services import editing, runs
from studio.storage.filter_sql import EVERYTHING

from .helpers import all_text

MALICIOUS = "<img src=x onerror=alert(1)> **bold**"


def open_page(make_app, studio, page: str):
    at = make_app(studio).run()
    at.switch_page(f"screens/{page}.py").run()
    assert not at.exception, at.exception
    return at


def test_experiment_shows_count_and_cost_asks_to_confirm_and_runs(make_app, studio):
    at = open_page(make_app, studio, "experiment")
    at.text_area(key="exp_template").input("a {animal} at dusk").run()
    at.text_area(key="exp_var_animal").input("cat\ndog").run()
    at.text_input(key="exp_seeds").input("1, 2").run()
    page = all_text(at)
    assert "4 cells" in page and "0.156" in page  # 4 x $0.039 on the default model
    at.number_input(key="exp_threshold").set_value(0.1).run()
    assert at.button(key="exp_start").disabled  # above the threshold: confirm first
    at.checkbox(key="exp_confirm").check().run()
    at.button(key="exp_start").click().run()
    assert not at.exception, at.exception
    run_id = at.session_state["exp_run"]
    runs.wait(studio, run_id, timeout=30)
    studio.wait(
        [
            g.record.id
            for cells in runs.grid(studio._store, run_id, visibility=EVERYTHING).cells.values()
            for g in cells
            if g.record
        ],
        timeout=30,
    )
    at.run()
    assert not at.exception, at.exception
    assert runs.progress(studio, run_id).succeeded == 4
    assert at.selectbox(key="exp_rows").value == "var.animal" and at.selectbox(key="exp_cols").value == "seed"
    page = all_text(at)
    assert "4 done" in page and "Contact sheet" in page and "Open #" in page


def test_experiment_reopens_a_past_run_and_reports_bad_input(make_app, studio):
    run_id = runs.start(studio, runs.RunSpec(prompts=[MALICIOUS]), concurrency=1)
    runs.wait(studio, run_id, timeout=30)
    at = open_page(make_app, studio, "experiment")
    at.selectbox(key="exp_past").set_value(run_id).run()
    at.button(key="exp_reopen").click().run()
    assert not at.exception and at.session_state["exp_run"] == run_id
    assert "1 done" in all_text(at)
    at.text_area(key="exp_template").input("a {animal}").run()
    assert any("{animal}" in e.value.replace("\\", "") for e in at.error)
    at.text_input(key="exp_seeds").input("one").run()
    assert any("whole numbers" in e.value for e in at.error)


def test_edit_two_turns_branch_and_thread(make_app, studio):
    at = open_page(make_app, studio, "edit")
    at.selectbox(key="edit_model").set_value("gemini-3-pro-image").run()
    at.text_area(key="edit_first").input("a teapot").run()
    at.button(key="edit_start").click().run()
    first = at.session_state["edit_head"]
    studio.wait([first], timeout=30)
    at.run()
    assert not at.exception, at.exception
    at.text_area(key="edit_instruction").input("make it blue").run()
    at.button(key="edit_send").click().run()
    second = at.session_state["edit_head"]
    assert second != first and studio.get(second).parent_id == first
    studio.wait([second], timeout=30)
    at.run()
    assert not at.exception, at.exception
    assert studio.get(second).status == "succeeded"
    page = all_text(at)
    assert "Conversation · 2 turns" in page and "make it blue" in page
    at.button(key=f"edit_branch_{first}").click().run()
    assert at.session_state["edit_head"] == first
    at.button(key="edit_new").click().run()
    assert "edit_head" not in at.session_state


def test_edit_shows_the_trimming_sentence(make_app, studio):
    first = studio.wait(editing.start_edit(studio, "a kite", model="gemini-3-pro-image"), timeout=30)[0]
    second = studio.wait(editing.continue_edit(studio, first.id, "blue"), timeout=30)[0]
    two_turns = conversation.body_bytes(conversation.build_history(studio._store.history, second.id)[0])
    studio.settings = studio.settings.with_(
        max_request_mb=0.75 * two_turns / conversation.MIB
    )  # one turn fits
    third = studio.wait(editing.continue_edit(studio, second.id, "red"), timeout=30)[0]
    assert third.status == "succeeded"
    at = make_app(studio).run()
    at.session_state["edit_head"] = third.id
    at.switch_page("screens/edit.py").run()
    assert not at.exception, at.exception
    assert any("Older turn 1 was left out" in i.value for i in at.info)


def test_library_crud_and_send_to_generate(make_app, studio):
    studio.templates.save("Warm light", "warm golden-hour light", kind="preset")
    at = open_page(make_app, studio, "library")
    # a form: the values are sent together with the submit button
    at.text_input(key="lib_template_new_name").input("Animal")
    at.text_area(key="lib_template_new_body").input("a {animal} reading")
    at.text_input(key="lib_template_new_tags").input("pets")
    at.button(key="lib_template_new_save").click().run()
    assert not at.exception, at.exception
    [template] = studio.templates.templates()
    assert template.name == "Animal" and template.tags == ("pets",)
    at.text_input(key=f"lib_use_{template.id}_animal").input("fox")
    at.multiselect(key=f"lib_use_{template.id}_presets").select(studio.templates.presets()[0].id)
    at.button(key=f"lib_use_{template.id}_send").click().run()
    assert not at.exception, at.exception
    assert at.text_area(key="gen_prompt").value == "a fox reading, warm golden-hour light"
    at.switch_page("screens/library.py").run()
    at.button(key=f"lib_delete_{template.id}").click().run()
    assert studio.templates.templates() == []
