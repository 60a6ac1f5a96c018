from __future__ import annotations

import streamlit as st

from studio.errors import StudioError
from studio.ui import components, composer, progress, resources

NO_KEY_HELP = (
    "**No API key is set**, so Generate is disabled. Set `STUDIO_API_KEY` in the environment, or put "
    "`STUDIO_API_KEY = \"...\"` in `.streamlit/secrets.toml`, then restart. "
    "To try the studio without a key, run `studio run --demo`."
)

studio = resources.studio_or_stop()
components.page_header("Generate", "Describe an image, pick a model, and generate up to 8 variants at once.",
                       demo=studio.is_demo)
has_key = studio.settings.has_key
if not has_key:
    st.info(NO_KEY_HELP, icon=":material/key_off:")
remixed = composer.consume_remix()
if remixed is not None:
    st.toast("Remix loaded into the form.", icon=":material/tune:")

form, results = st.columns([5, 7], gap="large")
with form, st.container(border=True):
    request = composer.compose()
    if st.session_state.get("gen_base") is not None and st.button("Start fresh", icon=":material/restart_alt:"):
        composer.clear_remix()
        st.rerun()
    pressed = st.button("Generate", type="primary", icon=":material/auto_awesome:", width="stretch",
                        disabled=not has_key or request is None, key="gen_submit")

with results:
    if pressed and request is not None:
        try:
            st.session_state[progress.BATCH] = studio.submit(request)
        except StudioError as exc:
            st.error(components.escape_md(str(exc)), icon=":material/error:")
    progress.results(studio, st.session_state.get(progress.BATCH, []))
