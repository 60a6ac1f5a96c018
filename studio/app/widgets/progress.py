"""The Generate page's results: live progress while jobs run, then the stored results.

Jobs run in the process's worker pool, so this only reads. While any job is active a fragment polls
every second; once none is, it reruns the whole page, which renders the static (non-polling) panel.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from studio.app.widgets import advanced_panel as controls
from studio.app.widgets import components, viewer
from studio.domain.requests import PENDING, RUNNING
from studio.services.studio import Studio

POLL_SECONDS = 0.5
#: A fast generation (a small image, the demo) finishes within this; waiting for it renders the result in
#: the same run instead of one polling tick later.
SETTLE_SECONDS = 0.4
BATCH = "gen_ids"


def results(studio: Studio, ids: Sequence[int]) -> None:
    if not ids:
        _empty()
    elif any(studio.is_active(gen_id) for gen_id in ids) and not _settled(studio, ids):
        _live(studio, list(ids))
    else:
        _static(studio, ids)


def _settled(studio: Studio, ids: Sequence[int]) -> bool:
    studio.wait(ids, timeout=SETTLE_SECONDS)
    return not any(studio.is_active(gen_id) for gen_id in ids)


def _empty() -> None:
    with st.container(border=True, height=320, horizontal_alignment="center", vertical_alignment="center"):
        st.markdown(":material/wall_art: **Your images appear here**")
        st.caption("Write a prompt and press Generate. Every result is saved to History.")


@st.fragment(run_every=POLL_SECONDS)
def _live(studio: Studio, ids: list[int]) -> None:
    active = [gen_id for gen_id in ids if studio.is_active(gen_id)]
    if not active:
        st.rerun()  # the whole page: renders the static panel and stops polling
    head, button = st.columns([3, 1], vertical_alignment="center")
    head.subheader(f"Generating {len(active)} of {len(ids)}", anchor=False)
    button.button(
        "Cancel all",
        icon=":material/stop_circle:",
        key="gen_cancel_all",
        on_click=_cancel_all,
        args=(studio, active),
        width="stretch",
    )
    _grid(studio, ids, viewable=False)


def _static(studio: Studio, ids: Sequence[int]) -> None:
    head, button = st.columns([3, 1], vertical_alignment="center")
    head.subheader("Latest results", anchor=False)
    if button.button("Clear", icon=":material/clear_all:", key="gen_clear", width="stretch"):
        st.session_state.pop(BATCH, None)
        st.rerun()
    _grid(studio, ids, viewable=True)


def _cancel_all(studio: Studio, ids: Sequence[int]) -> None:
    for gen_id in ids:
        studio.cancel(gen_id)


def _grid(studio: Studio, ids: Sequence[int], *, viewable: bool) -> None:
    columns = st.columns(1 if len(ids) == 1 else 2)
    shown = 0  # index of each generation's first image among all results, for the viewer
    for index, gen_id in enumerate(ids):
        with columns[index % len(columns)], st.container(border=True):
            if studio.is_active(gen_id):
                _running(studio, gen_id)
            else:
                shown += _finished(studio, gen_id, first=shown if viewable else None)


def _cancel(studio: Studio, gen_id: int) -> None:  # a button callback returns nothing
    studio.cancel(gen_id)


def _running(studio: Studio, gen_id: int) -> None:
    progress = studio.progress(gen_id)
    state = RUNNING if progress is not None and progress.state == "running" else PENDING
    components.status_badge(state)
    st.skeleton(height=220)
    message = progress.message if progress is not None else "Queued"
    elapsed = f" · {progress.elapsed:.0f} s" if progress is not None else ""
    st.caption(f"#{gen_id} · {components.escape_md(message)}{elapsed}")
    st.button(
        "Cancel", key=f"gen_cancel_{gen_id}", icon=":material/stop:", on_click=_cancel, args=(studio, gen_id)
    )


def _finished(studio: Studio, gen_id: int, *, first: int | None) -> int:
    """Render one finished generation; return how many viewable images it has."""
    record = studio.get(gen_id)
    if record is None:
        st.warning(f"Generation #{gen_id} is no longer in the history.")
        return 0
    count = len(viewer.viewable(record))  # the record in hand: no second read of the history per poll
    head, button = st.columns([3, 1], vertical_alignment="center")
    with head:
        components.status_badge(record.status)
    if first is not None and count:
        button.button(
            "View",
            key=f"gen_view_{gen_id}",
            icon=":material/fullscreen:",
            width="stretch",
            on_click=viewer.request_open,
            args=(first,),
            help="Full screen, zoom, ← → to step",
        )
    components.image_viewer(record, studio.gallery.preview, key=f"gen_result_{gen_id}")
    components.error_box(record)
    if record.text:
        st.caption("Text reply")
        st.text(record.text)
    controls.outputs(record, studio.gallery.preview, key_prefix="gen")
    st.caption(components.run_facts(record))
    return count
