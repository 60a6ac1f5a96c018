"""AppTest: the composer's draft comes back in a new session (a reload), validated; a dropped studio image
offers to restore its prompt and settings."""

from __future__ import annotations

import json
import os
import time

from studio.domain import catalogue
from studio.domain.requests import GenerationRequest
from studio.imaging import metadata
from studio.services import uploads
from tests.factories import png


def _session(make_app, studio):
    """A new Streamlit session (what a browser reload gets)."""
    at = make_app(studio).run()
    assert not at.exception, at.exception
    return at


def test_prompt_settings_tray_and_feed_come_back_in_a_new_session(make_app, studio):
    at = _session(make_app, studio)
    at.text_area(key="gen_prompt").input("a fox reading a map").run()
    at.selectbox(key="gen_model").set_value("gemini-3-pro-image").run()
    at.number_input(key="gen_variants").set_value(3).run()
    at.selectbox(key="gen_ratio").set_value("16:9").run()
    at.file_uploader(key="gen_uploads").set_value([("ref.png", png((9, 99, 9)), "image/png")]).run()
    feed = [{"ids": [5, 6], "prompt": "a fox", "model": "gemini-2.5-flash-image", "at": 1.0}]
    at.session_state["gen_feed"] = feed  # the session feed's runs (plain JSON, owned by Generate)
    at.run()
    tray = at.session_state["gen_tray"]

    again = _session(make_app, studio)
    assert again.text_area(key="gen_prompt").value == "a fox reading a map"
    assert again.selectbox(key="gen_model").value == "gemini-3-pro-image"
    assert again.number_input(key="gen_variants").value == 3
    assert again.selectbox(key="gen_ratio").value == "16:9"
    assert [(r.sha256, r.name) for r in again.session_state["gen_tray"]] == [(r.sha256, r.name) for r in tray]
    assert again.session_state["gen_feed"] == feed
    assert "1 in the tray" in " ".join(m.value for m in again.markdown)


def test_structured_fields_and_the_other_builders_come_back(make_app, studio):
    at = _session(make_app, studio)
    at.radio(key="gen_mode").set_value("Form").run()
    at.text_input(key="gen_f_subject").input("a red fox").run()
    at.switch_page("screens/experiment.py").run()
    at.text_area(key="exp_template").input("a {animal} in the rain").run()
    at.switch_page("screens/edit.py").run()
    assert not at.exception, at.exception

    again = _session(make_app, studio)
    assert again.radio(key="gen_mode").value == "Form"
    assert again.text_input(key="gen_f_subject").value == "a red fox"
    again.switch_page("screens/experiment.py").run()
    assert not again.exception, again.exception
    assert again.text_area(key="exp_template").value == "a {animal} in the rain"


def test_a_model_gone_from_the_catalogue_falls_back(make_app, studio):
    body = {
        "values": {"gen_model": "gemini-0-retired-long-ago", "gen_prompt": "kept"},
        "state": {},
        "tray": [],
    }
    studio._store.drafts.put(json.dumps(body))
    at = _session(make_app, studio)
    assert at.selectbox(key="gen_model").value == catalogue.DEFAULT_MODEL
    assert at.text_area(key="gen_prompt").value == "kept"


def test_a_corrupt_draft_is_ignored(make_app, studio):
    studio._store.drafts.put("{this is not json")
    at = _session(make_app, studio)
    assert at.text_area(key="gen_prompt").value == ""
    assert not at.error


def _let_anything_through(monkeypatch):
    """Validation drops a value of the wrong kind on load; the safety net below it is for what it misses."""
    from studio.services import drafts

    monkeypatch.setattr(drafts, "clean_values", lambda values: dict(values))


def test_a_draft_the_page_cannot_take_is_set_aside(make_app, studio, caplog, monkeypatch):
    _let_anything_through(monkeypatch)
    body = {"values": {"gen_model": "__custom__", "gen_custom_model": 5, "gen_prompt": "p"}, "tray": []}
    studio._store.drafts.put(json.dumps(body))
    with caplog.at_level("WARNING", logger="studio.app.widgets.draft_keeper"):
        at = _session(make_app, studio)  # no exception on the page
    assert "set aside" in caplog.text
    assert at.selectbox(key="gen_model").value == catalogue.DEFAULT_MODEL
    assert at.text_area(key="gen_prompt").value == ""
    at.text_area(key="gen_prompt").input("a new start").run()
    assert not at.exception
    assert studio.drafts.load().values["gen_prompt"] == "a new start"


