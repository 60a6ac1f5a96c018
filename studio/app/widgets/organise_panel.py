"""Organising from the History page: the selection, bulk actions, collections, export and the trash.

The selection is a list of generation ids in ``hist_selected`` (never records or bytes). Each card's
checkbox mirrors it. Bulk actions change the library, leave a one-line notice in ``hist_flash`` and rerun
the whole page (counts and totals change); ZIP downloads are built only when clicked (deferred data).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Literal

import streamlit as st

from studio.app.widgets import components
from studio.domain.errors import StudioError
from studio.services.gallery import GalleryFilter, GenerationRecord
from studio.services.session import StudioSession

SELECTED = "hist_selected"
FLASH = "hist_flash"
COMPARE = "hist_compare"
CONFIRM_EMPTY = "hist_confirm_empty"
MAX_COMPARE = 4
_EPOCH = "hist_sel_epoch"


# -- selection --------------------------------------------------------------------------------------


def selection() -> list[int]:
    return list(st.session_state.get(SELECTED) or [])


def _box_key(gen_id: int) -> str:
    return f"hist_sel_{st.session_state.get(_EPOCH, 0)}_{gen_id}"


def _toggle(gen_id: int, key: str) -> None:
    chosen = selection()
    if st.session_state.get(key):
        chosen = [*chosen, gen_id] if gen_id not in chosen else chosen
    else:
        chosen = [i for i in chosen if i != gen_id]
    st.session_state[SELECTED] = chosen


def select_box(gen_id: int) -> None:
    """The card's tick box. The list is the truth; the box is never written from the script (a write would
    send an old value back to the browser and undo a tick made while a run was busy). When the selection
    changes from outside the boxes, the epoch in their keys changes, so fresh boxes start from the list."""
    key = _box_key(gen_id)
    st.checkbox(
        "Select",
        value=gen_id in selection(),
        key=key,
        on_change=_toggle,
        args=(gen_id, key),
        label_visibility="collapsed",
        help="Select for bulk actions",
    )


def _set_selection(ids: list[int]) -> None:
    st.session_state[SELECTED] = ids
    st.session_state[_EPOCH] = st.session_state.get(_EPOCH, 0) + 1


def set_selection(ids: list[int]) -> None:
    """The selection, set from the grid component (no tick boxes to refresh)."""
    st.session_state[SELECTED] = ids


def select_page(ids: Sequence[int]) -> None:
    chosen = selection()
    _set_selection(chosen + [i for i in ids if i not in chosen])


def clear_selection() -> None:
    _set_selection([])


#: the page of the run before this one (app.py keeps it)
PREVIOUS_PAGE = "studio_previous_page"


def drop_selection_on_arrival() -> None:
    """A selection belongs to the History screen it was made on. Coming back from another page starts with
    none, so a bulk action never acts on ticks made earlier and no longer in mind."""
    if st.session_state.get(PREVIOUS_PAGE) != "History" and selection():
        clear_selection()


def flash(message: str, level: str = "success") -> None:
    st.session_state[FLASH] = (level, message)


def safely(action: Callable[..., Any], *args: Any, done: str | None = None) -> bool:
    """Run an organising change from a widget callback: a StudioError becomes the page's notice, not a traceback.

    Callbacks run before the script, outside any ``try``; the notice is shown by ``show_flash``."""
    try:
        action(*args)
    except StudioError as exc:
        flash(str(exc), "error")
        return False
    if done:
        flash(done)
    return True


def show_flash() -> None:
    notice = st.session_state.pop(FLASH, None)
    if notice:
        level, message = notice
        show = {"success": st.success, "warning": st.warning, "error": st.error}.get(level, st.info)
        show(components.escape_md(message), icon=":material/info:")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# -- export -----------------------------------------------------------------------------------------


def zip_bytes(studio: StudioSession, ids: Sequence[int] | None, f: GalleryFilter | None) -> bytes:
    return studio.gallery.export_zip(ids, f)


def export_button(
    studio: StudioSession,
    *,
    label: str,
    key: str,
    file_name: str,
    ids: Sequence[int] | None = None,
    f: GalleryFilter | None = None,
    disabled: bool = False,
    type: Literal["primary", "secondary", "tertiary"] = "secondary",
) -> None:
    """A download whose ZIP (with ``manifest.json``) is made only when pressed."""
    st.download_button(
        label,
        data=partial(zip_bytes, studio, list(ids) if ids else None, f),
        file_name=file_name,
        mime="application/zip",
        key=key,
        on_click="ignore",
        icon=":material/folder_zip:",
        disabled=disabled,
        type=type,
    )


# -- bulk actions -----------------------------------------------------------------------------------


def _run(action, done: str) -> None:
    try:
        action()
    except StudioError as exc:
        flash(str(exc), "error")
    else:
        flash(done)
    st.rerun()


def _rate_and_tag(studio: StudioSession, ids: list[int]) -> None:
    with st.popover("Rate", icon=":material/star_rate:", key="hist_bulk_rate_pop"):
        stars = st.selectbox(
            "Stars",
            [5, 4, 3, 2, 1, 0],
            key="hist_bulk_stars",
            format_func=lambda n: "★" * n if n else "No rating",
        )
        if st.button("Apply rating", key="hist_bulk_rate"):
            _run(
                lambda: studio.organise.set_rating(ids, stars or None),
                f"Rated {_plural(len(ids), 'generation')}.",
            )
    with st.popover("Tag", icon=":material/sell:", key="hist_bulk_tag_pop"):
        name = st.text_input("Tag", key="hist_bulk_tag", placeholder="hero, client-a…", max_chars=60)
        add, remove = st.columns(2)
        if add.button("Add tag", key="hist_bulk_tag_add"):
            _run(
                lambda: studio.organise.add_tags(ids, [name]),
                f"Tagged {_plural(len(ids), 'generation')} “{name.strip()}”.",
            )
        if remove.button("Remove tag", key="hist_bulk_tag_remove"):
            _run(lambda: studio.organise.remove_tag(ids, name), f"Removed “{name.strip()}”.")


def _to_collection(studio: StudioSession, ids: list[int]) -> None:
    boards = {cid: name for cid, name, _ in studio.organise.collections()}
    with st.popover("Collection", icon=":material/collections_bookmark:", key="hist_bulk_coll_pop"):
        if not boards:
            st.caption("No collections yet: create one in the sidebar.")
            return
        cid = st.selectbox("Collection", list(boards), key="hist_bulk_coll", format_func=boards.__getitem__)
        if cid is None:  # never: the list is not empty, so the box always has a choice
            return
        add, remove = st.columns(2)
        if add.button("Add", key="hist_bulk_coll_add"):
            _run(
                lambda: studio.organise.add_to_collection(ids, cid),
                f"Added {_plural(len(ids), 'generation')} to “{boards[cid]}”.",
            )
        if remove.button("Remove", key="hist_bulk_coll_remove"):
            _run(lambda: studio.organise.remove_from_collection(ids, cid), f"Removed from “{boards[cid]}”.")


def bulk_bar(
    studio: StudioSession,
    page: list[GenerationRecord],
    f: GalleryFilter,
    lead: Callable[[], None] | None = None,
) -> None:
    """Selection controls and what can be done to the selection (above the grid), after ``lead`` (the
    totals) on the same line; with nothing selected they are quiet text buttons."""
    ids = selection()
    quiet: Literal["secondary", "tertiary"] = "secondary" if ids else "tertiary"
    with st.container(horizontal=True, vertical_alignment="center", gap="small", key="hist_bulk"):
        if lead is not None:
            lead()
        hidden = len(set(ids) - {r.id for r in page})
        # ticks on another grid page or outside the filter are still acted on: say so
        if ids:
            st.markdown(f"**{len(ids)} selected**" + (f" · {hidden} not shown here" if hidden else ""))
        else:
            st.caption("0 selected")
        st.button(
            "Select page",
            key="hist_select_page",
            icon=":material/select_all:",
            on_click=select_page,
            args=([r.id for r in page],),
            disabled=not page,
            type=quiet,
        )
        st.button(
            "Clear",
            key="hist_clear_sel",
            icon=":material/deselect:",
            on_click=clear_selection,
            disabled=not ids,
            type=quiet,
        )
        if ids:
            if st.button("Favourite", key="hist_bulk_fav", icon=":material/star:"):
                _run(
                    lambda: studio.organise.set_favourite(ids, True),
                    f"Favourited {_plural(len(ids), 'generation')}.",
                )
            if st.button("Unfavourite", key="hist_bulk_unfav", icon=":material/star_outline:"):
                _run(lambda: studio.organise.set_favourite(ids, False), "Removed from favourites.")
            _rate_and_tag(studio, ids)
            _to_collection(studio, ids)
            if f.deleted:
                if st.button("Restore", key="hist_bulk_restore", icon=":material/restore_from_trash:"):
                    clear_selection()
                    _run(lambda: studio.organise.restore(ids), f"Restored {_plural(len(ids), 'generation')}.")
            elif st.button("Trash", key="hist_bulk_trash", icon=":material/delete:"):
                clear_selection()
                _run(
                    lambda: studio.organise.trash(ids),
                    f"Moved {_plural(len(ids), 'generation')} to the trash (restore it from the Trash view).",
                )
            if st.button(
                "Compare",
                key="hist_compare_btn",
                icon=":material/compare:",
                disabled=not 2 <= len(ids) <= MAX_COMPARE,
                help="Select 2 to 4 generations.",
            ):
                st.session_state[COMPARE] = ids
                st.rerun()
            export_button(
                studio,
                label=f"Export {len(ids)}",
                key="hist_export_sel",
                ids=ids,
                file_name="studio-selection.zip",
            )
        export_button(
            studio,
            label="Export all matching",
            key="hist_export_all",
            f=f,
            file_name="studio-export.zip",
            disabled=not page,
            type=quiet,
        )


# -- collections (sidebar) --------------------------------------------------------------------------


def _create(studio: StudioSession) -> None:
    try:
        studio.organise.create_collection(st.session_state.get("hist_new_coll") or "")
    except StudioError as exc:
        flash(str(exc), "error")
        return
    st.session_state["hist_new_coll"] = ""  # the filter stays as it is: the new board is empty
    flash("Collection created. Select images and use “Collection” to fill it.")


def _rename(studio: StudioSession, cid: int) -> None:
    try:
        studio.organise.rename_collection(cid, st.session_state.get(f"hist_rename_{cid}") or "")
    except StudioError as exc:
        flash(str(exc), "error")
    else:
        flash("Collection renamed.")


def _delete(studio: StudioSession, cid: int) -> None:
    if not safely(
        studio.organise.delete_collection,
        cid,
        done="Collection deleted; its images are still in the history.",
    ):
        return
    if st.session_state.get("hist_collection") == cid:
        st.session_state["hist_collection"] = 0  # "Any collection" (None would draw the box blank)
        st.query_params.pop("coll", None)  # the URL names the filter (gallery_grid.PARAMS)


def collections_panel(studio: StudioSession) -> None:
    st.subheader("Collections", anchor=False)
    with st.popover("New collection", icon=":material/add:", key="hist_new_coll_pop", width="stretch"):
        st.text_input("Name", key="hist_new_coll", max_chars=80, placeholder="Client A — moodboard")
        st.button("Create", key="hist_create_coll", type="primary", on_click=_create, args=(studio,))
    for cid, name, n in studio.organise.collections():
        with st.expander(f"{components.escape_md(name)} · {n}", icon=":material/collections_bookmark:"):
            st.text_input("Rename to", value=name, key=f"hist_rename_{cid}", max_chars=80)
            rename, delete = st.columns(2)
            rename.button("Rename", key=f"hist_rename_btn_{cid}", on_click=_rename, args=(studio, cid))
            delete.button(
                "Delete",
                key=f"hist_delete_coll_{cid}",
                icon=":material/delete:",
                on_click=_delete,
                args=(studio, cid),
            )


# -- trash ------------------------------------------------------------------------------------------


def trash_panel(studio: StudioSession) -> None:
    """In the Trash view: what emptying would remove, and a confirmation before it happens."""
    trashed = GalleryFilter(deleted=True)
    totals = studio.gallery.totals(trashed)
    if not totals["count"]:
        st.info("The trash is empty.", icon=":material/delete:")
        return
    if not st.session_state.get(CONFIRM_EMPTY):
        st.button(
            "Empty trash…",
            key="hist_empty",
            icon=":material/delete_forever:",
            on_click=st.session_state.__setitem__,
            args=(CONFIRM_EMPTY, True),
        )
        return
    with st.container(border=True, key="hist_empty_confirm"):
        st.warning(
            f"This removes {_plural(totals['count'], 'generation')} and "
            f"{_plural(totals['images'], 'image')} for good. Images another generation still uses "
            "are kept. This cannot be undone.",
            icon=":material/warning:",
        )
        for record in studio.gallery.page(trashed, limit=10):
            st.text(f"#{record.id} · {components.excerpt(record.prompt, 80) or '(no prompt)'}")
        if totals["count"] > 10:
            st.caption(f"… and {totals['count'] - 10} more.")
        yes, no = st.columns(2)
        if yes.button(
            "Delete forever", key="hist_empty_yes", type="primary", icon=":material/delete_forever:"
        ):
            st.session_state[CONFIRM_EMPTY] = False
            try:
                report = studio.organise.empty_trash()
            except StudioError as exc:
                flash(str(exc), "error")
            else:
                flash(
                    f"Deleted {_plural(report.generations, 'generation')} and "
                    f"{_plural(report.files_removed, 'file')} ({report.bytes_freed / 1e6:.1f} MB freed)."
                )
                clear_selection()
            st.rerun()
        no.button(
            "Cancel", key="hist_empty_no", on_click=st.session_state.__setitem__, args=(CONFIRM_EMPTY, False)
        )
