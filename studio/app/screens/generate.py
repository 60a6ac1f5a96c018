from __future__ import annotations

import streamlit as st

from studio.app import resources
from studio.app.widgets import components, guard, jscomponents, progress, viewer
from studio.app.widgets import prompt_form as composer
from studio.app.widgets.interrupted_notice import interrupted_notice
from studio.domain.errors import NoKey, StudioError
from studio.domain.requests import GenerationRequest
from studio.services.studio import Studio

NO_KEY_HELP = f"**Generate is disabled.** {NoKey.MESSAGE}"


def _submit(studio: Studio, requests: list[GenerationRequest]) -> None:
    """Submit once per intent: the same requests again within seconds (double click, held shortcut) are refused.

    A new batch replaces the one shown; the earlier one stays in History."""
    if not guard.allow("generate", guard.request_fingerprint(requests)):
        return
    ids: list[int] = []
    try:
        for request in requests:
            ids += studio.submit(request)
    except StudioError as exc:
        if not ids:
            guard.forget("generate")
        st.error(components.escape_md(str(exc)), icon=":material/error:")
    if ids:
        st.session_state[progress.BATCH] = ids


studio = resources.studio_or_stop()
components.page_header(
    "Generate",
    "Describe an image, pick a model, and generate up to 8 variants at once. Ctrl+Enter (⌘+Enter) generates.",
    demo=studio.is_demo,
)
interrupted_notice(studio)  # work a stopped studio left unfinished: Retry · Dismiss
has_key = studio.settings.has_key
if not has_key:
    st.info(NO_KEY_HELP, icon=":material/key_off:")
remixed = composer.consume_remix()
if remixed is not None:
    st.toast("Remix loaded into the form.", icon=":material/tune:")

form, results = st.columns([5, 7], gap="large")
with form, st.container(border=True):
    request = composer.compose(studio)
    if st.session_state.get("gen_base") is not None and st.button(
        "Start fresh", icon=":material/restart_alt:"
    ):
        composer.clear_remix()
        st.rerun()
    pressed = st.button(
        "Generate",
        type="primary",
        icon=":material/auto_awesome:",
        width="stretch",
        disabled=not has_key or request is None,
        key="gen_submit",
        help="Ctrl+Enter (⌘+Enter) anywhere on the page",
    )
    jscomponents.shortcuts()

with results:
    if request is not None and pressed:
        _submit(studio, [request])
    elif request is not None and st.session_state.get(composer.PER_PROPOSAL):
        _submit(studio, composer.per_proposal(request, studio))
    batch = st.session_state.get(progress.BATCH, [])
    progress.results(studio, batch)
    if st.session_state.pop(viewer.OPEN, False) and batch:
        viewer.show(studio, batch)