def test_number_inputs_of_another_type_are_dropped_on_load(make_app, studio):
    values = {"gen_adv_seed": "abc", "gen_variants": 2.5, "exp_repeats": "3", "gen_adv_temperature": 1}
    studio._store.drafts.put(json.dumps({"values": values}))
    assert studio.drafts.load().values == {"gen_adv_temperature": 1.0}
    at = _session(make_app, studio)
    assert at.number_input(key="gen_variants").value == 1


def _fresh_page() -> None:
    """A harness for the ``draft_keeper.start_fresh`` helper: the composer's prompt and variants, and a
    button calling it the way Generate's "Start fresh" button is to (wired into generate.py at merge)."""
    import streamlit as st

    from studio.app.widgets import draft_keeper

    st.text_area("Prompt", key="gen_prompt")
    st.number_input("Variants", min_value=1, max_value=8, key="gen_variants")
    st.button("Start fresh", key="fresh", on_click=draft_keeper.start_fresh)


def test_the_start_fresh_helper_empties_the_composer_and_forgets_the_saved_draft(monkeypatch, studio):
    """A test of the helper on a harness page, not of Generate's button (not wired in this branch)."""
    from streamlit.testing.v1 import AppTest

    from studio.app import resources
    from studio.services.drafts import Draft

    monkeypatch.setattr(resources, "get_studio", lambda: studio)
    studio.drafts.save(
        Draft(values={"gen_prompt": "to be forgotten"}, tray=(uploads.prepare(png(), "r.png"),))
    )
    at = AppTest.from_function(_fresh_page, default_timeout=15)
    at.session_state["gen_prompt"] = "to be forgotten"
    at.session_state["gen_variants"] = 4
    at.session_state["gen_tray"] = studio.drafts.load().tray
    at.session_state["gen_feed"] = [[1]]
    at.run()
    then = time.time() - 2 * 3600  # the saved tray image, past the grace period
    for path in (studio.settings.data_dir / "drafts").glob("*/*"):
        os.utime(path, (then, then))
    at.button(key="fresh").click().run()
    assert not at.exception, at.exception
    assert at.text_area(key="gen_prompt").value == ""
    assert at.number_input(key="gen_variants").value == 1
    assert "gen_tray" not in at.session_state
    assert at.session_state["gen_feed"] == [[1]]  # the results are not the draft
    assert studio.drafts.load() is None
    assert list((studio.settings.data_dir / "drafts").glob("*/*")) == []


def _made(studio) -> tuple[int, bytes]:
    request = GenerationRequest(
        prompt="a lighthouse in fog", model="gemini-3-pro-image", aspect_ratio="21:9", seed=11
    )
    [record] = studio.generate(request, timeout=30)
    assert record.status == "succeeded"
    return record.id, record.images[0].path.read_bytes()


def test_dropping_a_studio_image_offers_to_restore_it(make_app, studio):
    gen_id, data = _made(studio)
    at = _session(make_app, studio)
    at.file_uploader(key="gen_uploads").set_value([("mine.png", data, "image/png")]).run()
    assert "This image was made by Studio" in " ".join(m.value for m in at.markdown)
    at.button(key="gen_restore").click().run()
    assert not at.exception, at.exception
    assert at.text_area(key="gen_prompt").value == "a lighthouse in fog"
    assert at.selectbox(key="gen_model").value == "gemini-3-pro-image"
    assert at.selectbox(key="gen_ratio").value == "21:9"
    assert at.number_input(key="gen_adv_seed").value == 11
    assert "This image was made by Studio" not in " ".join(m.value for m in at.markdown)


def test_a_download_with_metadata_offers_too_and_dismiss_keeps_the_reference(make_app, studio):
    gen_id, _ = _made(studio)
    record = studio.get(gen_id)
    embedded, name, mime = metadata.embed(record, record.images[0])
    at = _session(make_app, studio)
    at.file_uploader(key="gen_uploads").set_value([(name, embedded, mime)]).run()
    assert "This image was made by Studio" in " ".join(m.value for m in at.markdown)
    at.button(key="gen_restore_dismiss").click().run()
    assert "This image was made by Studio" not in " ".join(m.value for m in at.markdown)
    assert len(at.session_state["gen_tray"]) == 1
    assert at.text_area(key="gen_prompt").value == ""


