"""AppTest of the real app against the real emulator: Generate, History, Settings, inert text."""

from __future__ import annotations

import pytest

from studio.domain.errors import ConfigError
from studio.domain.requests import GenerationRequest
from studio.domain.settings import load_settings
from studio.services.studio import Studio
from tests.factories import png

from .helpers import all_text
from .history_helpers import shown, tiles

MALICIOUS = "<img src=x onerror=alert(1)> **bold** [link](javascript:alert(2))"


def _generate(at, prompt: str, studio) -> list[int]:
    """Type a prompt, press Generate, wait for the jobs, and rerun so the results render."""
    at.text_area(key="gen_prompt").input(prompt)
    at.button(key="gen_submit").click().run()
    assert not at.exception, at.exception
    ids = at.session_state["gen_ids"]
    studio.wait(ids, timeout=20)
    at.run()
    return ids


def _errors(at) -> list[str]:
    return [e.value for e in at.error]


@pytest.fixture
def keyless_studio():
    s = Studio(load_settings())
    yield s
    s.close()


def test_without_a_key_the_form_explains_and_generate_is_disabled(make_app, keyless_studio):
    at = make_app(keyless_studio).run()
    assert not at.exception
    info = " ".join(i.value for i in at.info)
    assert "STUDIO_API_KEY" in info and "secrets.toml" in info and "studio run --demo" in info
    assert at.text_area(key="gen_prompt") is not None
    assert at.button(key="gen_submit").disabled


def test_a_config_error_is_a_sentence_not_a_traceback(make_app, monkeypatch):
    def broken():
        raise ConfigError("STUDIO_AUTH must be one of bearer, goog, query, not 'x'.")

    at = make_app(None)
    monkeypatch.setattr("studio.app.resources.get_studio", broken)
    at.run()
    assert not at.exception
    assert any("STUDIO_AUTH must be one of" in e.replace("\\", "") for e in _errors(at))


def test_generate_shows_the_image_and_a_download(make_app, studio):
    at = make_app(studio).run()
    assert not at.button(key="gen_submit").disabled
    ids = _generate(at, "a red bicycle by the sea", studio)
    assert studio.get(ids[0]).status == "succeeded"
    assert len(at.image) >= 1
    assert at.get("download_button")
    assert not _errors(at)


def test_variants_each_get_a_result(make_app, studio):
    at = make_app(studio).run()
    at.number_input(key="gen_variants").set_value(3)
    ids = _generate(at, "three lemons", studio)
    assert len(ids) == 3
    assert len(at.image) == 3


def test_blocked_prompt_shows_a_sentence_and_no_traceback(make_app, studio):
    at = make_app(studio).run()
    ids = _generate(at, "[[fault:blocked]] a cat", studio)
    record = studio.get(ids[0])
    assert record.status == "blocked"
    assert not at.exception
    errors = [e.replace("\\", "") for e in _errors(at)]
    assert record.error_message in errors
    assert "Traceback" not in all_text(at)


def test_model_choice_limits_ratios_and_sizes(make_app, studio):
    at = make_app(studio).run()
    at.selectbox(key="gen_model").set_value("gemini-2.5-flash-image").run()
    assert "1:4" not in at.selectbox(key="gen_ratio").options
    assert _has_no_size(at)
    at.selectbox(key="gen_model").set_value("gemini-3.1-flash-image").run()
    assert "1:4" in at.selectbox(key="gen_ratio").options
    assert at.selectbox(key="gen_size").options == ["512", "1K", "2K", "4K"]
    at.selectbox(key="gen_size").set_value("4K").run()
    estimate = " ".join(m.value for m in at.markdown)
    assert "4096 × 4096 px" in estimate and "$0.151" in estimate.replace("\\", "")


def _has_no_size(at) -> bool:
    return not any(getattr(s, "key", None) == "gen_size" for s in at.selectbox)


def test_bad_and_surplus_references_are_refused_with_a_reason(make_app, studio):
    at = make_app(studio).run()
    at.selectbox(key="gen_model").set_value("gemini-2.5-flash-image").run()
    assert any("3 references max" in c.value for c in at.caption)
    files = [(f"ref{i}.png", png(color=(i * 40, 10, 10)), "image/png") for i in range(4)]
    files.append(("notes.png", b"<html>not an image</html>", "image/png"))
    at.file_uploader(key="gen_uploads").set_value(files).run()
    warnings = " ".join(w.value.replace("\\", "") for w in at.warning)
    assert "notes.png" in warnings
    assert "ref3.png" in warnings and "at most 3" in warnings
    ids = _generate(at, "combine these", studio)
    assert len(studio.get(ids[0]).references) == 3


