"""Reviewer's UI defects, fixed: one paid submission per intent, inert names, no tracebacks from
missing files or stale callbacks, no key on a configuration error page, every reference shown."""

from __future__ import annotations

import re
import types
from pathlib import Path

import pytest

from studio.app.widgets import components, guard
from studio.domain.errors import ConfigError
from studio.domain.requests import GenerationRequest
from studio.imaging import images
from studio.services import runs

from ..conftest import make_image
from .helpers import all_text, texts

EVIL_NAME = "![x](http://127.0.0.1:9/pixel.png) [click](http://127.0.0.1:9/) <img src=x onerror=alert(1)>"
#: Markdown that would render live: "](" (a link or image) or "<" (HTML) with no backslash before it
LIVE = re.compile(r"(?<!\\)(\]\(|<)")


class Clock:
    """A stand-in for ``time.monotonic`` inside the guard, moved by the test (no sleeping)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(guard, "time", types.SimpleNamespace(monotonic=fake.monotonic))
    return fake


def _refs(n: int) -> tuple:
    return tuple(
        images.sanitize_upload(make_image(40 + i, 30, color=(20 * i, 90, 160)), f"ref-{i}.png")
        for i in range(n)
    )


def _flat(values) -> str:
    return "\n".join(v.replace("\\", "") for v in values)


def _detail(make_app, studio, gen_id: int):
    at = make_app(studio).run()
    at.query_params["id"] = str(gen_id)
    at.switch_page("screens/history.py").run()
    assert not at.exception, at.exception
    return at


# -- one submission per intent ----------------------------------------------------------------------


def test_a_double_click_on_generate_submits_once_and_a_later_click_again(make_app, studio, clock):
    at = make_app(studio).run()
    at.text_area(key="gen_prompt").input("a paper boat on a puddle")
    at.button(key="gen_submit").click().run()
    first = at.session_state["gen_ids"]
    clock.now += 0.4  # the second click of a double click
    at.button(key="gen_submit").click().run()
    assert not at.exception
    assert len(studio.history()) == 1
    assert at.session_state["gen_ids"] == first  # the batch on screen is still the one that was paid for
    assert any(guard.REFUSED in t.value for t in at.toast)
    clock.now += guard.WINDOW_S + 1  # a deliberate second press, seconds later
    at.button(key="gen_submit").click().run()
    assert not at.exception
    assert len(studio.history()) == 2
    studio.wait([r.id for r in studio.history()], timeout=20)


def test_a_changed_prompt_is_a_new_request_at_once(make_app, studio, clock):
    at = make_app(studio).run()
    at.text_area(key="gen_prompt").input("a red kite")
    at.button(key="gen_submit").click().run()
    at.text_area(key="gen_prompt").input("a blue kite")
    at.button(key="gen_submit").click().run()
    assert not at.exception
    assert sorted(r.prompt for r in studio.history()) == ["a blue kite", "a red kite"]
    studio.wait([r.id for r in studio.history()], timeout=20)


def test_a_double_click_on_re_run_submits_once(make_app, studio, clock):
    [record] = studio.generate(
        GenerationRequest(prompt="once more", model="gemini-2.5-flash-image"), timeout=20
    )
    at = _detail(make_app, studio, record.id)
    at.button(key="hist_rerun").click().run()
    assert not at.exception
    at.query_params["id"] = str(record.id)  # back on the detail page, pressed again
    at.switch_page("screens/history.py").run()
    at.button(key="hist_rerun").click().run()
    assert not at.exception
    assert len(studio.history()) == 2
    studio.wait([r.id for r in studio.history()], timeout=20)


# -- inert names ------------------------------------------------------------------------------------


def test_a_template_named_in_markdown_renders_as_text(make_app, studio):
    studio.templates.save(EVIL_NAME, "a {animal} in the snow", kind="template")
    at = make_app(studio).run()
    at.switch_page("screens/library.py").run()
    assert not at.exception
    labels = [e.label for e in at.expander]
    assert components.escape_md(EVIL_NAME) in labels
    assert not any(LIVE.search(label) for label in labels)
    assert not at.get("html")
    assert not any(LIVE.search(m.value) for m in at.markdown)


# -- no tracebacks ----------------------------------------------------------------------------------


def test_a_missing_reference_file_is_a_sentence_in_the_detail_view(make_app, studio):
    [record] = studio.generate(
        GenerationRequest(prompt="with a reference", model="gemini-2.5-flash-image", references=_refs(1)),
        timeout=20,
    )
    ref = record.references[0]
    Path(ref.path).unlink()
    if ref.thumb_path:
        Path(ref.thumb_path).unlink(missing_ok=True)
    at = _detail(make_app, studio, record.id)
    assert "The original file is missing from the data directory." in [c.value for c in at.caption]
    at.button(key="hist_remix").click().run()  # re-use needs the file: it says so
    assert not at.exception
    assert "missing or unreadable" in _flat(e.value for e in at.error)


def test_a_callback_on_a_deleted_collection_is_a_sentence(make_app, studio):
    [record] = studio.generate(
        GenerationRequest(prompt="for a board", model="gemini-2.5-flash-image"), timeout=20
    )
    cid = studio._store.organise.create_collection("Moodboard")
    at = _detail(make_app, studio, record.id)
    at.selectbox(key=f"hist_coll_pick_{record.id}").set_value(cid).run()
    studio._store.organise.delete_collection(cid)  # another tab deleted it meanwhile
    at.button(key=f"hist_coll_add_{record.id}").click().run()
    assert not at.exception
    assert "does not exist" in _flat(e.value for e in at.error)


def test_a_config_error_never_shows_the_key(make_app, monkeypatch):
    def broken():
        raise ConfigError(
            "STUDIO_BASE_URL is not a valid URL: https://relay.invalid/v1beta?key=SECRET-4242-KEY"
        )

    at = make_app(None)
    monkeypatch.setattr("studio.app.resources.get_studio", broken)
    at.run()
    assert not at.exception
    assert "STUDIO_BASE_URL is not a valid URL" in _flat(e.value for e in at.error)
    assert "SECRET-4242-KEY" not in all_text(at)


# -- everything is shown ----------------------------------------------------------------------------


def test_all_eight_references_are_shown(make_app, studio):
    # eight object references: Nano Banana 2 takes 10 (Pro takes 6 objects + 5 characters)
    [record] = studio.generate(
        GenerationRequest(prompt="eight refs", model="gemini-3.1-flash-image", references=_refs(8)),
        timeout=20,
    )
    assert len(record.references) == 8
    at = _detail(make_app, studio, record.id)
    shown = texts(at)
    assert all(f"ref-{i}.png" in shown for i in range(8))


def test_a_double_click_on_experiment_run_starts_one_run(make_app, studio, clock):
    at = make_app(studio).run()
    at.switch_page("screens/experiment.py").run()
    at.text_area(key="exp_template").input("a {animal} at noon").run()
    at.text_area(key="exp_var_animal").input("owl").run()
    at.button(key="exp_start").click().run()
    first = at.session_state["exp_run"]
    clock.now += 0.3
    at.button(key="exp_start").click().run()
    assert not at.exception, at.exception
    assert [r.id for r in studio._store.runs.list_runs()] == [first]
    runs.wait(studio, first, timeout=30)
    studio.wait([r.id for r in studio.history()], timeout=20)