def test_another_image_is_only_a_reference(make_app, studio):
    _made(studio)
    at = _session(make_app, studio)
    at.file_uploader(key="gen_uploads").set_value([("photo.png", png((1, 2, 3)), "image/png")]).run()
    assert "made by Studio" not in " ".join(m.value for m in at.markdown)
    assert len(at.session_state["gen_tray"]) == 1


def _edit_like_page() -> None:
    """A harness for the ``references.restore_elsewhere`` helper: an uploader like Edit's "An uploaded
    image", with the helper called under it (Edit and Experiment call it once wired, at merge)."""
    import streamlit as st

    from studio.app import resources
    from studio.app.widgets import references

    files = st.file_uploader("Image to edit", key="edit_upload", accept_multiple_files=True)
    references.restore_elsewhere(resources.get_studio(), files or [], key="edit")


def test_the_restore_elsewhere_helper_offers_once_per_file_and_reads_it_once(monkeypatch, studio):
    """A test of the helper on a harness page, not of Edit's or Experiment's uploader."""
    from streamlit.testing.v1 import AppTest

    from studio.app import resources

    _, data = _made(studio)
    monkeypatch.setattr(resources, "get_studio", lambda: studio)
    at = AppTest.from_function(_edit_like_page, default_timeout=15).run()
    at.file_uploader(key="edit_upload").set_value([("photo.png", png((1, 2, 3)), "image/png")]).run()
    assert not at.exception, at.exception
    assert "made by Studio" not in " ".join(m.value for m in at.markdown)
    at.file_uploader(key="edit_upload").set_value([("mine.png", data, "image/png")]).run()
    assert "This image was made by Studio" in " ".join(m.value for m in at.markdown)
    assert at.button(key="edit_restore").label == "Restore on Generate"

    reads = []
    real = studio.drafts.from_image
    studio.drafts.from_image = lambda data: reads.append(len(data)) or real(data)
    for _ in range(3):  # the uploader keeps its file: later runs use what was found
        at.run()
        assert "This image was made by Studio" in " ".join(m.value for m in at.markdown)
    assert reads == []
    found = [r for r in at.session_state["studio_recipe_seen"].values() if r is not None]
    assert [r.prompt for r in found] == ["a lighthouse in fog"]


def test_an_unrelated_error_after_a_stopped_first_run_keeps_the_draft_and_shows(
    make_app, studio, monkeypatch
):
    """History's detail view ends every run in st.stop(): a later, unrelated error is not the draft's."""
    studio._store.drafts.put(json.dumps({"values": {"gen_prompt": "kept through it all"}}))
    at = make_app(studio)
    at.switch_page("screens/history.py")
    at.query_params["id"] = "999"  # not in the history: the page says so and stops
    at.run()
    assert not at.exception, at.exception
    assert "not in the history" in " ".join(w.value for w in at.warning)

    def broken(gen_id):
        raise RuntimeError("an unrelated bug")

    from studio.services.session import StudioSession

    monkeypatch.setattr(StudioSession, "get", lambda self, gen_id: broken(gen_id))  # the page's own session
    at.run()
    assert at.exception and "an unrelated bug" in at.exception[0].message  # shown, not hidden
    assert at.session_state["studio_kept"]["gen_prompt"] == "kept through it all"
    assert studio.drafts.load().values["gen_prompt"] == "kept through it all"


def test_a_draft_the_page_cannot_take_is_set_aside_not_deleted_and_said(make_app, studio, monkeypatch):
    _let_anything_through(monkeypatch)
    body = {"values": {"gen_model": "__custom__", "gen_custom_model": 5, "gen_prompt": "p"}, "tray": []}
    studio._store.drafts.put(json.dumps(body))
    at = _session(make_app, studio)
    assert "saved draft could not be put back" in " ".join(w.value for w in at.warning)
    aside = studio._store.drafts.get(studio.drafts.owner + ":set-aside")
    assert aside is not None and json.loads(aside)["values"]["gen_prompt"] == "p"


