"""After a restart, Generate and History say what happened to work in flight: Retry · Dismiss.

The history is made the real way: a studio process generating against the emulator is killed with SIGKILL
while the emulator holds its calls, and a new Studio on the same data directory (the restart) resolves the
rows to ``interrupted``.
"""

from __future__ import annotations

import uuid

import pytest

from studio.app.widgets import components
from studio.domain.settings import Settings, load_settings
from studio.services.studio import Studio
from tests.stopped import kill_mid_generation

from .helpers import all_text

MALICIOUS = "<img src=x onerror=alert(1)> **bold** [link](javascript:alert(2))"
NOTICE = "interrupted when the studio stopped"


def _prompt(text: str = "a lighthouse at dusk") -> str:
    # the latency keeps the call in the emulator until the kill; the retry waits it out too
    return f"{text} {uuid.uuid4().hex[:8]} [[latency:3]]"


@pytest.fixture
def restart(studio_env):
    """``restart(prompt, variants)``: kill a studio mid-generation, then start a new one on the same data."""
    opened: list[Studio] = []

    def make(prompt: str, variants: int = 1) -> Studio:
        kill_mid_generation(studio_env, prompt, variants=variants)
        studio = Studio(load_settings())
        opened.append(studio)
        assert len(studio.interrupted_on_start) == variants
        return studio

    yield make
    for studio in opened:
        studio.close()


def _notice(at) -> str:
    return " ".join(m.value for m in at.markdown if NOTICE in m.value)


def test_generate_says_how_many_were_interrupted_and_retry_sends_them_again(make_app, restart):
    studio = restart(_prompt(), variants=2)
    interrupted = studio.interrupted_on_start
    at = make_app(studio).run()
    assert not at.exception, at.exception
    assert "2 generations were interrupted when the studio stopped." in _notice(at)
    assert at.button(key="gen_submit")  # the form is still there, below the notice

    at.button(key="interrupted_retry").click().run()
    assert not at.exception, at.exception
    assert "Retrying 2 generations." in [t.value for t in at.toast]
    new = at.session_state["gen_ids"]
    assert len(new) == 2 and not set(new) & set(interrupted)
    records = studio.wait(new, timeout=30)
    assert [r.status for r in records] == ["succeeded", "succeeded"]
    assert all(r.images and r.images[0].path.is_file() for r in records)
    assert {r.prompt for r in records} == {studio.get(interrupted[0]).prompt}
    at.run()
    assert not _notice(at)
    assert len(at.image) == 2  # the results panel shows the new images
    # the history keeps the truth: the interrupted rows stay as they were
    assert [studio.get(i).status for i in interrupted] == ["interrupted", "interrupted"]
    assert studio.interrupted_work() == []


def test_history_offers_the_same_retry(make_app, restart):
    studio = restart(_prompt("a glass bird"), variants=2)
    at = make_app(studio)
    at.switch_page("screens/history.py").run()
    assert "2 generations were interrupted when the studio stopped." in _notice(at)
    at.button(key="interrupted_retry").click().run()
    assert not at.exception, at.exception
    assert "Retrying 2 generations." in [t.value for t in at.toast]
    new = at.session_state["gen_ids"]  # Generate follows them when the designer goes there
    assert [r.status for r in studio.wait(new, timeout=30)] == ["succeeded", "succeeded"]
    at.run()
    assert not _notice(at)
    assert studio.interrupted_work() == []


def test_history_dismiss_hides_the_notice_after_a_reload_and_a_restart(make_app, restart):
    studio = restart(_prompt("a tin robot"))
    [gen_id] = studio.interrupted_on_start
    at = make_app(studio)
    at.switch_page("screens/history.py").run()
    assert not at.exception, at.exception
    assert "1 generation was interrupted when the studio stopped." in _notice(at)

    at.button(key="interrupted_dismiss").click().run()
    assert not at.exception, at.exception
    assert not _notice(at)
    assert any("Dismissed" in t.value for t in at.toast)
    assert "gen_ids" not in at.session_state  # nothing was sent
    at.run()  # a rerun of the same session
    assert not _notice(at)

    studio.close()
    again = Studio(load_settings())  # a restart on the same data directory
    try:
        fresh = make_app(again)  # a new browser session
        fresh.switch_page("screens/history.py").run()
        assert not _notice(fresh)
        fresh.switch_page("screens/generate.py").run()
        assert not _notice(fresh)
        record = again.get(gen_id)
        assert record.status == "interrupted" and record.error_kind == "interrupted"
    finally:
        again.close()


def test_the_list_of_interrupted_prompts_is_inert_text(make_app, restart):
    studio = restart(f"{MALICIOUS} {uuid.uuid4().hex[:8]} [[latency:3]]")
    at = make_app(studio).run()
    assert "1 generation was interrupted when the studio stopped." in _notice(at)
    [link] = [e.proto.label for e in at.get("page_link")]
    assert link.startswith(f"\\#{studio.interrupted_on_start[0]} · ")
    assert components.escape_md(MALICIOUS) in link  # listed, with every Markdown character escaped
    assert not at.get("html")


def test_a_demo_studio_keeps_its_label_with_the_notice(make_app, studio_env):
    prompt = _prompt("a paper boat")
    kill_mid_generation(studio_env, prompt)
    demo = Studio(Settings(data_dir=load_settings().data_dir, demo=True))
    try:
        at = make_app(demo).run()
        assert "1 generation was interrupted when the studio stopped." in _notice(at)
        assert "DEMO" in all_text(at)
    finally:
        demo.close()
