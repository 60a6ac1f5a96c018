"""Studio's Streamlit entry point: page config, navigation and the sidebar. Pages live in views/."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from studio.errors import StudioError
from studio.ui import components, resources

VIEWS = Path(__file__).parent / "views"

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

page.run()
