from __future__ import annotations

import streamlit as st

from studio.errors import StudioError
from studio.ui import components, detail, gallery, progress, resources

studio = resources.studio_or_stop()
components.page_header("History", "Every generation, newest first. Open one to see all its settings.",
                       demo=studio.is_demo)

chosen = gallery.selected_id()
if chosen is not None:
    record = studio.get(chosen)
    if record is None:
        st.warning(f"Generation #{chosen} is not in the history.", icon=":material/search_off:")
        st.button("Back to history", on_click=gallery.select, args=(None,), icon=":material/arrow_back:")
        st.stop()
    action = detail.show(record)
    try:
        if action == "rerun":
            st.session_state[progress.BATCH] = studio.retry(record.id)
            st.switch_page("views/generate.py")
        elif action == "remix":
            st.session_state["remix"] = studio.request_for(record.id)
            st.switch_page("views/generate.py")
    except StudioError as exc:
        st.error(components.escape_md(str(exc)), icon=":material/error:")
    st.stop()

filters = gallery.filters()
try:
    records = studio.history(limit=gallery.PAGE_SIZE + 1, before_id=gallery.cursor(), **filters)
except StudioError as exc:
    st.error(components.escape_md(str(exc)), icon=":material/error:")
    st.stop()
gallery.grid(records[: gallery.PAGE_SIZE])
gallery.pager(records[: gallery.PAGE_SIZE], has_older=len(records) > gallery.PAGE_SIZE)
