"""Studio's Streamlit entry point: page config, navigation and the sidebar. Pages live in views/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import streamlit as st

from studio.errors import StudioError
from studio.ui import components, resources

VIEWS = Path(__file__).parent / "views"

#: The builders' value widgets (inputs, selects, toggles), kept across page switches. Streamlit drops the
#: state of every widget a run does not draw; re-assigning a key makes it plain session state, which stays.
#: Buttons, uploaders, expanders and form submits must never match: assigning their keys raises.
KEPT = re.compile(
    r"gen_(prompt|mode|f_\w+|model|custom_model|ratio|size|output|variants|prop_\d+|adv_\w+)"
    r"|edit_(source|model|from_id|first|instruction|adv_\w+)"
    r"|exp_(template|var_\w+|models|ratios|sizes|seeds|repeats|nsets|concurrency|threshold|adv_\w+)"
)
_NOT_KEPT = ("_box",)  # "Advanced" expanders: {prefix}_adv_box
_PLAIN = (str, int, float, bool, type(None))


def _plain(value: Any) -> bool:
    if isinstance(value, list | tuple):
        return all(isinstance(item, _PLAIN) for item in value)
    return isinstance(value, _PLAIN)


def keep_builder_state() -> None:
    """Re-assign the builders' widget values so a visit to another page does not wipe them."""
    ss = st.session_state
    for name in [k for k in ss if isinstance(k, str) and KEPT.fullmatch(k) and not k.endswith(_NOT_KEPT)]:
        if _plain(ss[name]):
            ss[name] = ss[name]


st.set_page_config(page_title="Studio", page_icon=":material/palette:", layout="wide",
                   initial_sidebar_state="expanded")

page = st.navigation([
    st.Page(VIEWS / "generate.py", title="Generate", icon=":material/auto_awesome:", default=True),
    st.Page(VIEWS / "history.py", title="History", icon=":material/photo_library:"),
    st.Page(VIEWS / "experiment.py", title="Experiment", icon=":material/grid_view:"),
    st.Page(VIEWS / "edit.py", title="Edit", icon=":material/forum:"),
    st.Page(VIEWS / "library.py", title="Library", icon=":material/menu_book:"),
    st.Page(VIEWS / "settings.py", title="Settings", icon=":material/settings:"),
])

with st.sidebar:
    st.caption("Gemini image studio")
    try:
        if resources.get_studio().is_demo:
            components.sidebar_demo_badge()
    except StudioError:
        pass  # the page itself explains the configuration problem

keep_builder_state()
page.run()
