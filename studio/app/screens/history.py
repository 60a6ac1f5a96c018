"""History: the gallery (search, filters with counts, bulk organising, export, trash), one generation in
full (``?id=``, with ← → through the filter's results), or 2-4 generations compared side by side
(``hist_compare``). The view lives in the URL (``gallery_grid``: search, filters, page and open generation)."""

from __future__ import annotations

import streamlit as st

from studio.app import resources
from studio.app.widgets import compare, components, detail, guard, progress, references, review_queues
from studio.app.widgets import gallery_grid as gallery
from studio.app.widgets import organise_panel as organise
from studio.app.widgets import review_header as collection_review
from studio.app.widgets.interrupted_notice import interrupted_notice
from studio.domain.errors import StudioError

EDIT_SOURCE = "edit_source_id"

studio = resources.session_or_stop()
url_notes = gallery.clean_url(studio)  # a garbled or stale link: dropped parts, each said in a sentence
if (
    gallery.selected_id() is None and review_queues.current() is None
):  # the detail view's own bar names it, so the image starts near the top
    components.page_header(
        "History",
        "Every generation, newest first. Search, filter, organise, compare and re-use.",
        demo=studio.is_demo,
    )
interrupted_notice(studio)  # work a stopped studio left unfinished: Retry · Dismiss
gallery.url_notes(url_notes)


def _reuse(action: str, gen_id: int) -> None:
    """Re-run, remix, use as reference or continue editing: each hands over to another page."""
    if action == "rerun":
        if not guard.allow("rerun", guard.fingerprint("rerun", gen_id)):
            return
        try:
            st.session_state[progress.BATCH] = studio.retry(gen_id)
        except StudioError:
            guard.forget("rerun")
            raise
        st.switch_page("screens/generate.py")
    elif action == "remix":
        st.session_state["remix"] = studio.request_for(gen_id)
        st.switch_page("screens/generate.py")
    elif action == "reference":
        st.session_state[references.INCOMING] = [*st.session_state.get(references.INCOMING, []), gen_id]
        st.switch_page("screens/generate.py")
    elif action == "edit":
        st.session_state[EDIT_SOURCE] = gen_id
        st.switch_page("screens/edit.py")


organise.drop_selection_on_arrival()
gallery.sync_from_url()
chosen = gallery.selected_id()
if chosen is not None:
    gallery.keep_state(hidden=True)
    record = studio.get(chosen)
    if record is None:
        st.warning(f"Generation #{chosen} is not in the history.", icon=":material/search_off:")
        st.button("Back to history", on_click=gallery.select, args=(None,), icon=":material/arrow_back:")
        st.stop()
    notice = st.empty()  # a re-use that fails says why at the top, where the button was pressed
    action = detail.show(studio, record, gallery.current_filter())
    if action:
        try:
            _reuse(action, record.id)
        except StudioError as exc:
            notice.error(components.escape_md(str(exc)), icon=":material/error:")
    st.stop()

queue = review_queues.current()
if queue is not None:  # "Waiting for my review" / "Feedback on my work": the sidebar's links open it
    gallery.keep_state(hidden=True)
    review_queues.page(studio, queue)
    st.stop()

comparing = st.session_state.get(organise.COMPARE)
if comparing:
    gallery.keep_state(hidden=True)
    compare.show(studio, list(comparing))
    st.stop()

gallery.keep_state(hidden=False)
f = gallery.current_filter()
# The grid is sent first and drawn in its place below the toolbar: a cold browser loads the grid's code
# and starts fetching thumbnails before it loads the code of the filter widgets (which come after).
# A fresh tab draws the images first: the filter widgets follow once the grid reports its first thumbnails
# painted (``gallery.images_first``), so a cold browser does not load their code before the images.
top = st.container()
if f.deleted and studio.actor.can_generate:
    organise.trash_panel(studio)
images_first = gallery.images_first()
gallery.browse(studio, f, gallery.row_height(), images_first=images_first)
images_first = images_first and gallery.images_first()  # no grid (it failed): the filters come at once
with top:
    if images_first:
        st.container(height=40, border=False)  # where the search box appears, so the grid does not jump
    else:
        gallery.toolbar(mine=gallery.shows_mine(studio))
        collection_review.header(studio, f)
        organise.show_flash()
with st.sidebar:
    if images_first:
        st.caption("Filters…")
    else:
        gallery.filter_panel(studio, f)
        if studio.actor.can_generate:  # a reviewer organises nothing (the service refuses too)
            organise.collections_panel(studio)