def test_history_lists_generations_and_search_filters(make_app, studio):
    studio.generate(
        GenerationRequest(prompt="a zebra on a skateboard", model="gemini-2.5-flash-image"), timeout=20
    )
    studio.generate(GenerationRequest(prompt="a teapot in space", model="gemini-2.5-flash-image"), timeout=20)
    at = make_app(studio).run()
    at.switch_page("screens/history.py").run()
    assert not at.exception
    on_grid = shown(at)
    assert "a zebra on a skateboard" in on_grid and "a teapot in space" in on_grid
    assert len(tiles(at)) == 2  # the stored thumbnails
    at.text_input(key="hist_search").input("zebra").run()
    on_grid = shown(at)
    assert "a zebra on a skateboard" in on_grid and "a teapot in space" not in on_grid
    at.text_input(key="hist_search").input('"(* OR').run()  # search syntax from a user is not an error
    assert not at.exception


def test_history_pages_with_older_and_newer(make_app, studio, monkeypatch):
    from studio.app.widgets import gallery_grid as gallery

    monkeypatch.setattr(gallery, "PAGE_SIZE", 2)
    for n in range(3):
        studio.generate(
            GenerationRequest(prompt=f"page item {n}", model="gemini-2.5-flash-image"), timeout=20
        )
    at = make_app(studio).run()
    at.switch_page("screens/history.py").run()
    assert shown(at) == ["page item 2", "page item 1"]
    at.button(key="hist_older").click().run()
    assert shown(at) == ["page item 0"]
    assert at.button(key="hist_older").disabled
    at.button(key="hist_newer").click().run()
    assert shown(at) == ["page item 2", "page item 1"]


def test_detail_shows_prompt_settings_and_reuse_buttons(make_app, studio):
    [record] = studio.generate(
        GenerationRequest(
            prompt="a lighthouse at dusk", model="gemini-3-pro-image", aspect_ratio="16:9", image_size="2K"
        ),
        timeout=20,
    )
    at = make_app(studio).run()
    at.switch_page("screens/history.py").run()
    at.query_params["id"] = str(record.id)  # what a click on its tile does
    at.run()
    assert not at.exception
    assert at.query_params["id"] == [str(record.id)] or at.query_params["id"] == str(record.id)
    assert [c.value for c in at.code] == ["a lighthouse at dusk"]
    tables = "\n".join(df.value.to_csv() for df in at.dataframe)
    assert "aspect_ratio,16:9" in tables and "image_size,2K" in tables
    assert at.get("download_button")
    at.button(key="hist_remix").click().run()
    assert not at.exception
    assert at.text_area(key="gen_prompt").value == "a lighthouse at dusk"
    assert at.selectbox(key="gen_model").value == "gemini-3-pro-image"
    assert at.selectbox(key="gen_ratio").value == "16:9"


def test_rerun_from_detail_submits_the_same_request(make_app, studio):
    [record] = studio.generate(
        GenerationRequest(prompt="again please", model="gemini-2.5-flash-image"), timeout=20
    )
    at = make_app(studio).run()
    at.query_params["id"] = str(record.id)
    at.switch_page("screens/history.py").run()
    at.button(key="hist_rerun").click().run()
    assert not at.exception
    [new_id] = at.session_state["gen_ids"]
    studio.wait([new_id], timeout=20)
    assert new_id != record.id and studio.get(new_id).prompt == "again please"


def test_settings_page_never_shows_the_key(make_app, studio):
    at = make_app(studio).run()
    at.switch_page("screens/settings.py").run()
    assert not at.exception
    table = at.dataframe[0].value.to_csv()
    assert "environment variable" in table and studio.settings.base_url in table
    at.button(key="settings_test").click().run()
    assert at.success or at.error
    assert "test-key-123" not in all_text(at)


def test_malicious_prompt_is_rendered_as_text(make_app, studio):
    at = make_app(studio).run()
    _generate(at, MALICIOUS, studio)
    at.switch_page("screens/history.py").run()
    assert MALICIOUS in shown(at)
    assert not at.get("html")
    assert all("<img" not in m.value for m in at.markdown)
    at.query_params["id"] = str(studio.history(limit=1)[0].id)  # what a click on its tile does
    at.run()
    assert MALICIOUS in [c.value for c in at.code]


def test_cancel_stops_a_running_job(make_app, studio):
    at = make_app(studio).run()
    at.text_area(key="gen_prompt").input("[[latency:20]] a slow snail")
    at.button(key="gen_submit").click().run()
    [gen_id] = at.session_state["gen_ids"]
    assert at.button(key=f"gen_cancel_all_{gen_id}")
    at.button(key=f"gen_cancel_{gen_id}").click().run()
    [record] = studio.wait([gen_id], timeout=20)
    assert record.status == "cancelled"
    at.run()
    assert not at.exception
    assert record.error_message in [e.value.replace("\\", "") for e in at.error]


def test_custom_model_id_is_sent_as_typed(make_app, studio):
    at = make_app(studio).run()
    at.selectbox(key="gen_model").set_value("__custom__").run()
    assert at.button(key="gen_submit").disabled  # no id typed yet, and the form says so
    assert any("Type a model id" in w.value for w in at.warning)
    at.text_input(key="gen_custom_model").input("gemini-3-pro-image-preview").run()
    ids = _generate(at, "a custom model test", studio)
    assert studio.get(ids[0]).model == "gemini-3-pro-image-preview"
