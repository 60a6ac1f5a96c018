"""The process-wide Studio behind every page: the one place ``st.cache_resource`` is used.

``get_studio`` is the single patch seam for UI tests (they return a Studio pointed at an emulator).
"""

from __future__ import annotations

import streamlit as st

from studio.app.widgets import components
from studio.domain.errors import StudioError
from studio.services.studio import Studio, open_studio, redact


@st.cache_resource(show_spinner=False)
def get_studio() -> Studio:
    """One Studio (worker pool, store, client) per process, shared by every browser tab."""
    return open_studio()


def studio_or_stop() -> Studio:
    """The Studio, or a page that explains the configuration problem and stops (no traceback)."""
    try:
        return get_studio()
    except StudioError as exc:
        # a bad STUDIO_BASE_URL may carry ?key=…: never put the key on the page
        st.error(components.escape_md(redact(str(exc))), icon=":material/settings_alert:")
        st.caption("Fix the setting, then restart `studio run`. The variables are listed below.")
        components.env_table()
        st.stop()
