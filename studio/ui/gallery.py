"""The History grid: search, status filter and keyset paging (``before_id``), newest first.

Paging keeps a stack of cursors in session state: "Older" pushes the last id shown, "Newer" pops.
The selected generation lives in the ``?id=`` query parameter so a detail view can be linked to.
"""

from __future__ import annotations

import streamlit as st

from studio.domain import ACTIVE_STATUSES, FINAL_STATUSES
from studio.store import GenerationRecord
from studio.ui import components

PAGE_SIZE = 20
COLUMNS = 5
_CURSORS = "hist_cursors"


def selected_id() -> int | None:
    raw = st.query_params.get("id")
    return int(raw) if raw and raw.isdigit() else None


def select(gen_id: int | None) -> None:
    if gen_id is None:
        st.query_params.pop("id", None)
    else:
        st.query_params["id"] = str(gen_id)


def reset_paging() -> None:
    st.session_state[_CURSORS] = []


def filters() -> dict[str, object]:
    """Search and status widgets; returns the keyword filters for ``studio.history``."""
    search_col, status_col = st.columns([3, 1], vertical_alignment="bottom")
    search = search_col.text_input("Search prompts and replies", key="hist_search", on_change=reset_paging,
                                   placeholder="fox, watercolour, logo…", icon=":material/search:")
    status = status_col.selectbox("Status", ["all", *FINAL_STATUSES, *ACTIVE_STATUSES], key="hist_status",
                                  format_func=lambda s: "All" if s == "all" else components.status_label(s),
                                  on_change=reset_paging)
    return {"search": search.strip() or None, "status": None if status == "all" else status}


def cursor() -> int | None:
    cursors = st.session_state.setdefault(_CURSORS, [])
    return cursors[-1] if cursors else None


def grid(records: list[GenerationRecord]) -> None:
    if not records:
        st.info("Nothing here yet. Generations appear as soon as they are submitted.", icon=":material/search_off:")
        return
    for start in range(0, len(records), COLUMNS):
        columns = st.columns(COLUMNS)
        for column, record in zip(columns, records[start:start + COLUMNS], strict=False):
            with column, st.container(border=True):
                components.generation_card(record)
                st.button("Open", key=f"hist_open_{record.id}", icon=":material/open_in_full:",
                          on_click=select, args=(record.id,), width="stretch")


def pager(records: list[GenerationRecord], has_older: bool) -> None:
    cursors: list[int] = st.session_state.setdefault(_CURSORS, [])
    with st.container(horizontal=True, horizontal_alignment="distribute", vertical_alignment="center"):
        if st.button("Newer", icon=":material/chevron_left:", disabled=not cursors, key="hist_newer"):
            cursors.pop()
            st.rerun()
        st.caption(f"Page {len(cursors) + 1}")
        if st.button("Older", icon=":material/chevron_right:", icon_position="right", disabled=not has_older,
                     key="hist_older"):
            cursors.append(records[-1].id)
            st.rerun()
