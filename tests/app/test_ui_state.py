"""UI state across page switches, and what a rerun of a finished result costs (no image re-encoded or re-read)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageFile

from studio.app.widgets import viewer
from studio.storage import generation_repo as repository

BIG = {"gen_model": "gemini-3-pro-image", "gen_ratio": "3:2", "gen_size": "2K"}  # the emulator: 2528 × 1696


def _away_and_back(at, page: str) -> None:
    """Two pages and several runs away: the values are kept on the switch, not only for the next run."""
    at.switch_page("screens/history.py").run()
    at.run()
    at.switch_page("screens/settings.py").run()
    at.run()
    assert not at.exception, at.exception
    at.switch_page(page).run()
    assert not at.exception, at.exception


def test_the_generate_form_survives_a_visit_to_another_page(make_app, studio):
    at = make_app(studio).run()
    at.selectbox(key="gen_model").set_value("gemini-3.1-flash-image").run()
    at.text_area(key="gen_prompt").input("a fox reading a map")
    at.number_input(key="gen_variants").set_value(3)
    at.selectbox(key="gen_ratio").set_value("16:9")
    at.selectbox(key="gen_size").set_value("2K")
    at.radio(key="gen_output").set_value("Text and image")
    at.text_input(key="gen_adv_system").input("Always a white backdrop")
    at.number_input(key="gen_adv_temperature").set_value(0.4).run()
    _away_and_back(at, "screens/generate.py")
    assert at.text_area(key="gen_prompt").value == "a fox reading a map"
    assert at.number_input(key="gen_variants").value == 3
    assert at.selectbox(key="gen_model").value == "gemini-3.1-flash-image"
    assert (at.selectbox(key="gen_ratio").value, at.selectbox(key="gen_size").value) == ("16:9", "2K")
    assert at.radio(key="gen_output").value == "Text and image"
    assert at.text_input(key="gen_adv_system").value == "Always a white backdrop"
    assert at.number_input(key="gen_adv_temperature").value == pytest.approx(0.4)


def test_the_prompt_form_fields_and_a_custom_model_survive_too(make_app, studio):
    at = make_app(studio).run()
    at.radio(key="gen_mode").set_value("Form").run()
    at.text_input(key="gen_f_subject").input("a red fox")
    at.text_area(key="gen_f_extra").input("storybook")
    at.selectbox(key="gen_model").set_value("__custom__").run()
    at.text_input(key="gen_custom_model").input("my-relay-model").run()
    _away_and_back(at, "screens/generate.py")
    assert at.radio(key="gen_mode").value == "Form"
    assert at.text_input(key="gen_f_subject").value == "a red fox"
    assert at.text_area(key="gen_f_extra").value == "storybook"
    assert at.text_input(key="gen_custom_model").value == "my-relay-model"


def test_the_edit_and_experiment_builders_survive_a_visit_to_another_page(make_app, studio):
    at = make_app(studio).run()
    at.switch_page("screens/edit.py").run()
    at.text_area(key="edit_first").input("make the sky pink").run()
    _away_and_back(at, "screens/edit.py")
    assert at.text_area(key="edit_first").value == "make the sky pink"
    at.switch_page("screens/experiment.py").run()
    at.text_area(key="exp_template").input("a {animal} in the snow").run()
    at.text_area(key="exp_var_animal").input("fox\nowl").run()
    at.number_input(key="exp_repeats").set_value(2).run()
    _away_and_back(at, "screens/experiment.py")
    assert at.text_area(key="exp_template").value == "a {animal} in the snow"
    assert at.text_area(key="exp_var_animal").value == "fox\nowl"
    assert at.number_input(key="exp_repeats").value == 2


@pytest.fixture
def image_work(monkeypatch):
    """Counts of Pillow encodes (save), decodes (load) and resizes while the page runs."""
    counts = {"save": 0, "load": 0, "resize": 0}

    def counted(cls, name):
        original = getattr(cls, name)

        def wrapper(self, *args, **kwargs):
            counts[name] += 1
            return original(self, *args, **kwargs)

        monkeypatch.setattr(cls, name, wrapper)

    counted(Image.Image, "save")
    counted(Image.Image, "resize")
    counted(ImageFile.ImageFile, "load")
    return counts


def _big_result(make_app, studio):
    at = make_app(studio).run()
    for key, value in BIG.items():
        at.selectbox(key=key).set_value(value).run()
    at.text_area(key="gen_prompt").input("a wide harbour at dusk")
    at.button(key="gen_submit").click().run()
    ids = at.session_state["gen_ids"]
    studio.wait(ids, timeout=20)
    at.run()
    assert not at.exception, at.exception
    image = studio.get(ids[0]).images[0]
    assert max(image.width, image.height) > repository.PREVIEW_SIDE  # the preview is what is shown
    return at, image


def test_a_rerun_of_a_large_finished_result_encodes_and_decodes_nothing(make_app, studio, image_work):
    at, image = _big_result(make_app, studio)
    preview = studio._store.generations.preview(image)
    assert preview != Path(image.path)
    with Image.open(preview) as im:
        assert max(im.size) <= 1460  # Streamlit's MAXIMUM_CONTENT_WIDTH: wider images are resized every run
    for counter in image_work:
        image_work[counter] = 0
    for _ in range(3):
        at.run()
    assert not at.exception
    assert image_work == {"save": 0, "load": 0, "resize": 0}


def test_the_viewer_reads_an_image_once_across_reruns(make_app, studio, monkeypatch):
    at, image = _big_result(make_app, studio)
    made: list[Path] = []
    data_url = viewer._data_url
    monkeypatch.setattr(viewer, "_data_url", lambda path, img: made.append(path) or data_url(path, img))
    for _ in range(3):
        at.session_state[viewer.OPEN] = True
        at.session_state[viewer.INDEX] = 0
        at.run()
        assert not at.exception, at.exception
    assert made == [studio._store.generations.preview(image)]  # the preview, read once
    assert viewer.SRC_CACHE in at.session_state


def test_an_instruction_the_edit_page_sent_and_cleared_stays_cleared_after_a_page_switch(make_app, studio):
    at = make_app(studio).run()
    at.switch_page("screens/edit.py").run()
    at.text_area(key="edit_first").input("a ceramic teapot")
    at.button(key="edit_start").click().run()
    studio.wait([r.id for r in studio.history()], timeout=20)
    at.run()
    at.text_area(key="edit_instruction").input("make it blue")
    at.button(key="edit_send").click().run()
    assert not at.exception, at.exception
    assert any(r.prompt == "make it blue" for r in studio.history())
    studio.wait([r.id for r in studio.history()], timeout=20)
    _away_and_back(at, "screens/edit.py")
    assert at.text_area(key="edit_instruction").value == ""
