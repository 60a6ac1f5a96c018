"""Studio's Streamlit entry point: page config, navigation and the sidebar. Pages live in screens/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import streamlit as st

from studio.app import resources
from studio.app.widgets import components, draft_keeper
from studio.domain.errors import StudioError

VIEWS = Path(__file__).parent / "screens"

#: The builders' value widgets (inputs, selects, toggles), kept across page switches: Streamlit drops the
#: state of every widget a run does not draw. Buttons, uploaders, expanders and form submits must never
#: match (assigning their keys raises).
KEPT = re.compile(
    r"gen_(prompt|mode|f_\w+|model|custom_model|ratio|size|output|variants|prop_\d+|adv_\w+)"
    r"|edit_(source|model|from_id|first|instruction|adv_\w+)"
    r"|exp_(template|var_\w+|models|ratios|sizes|seeds|repeats|nsets|concurrency|threshold|adv_\w+)"
)
_NOT_KEPT = ("_box",)  # "Advanced" expanders: {prefix}_adv_box
_PLAIN = (str, int, float, bool, type(None))
_PAGE = "studio_page"  # the page of the previous run
PREVIOUS = (
    "studio_previous_page"  # the same, kept for the page itself (History drops its selection on arrival)
)
_SAVED = draft_keeper.SAVED  # plain session state (no widget's), which Streamlit never drops
OWNER = {"gen": "Generate", "edit": "Edit", "exp": "Experiment"}  # key prefix -> the page drawing it


def _plain(value: Any) -> bool:
    if isinstance(value, list | tuple):
        return all(isinstance(item, _PLAIN) for item in value)
    return isinstance(value, _PLAIN)


def keep_builder_state(page_title: str) -> None:
    """Copy the builders' widget values aside on every run; on the first run of a page, put back those
    Streamlit dropped while another page was shown.

    Values are written back only then: a widget value set from code is pushed to the browser, and on
    every run it could overwrite text typed while the run was in flight. The first run of a new session
    (a reload, a restart) is such an arrival: the saved draft (``draft_keeper.restore``) is put back then."""
    ss = st.session_state
    ss[PREVIOUS] = ss.get(_PAGE)
    new_session = _SAVED not in ss
    saved: dict[str, Any] = ss.setdefault(_SAVED, {})
    if new_session:  # a reload or a restart: the stored draft, put back below like a page arrival
        draft_keeper.restore(saved, _kept)
    if ss.get(_PAGE) != page_title:
        ss[_PAGE] = page_title
        for name, value in saved.items():
            if name not in ss:
                ss[name] = list(value) if isinstance(value, list) else value
    else:  # gone while its own page is shown: deleted on purpose (a sent instruction), or not drawn
        for name in [n for n in saved if n not in ss and OWNER.get(n.split("_", 1)[0]) == page_title]:
            del saved[name]
    _copy_aside(saved)


def _kept(name: str) -> bool:
    return bool(KEPT.fullmatch(name)) and not name.endswith(_NOT_KEPT)


def _copy_aside(saved: dict[str, Any]) -> None:
    ss = st.session_state
    for name in [k for k in ss if isinstance(k, str) and _kept(k)]:
        value = ss[name]
        if _plain(value):
            saved[name] = list(value) if isinstance(value, list) else value


st.set_page_config(
    page_title="Studio", page_icon=":material/palette:", layout="wide", initial_sidebar_state="expanded"
)

page = st.navigation(
    [
        st.Page(VIEWS / "generate.py", title="Generate", icon=":material/auto_awesome:", default=True),
        st.Page(VIEWS / "history.py", title="History", icon=":material/photo_library:"),
        st.Page(VIEWS / "experiment.py", title="Experiment", icon=":material/grid_view:"),
        st.Page(VIEWS / "edit.py", title="Edit", icon=":material/forum:"),
        st.Page(VIEWS / "library.py", title="Library", icon=":material/menu_book:"),
        st.Page(VIEWS / "settings.py", title="Settings", icon=":material/settings:"),
    ]
)

with st.sidebar:
    st.caption("Gemini image studio")
    try:
        if resources.get_studio().is_demo:
            components.sidebar_demo_badge()
    except StudioError:
        pass  # the page itself explains the configuration problem

keep_builder_state(page.title)
draft_keeper.notice()
# Taken out of the session before the page runs: only this run (the session's first) may blame the draft, and
# st.stop() leaves session state unreadable in a ``finally`` (it raises StopException again), so a marker
# cleared there could stay set and blame the draft for a later, unrelated error.
restored = draft_keeper.take_restored()
try:
    page.run()
except Exception:
    if not draft_keeper.set_aside_restored(restored):  # a restored draft the page could not take
        raise
    st.rerun()
finally:  # also after st.rerun() (not st.stop()): what the run changed is kept across a reload and a restart
    _copy_aside(st.session_state[_SAVED])
    draft_keeper.persist(st.session_state[_SAVED])
