"""The notice at the top of Generate and History: what happened to work in flight when a studio stopped.

A start resolves the rows a stopped studio left pending or running to ``interrupted``; this says so, once per
row, until the designer retries or dismisses them (kept in the database, so a reload or a restart does not
bring the notice back).
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from studio.app.widgets import components, progress
from studio.domain.errors import StudioError
from studio.services.session import StudioSession

#: What the last click did, shown on the run after it (callbacks run before the page is drawn).
_FLASH = "interrupted_flash"
#: Prompts listed under "Which ones"; the rest are counted.
LISTED = 8


def _generations(n: int) -> str:
    return "1 generation" if n == 1 else f"{n} generations"


def sentence(n: int) -> str:
    return f"{_generations(n)} {'was' if n == 1 else 'were'} interrupted when the studio stopped."


def _retry(studio: StudioSession, ids: Sequence[int]) -> None:
    try:
        sent = studio.retry_interrupted(ids)
    except StudioError as exc:
        st.session_state[_FLASH] = ("error", str(exc))
        return
    if sent:
        st.session_state[progress.BATCH] = sent  # Generate follows them in its results panel
        st.session_state[_FLASH] = ("toast", f"Retrying {_generations(len(sent))}.")
    else:
        st.session_state[_FLASH] = ("toast", "Already retried or dismissed; nothing was sent again.")


def _dismiss(studio: StudioSession, ids: Sequence[int]) -> None:
    try:
        studio.dismiss_interrupted(ids)
    except StudioError as exc:
        st.session_state[_FLASH] = ("error", str(exc))
        return
    st.session_state[_FLASH] = (
        "toast",
        f"Dismissed. The interrupted {_generations(len(ids))} stay in History.",
    )


def interrupted_notice(studio: StudioSession) -> None:
    """One line with Retry, Dismiss and the list of prompts; nothing when no interrupted work is waiting."""
    kind, message = st.session_state.pop(_FLASH, (None, ""))
    if kind == "toast":
        st.toast(message, icon=":material/check_circle:")  # our own words and counts only
    elif kind == "error":
        st.error(components.escape_md(message), icon=":material/error:")
    try:
        ids = studio.interrupted_work()
    except StudioError as exc:  # a notice must never take the page down with it
        st.error(components.escape_md(str(exc)), icon=":material/error:")
        return
    if not ids:
        return
    has_key = studio.settings.has_key
    # one row (no wrap): the notice must not push the form down the page
    with st.container(
        border=True, horizontal=True, wrap=False, vertical_alignment="center", key="interrupted_notice"
    ):
        lost = "Its image was" if len(ids) == 1 else "Their images were"
        st.markdown(f":material/sync_problem: **{sentence(len(ids))}** {lost} not received.", width="stretch")
        with st.popover("Which ones", icon=":material/list:"):
            for record in studio.gallery.records(ids[:LISTED]):
                st.page_link(
                    "screens/history.py",
                    query_params={"id": str(record.id)},
                    label=components.escape_md(
                        f"#{record.id} · {components.excerpt(record.prompt, 70) or '(no prompt)'}"
                    ),
                )
            if len(ids) > LISTED:
                st.caption(f"and {len(ids) - LISTED} more, all marked Interrupted in History.")
        st.button(
            "Retry",
            icon=":material/replay:",
            key="interrupted_retry",
            on_click=_retry,
            args=(studio, ids),
            disabled=not has_key,
            help="Sends the same requests again (each is charged again)."
            if has_key
            else "Set an API key to retry.",
        )
        st.button(
            "Dismiss",
            icon=":material/close:",
            key="interrupted_dismiss",
            on_click=_dismiss,
            args=(studio, ids),
            help="Hide this notice; the generations stay in History.",
        )
