from __future__ import annotations

import streamlit as st

from studio.app import resources
from studio.app.widgets import components
from studio.domain.errors import StudioError
from studio.services.studio import redact

KEY_SOURCES = {
    "env": "set, from the STUDIO_API_KEY environment variable",
    "secrets.toml": "set, from .streamlit/secrets.toml",
    "demo": "not needed: the demo emulator answers locally",
}

studio = resources.session_or_stop()
components.page_header(
    "Settings",
    "Where the studio sends requests and keeps its files. Read-only: "
    "change them with the environment variables below and restart.",
    demo=studio.is_demo,
)
s = studio.settings

st.subheader("Connection", anchor=False)
components.key_value_table(
    [
        ("Endpoint base URL", redact(s.base_url)),
        ("Auth mode", s.auth),
        ("API key", KEY_SOURCES.get(s.key_source, "not set") if s.has_key else "not set"),
        ("Data directory", s.data_dir),
        ("Demo mode", "on" if studio.is_demo else "off"),
        (
            "Timeouts (connect / read / overall)",
            f"{s.connect_timeout:g} s / {s.read_timeout:g} s / {s.overall_timeout:g} s",
        ),
        ("Parallel generations", s.workers),
    ]
)
if st.button("Test connection", icon=":material/network_check:", key="settings_test"):
    try:
        with st.spinner("Contacting the endpoint…"):
            answer = studio.check_connection()
        st.success(components.escape_md(answer), icon=":material/check_circle:")
    except StudioError as exc:
        st.error(components.escape_md(str(exc)), icon=":material/error:")

st.subheader("Environment variables", anchor=False)
components.env_table()