def test_two_tabs_a_stale_tab_saves_only_what_it_changed(make_app, studio):
    tab_a = _session(make_app, studio)
    tab_a.text_area(key="gen_prompt").input("a cat").run()
    tab_b = _session(make_app, studio)  # restores "a cat"
    assert tab_b.text_area(key="gen_prompt").value == "a cat"
    tab_b.text_area(key="gen_prompt").input("a dog").run()
    tab_a.number_input(key="gen_variants").set_value(3).run()  # tab A still shows "a cat"

    reload = _session(make_app, studio)
    assert reload.text_area(key="gen_prompt").value == "a dog"  # tab B's newer prompt
    assert reload.number_input(key="gen_variants").value == 3  # and tab A's change


def test_after_a_restart_the_browsers_own_widget_values_win_over_the_stored_draft(make_app, studio):
    tab = _session(make_app, studio)
    tab.text_area(key="gen_prompt").input("a dog, as on screen").run()
    on_screen = tab._tree.get_widget_states()  # what the browser sends when it reconnects
    studio._store.drafts.put(json.dumps({"values": {"gen_prompt": "an older cat", "exp_template": "a {x}"}}))

    restarted = make_app(studio)  # the studio restarted: a new session, whose first run gets those values
    restarted._run(on_screen)
    assert not restarted.exception, restarted.exception
    assert restarted.text_area(key="gen_prompt").value == "a dog, as on screen"
    assert restarted.session_state["studio_kept"]["exp_template"] == "a {x}"  # not on screen: restored


def test_a_text_value_of_the_wrong_kind_never_breaks_experiment(make_app, studio):
    studio._store.drafts.put(json.dumps({"values": {"exp_template": 5, "exp_ratios": "1:1"}}))
    at = _session(make_app, studio)
    for _ in range(2):  # every visit
        at.switch_page("screens/experiment.py").run()
        assert not at.exception, at.exception
        assert at.text_area(key="exp_template").value == ""
        at.switch_page("screens/generate.py").run()


def test_generate_says_the_draft_came_back_and_its_start_fresh_button_forgets_it(make_app, studio):
    at = _session(make_app, studio)
    at.text_area(key="gen_prompt").input("a heron at dawn").run()
    at.number_input(key="gen_variants").set_value(3).run()

    again = _session(make_app, studio)  # a reload
    assert again.text_area(key="gen_prompt").value == "a heron at dawn"
    assert any("draft is back" in c.value for c in again.caption)
    again.button(key="gen_fresh").click().run()
    assert not again.exception, again.exception
    assert again.text_area(key="gen_prompt").value == ""
    assert again.number_input(key="gen_variants").value == 1
    assert not any("draft is back" in c.value for c in again.caption)

    after = _session(make_app, studio)  # a reload after Start fresh: nothing comes back
    assert after.text_area(key="gen_prompt").value == ""
    assert not any("draft is back" in c.value for c in after.caption)


def test_edit_and_experiment_uploaders_offer_to_restore_a_studio_image_on_generate(make_app, studio):
    _, data = _made(studio)
    at = _session(make_app, studio)
    at.switch_page("screens/edit.py").run()
    at.radio(key="edit_source").set_value("An uploaded image").run()
    at.file_uploader(key="edit_upload").set_value([("mine.png", data, "image/png")]).run()
    assert not at.exception, at.exception
    assert "This image was made by Studio" in " ".join(m.value for m in at.markdown)
    at.button(key="edit_upload_restore").click().run()
    assert not at.exception, at.exception
    assert at.text_area(key="gen_prompt").value == "a lighthouse in fog"  # now on Generate, restored
    assert at.selectbox(key="gen_ratio").value == "21:9"

    at.switch_page("screens/experiment.py").run()
    at.number_input(key="exp_nsets").set_value(1).run()
    at.file_uploader(key="exp_refs_0").set_value([("other.png", png((1, 2, 3)), "image/png")]).run()
    assert not at.exception, at.exception
    assert "made by Studio" not in " ".join(m.value for m in at.markdown)  # any other image: a reference
    at.file_uploader(key="exp_refs_0").set_value([("mine.png", data, "image/png")]).run()
    assert "This image was made by Studio" in " ".join(m.value for m in at.markdown)
