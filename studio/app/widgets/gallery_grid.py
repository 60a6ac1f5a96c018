"""The History grid: search, filters with facet counts, totals, density, selection and keyset paging.

Filter values live in widget keys (``hist_*``); ``current_filter`` reads them from session state so the
facet counts can be computed *before* the widgets are drawn with those counts in their labels.
Paging keeps a stack of cursors (the last id of each earlier page): "Older" pushes, "Newer" pops — the
query is always ``id < cursor LIMIT n``, never OFFSET. The grid is an ``st.fragment``: ticking a card,
starring it or paging reruns only the grid. Only stored JPEG thumbnails are shown (never originals).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import streamlit as st

from studio.app.widgets import components
from studio.app.widgets import organise_panel as organise
from studio.domain.errors import StudioError
from studio.services.gallery import GalleryFilter, GalleryService, GenerationRecord
from studio.services.studio import Studio

PAGE_SIZE = 48
DENSITY = {"Small": 8, "Medium": 6, "Large": 4}
SIZES = ("512", "1K", "2K", "4K")
_CURSORS = "hist_cursors"
_FILTER_KEYS = (
    "hist_search",
    "hist_model",
    "hist_status",
    "hist_ratio",
    "hist_size",
    "hist_from",
    "hist_to",
    "hist_fav_only",
    "hist_min_rating",
    "hist_tag",
    "hist_collection",
)


# -- navigation state -------------------------------------------------------------------------------


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


def cursor() -> int | None:
    cursors = st.session_state.setdefault(_CURSORS, [])
    return cursors[-1] if cursors else None


def in_trash() -> bool:
    return bool(st.session_state.get("hist_trash"))


def _older(last_id: int) -> None:
    st.session_state.setdefault(_CURSORS, []).append(last_id)


def _newer() -> None:
    cursors = st.session_state.setdefault(_CURSORS, [])
    if cursors:
        cursors.pop()


#: What each filter widget holds when it filters nothing. The tag and collection lists use "" and 0 for
#: "any", never None: a select box whose value is set to None from code is drawn blank, not as "Any tag".
ANY_TAG, ANY_COLLECTION = "", 0
_EMPTY: dict[str, Any] = {
    "hist_search": "",
    "hist_model": [],
    "hist_status": [],
    "hist_ratio": [],
    "hist_size": [],
    "hist_from": None,
    "hist_to": None,
    "hist_fav_only": False,
    "hist_min_rating": 0,
    "hist_tag": ANY_TAG,
    "hist_collection": ANY_COLLECTION,
}


def clear_filters() -> None:
    """Set every filter to its empty value (a callback, so before the widgets are drawn).

    Set, not deleted: a deleted key leaves the browser showing the old value, and the browser sends that
    value back with the next change, so the old filter would return."""
    for key in _FILTER_KEYS:
        st.session_state[key] = _EMPTY[key]
    reset_paging()


# -- the filter -------------------------------------------------------------------------------------

_RESTORE = "hist_restore_filters"


def keep_state(*, hidden: bool) -> None:
    """Keep the filter widgets' values while the detail or compare view hides them (``hidden``), and push
    them back to the browser on the gallery's first run after (the remounted widgets start empty there).

    Streamlit drops a widget's state on a run that does not draw it; writing the value back keeps it.
    Not on the gallery's other runs: a value written from code is pushed to the browser and could undo a
    filter changed while that run was in flight.
    """
    ss = st.session_state
    if hidden:
        ss[_RESTORE] = True
    elif not ss.pop(_RESTORE, False):
        return
    for key in (*_FILTER_KEYS, "hist_trash", "hist_density"):
        if key in ss:
            ss[key] = ss[key]


def current_filter() -> GalleryFilter:
    """The filter the widgets hold (read before they are drawn, so facets can label them)."""
    ss = st.session_state
    return GalleryFilter(
        search=(ss.get("hist_search") or "").strip() or None,
        model=list(ss.get("hist_model") or []) or None,
        status=list(ss.get("hist_status") or []) or None,
        aspect_ratio=list(ss.get("hist_ratio") or []) or None,
        image_size=list(ss.get("hist_size") or []) or None,
        date_from=ss.get("hist_from"),
        date_to=ss.get("hist_to"),
        favourite=True if ss.get("hist_fav_only") else None,
        min_rating=ss.get("hist_min_rating") or None,
        tag=ss.get("hist_tag") or None,
        collection_id=ss.get("hist_collection") or None,
        deleted=in_trash(),
    )


def count_text(n: int) -> str:
    """1204 -> '1 204' (a narrow no-break space groups thousands)."""
    return f"{n:,}".replace(",", "\u202f")


def _labelled(counts: dict[Any, int], label=str):
    return lambda value: f"{label(value)} ({count_text(counts.get(value, 0))})"


def _options(facet: Sequence[tuple[Any, int]], chosen: Sequence[Any]) -> list[Any]:
    """Values with a count under the other filters, plus whatever is chosen (so it can be unchosen)."""
    values = [v for v, _ in facet if v is not None]
    return values + [v for v in chosen if v not in values]


def _multi(label: str, key: str, facet: Sequence[tuple[Any, int]], fmt=str) -> None:
    counts = dict(facet)
    options = _options(facet, st.session_state.get(key) or [])
    st.multiselect(
        label, options, key=key, format_func=_labelled(counts, fmt), on_change=reset_paging, placeholder="Any"
    )


def filter_panel(studio: Studio, f: GalleryFilter) -> None:
    """The sidebar: every filter with counts from ``facets`` (each ignores its own filter)."""
    try:
        facets = studio.gallery.facets(f)
    except StudioError as exc:
        st.error(components.escape_md(str(exc)), icon=":material/error:")
        facets = {}
    st.subheader("Filters", anchor=False)
    _multi("Model", "hist_model", facets.get("model", []), components.model_label)
    _multi("Status", "hist_status", facets.get("status", []), components.status_label)
    _multi("Aspect ratio", "hist_ratio", facets.get("aspect_ratio", []))
    _multi("Size", "hist_size", facets.get("image_size", []))
    start, end = st.columns(2)
    start.date_input("From", value=None, key="hist_from", on_change=reset_paging, format="YYYY-MM-DD")
    end.date_input("To", value=None, key="hist_to", on_change=reset_paging, format="YYYY-MM-DD")
    st.selectbox(
        "Rating",
        [0, 1, 2, 3, 4, 5],
        key="hist_min_rating",
        on_change=reset_paging,
        format_func=lambda n: "Any rating" if not n else "★" * n + (" or more" if n < 5 else ""),
    )
    tags = dict(facets.get("tag", []))
    tag_options = [
        ANY_TAG,
        *_options(
            facets.get("tag", []),
            [st.session_state.get("hist_tag")] if st.session_state.get("hist_tag") else [],
        ),
    ]
    st.selectbox(
        "Tag",
        tag_options,
        key="hist_tag",
        on_change=reset_paging,
        format_func=lambda t: "Any tag" if not t else f"{t} ({count_text(tags.get(t, 0))})",
    )
    names = {cid: name for cid, name, _ in studio.organise.collections()}
    in_board = dict(facets.get("collection", []))
    st.selectbox(
        "Collection",
        [ANY_COLLECTION, *names],
        key="hist_collection",
        on_change=reset_paging,
        format_func=lambda c: (
            "Any collection" if not c else f"{names.get(c, c)} ({count_text(in_board.get(c, 0))})"
        ),
    )
    st.toggle("Favourites only", key="hist_fav_only", on_change=reset_paging)
    st.button(
        "Clear filters",
        key="hist_clear_filters",
        icon=":material/filter_alt_off:",
        on_click=clear_filters,
        width="stretch",
    )


def toolbar() -> int:
    """Search, trash switch and density; returns the number of grid columns."""
    search, view, density = st.columns([6, 2, 3], vertical_alignment="bottom")
    search.text_input(
        "Search prompts and replies",
        key="hist_search",
        on_change=reset_paging,
        placeholder="fox, watercolour, logo…",
        icon=":material/search:",
    )
    view.toggle("Trash", key="hist_trash", on_change=_leave_view, help="Show what was deleted.")
    st.session_state.setdefault("hist_density", "Medium")  # kept across pages by keep_state(): no default=
    choice = density.segmented_control("Density", list(DENSITY), key="hist_density")
    return DENSITY.get(choice or "Medium", 6)


def _leave_view() -> None:
    reset_paging()
    organise.clear_selection()


def totals_line(studio: Studio, f: GalleryFilter) -> None:
    try:
        t = studio.gallery.totals(f)
    except StudioError as exc:
        st.error(components.escape_md(str(exc)), icon=":material/error:")
        return
    tokens = t["total_tokens"]
    tok = (
        f"{tokens / 1e6:.1f} M"
        if tokens >= 1e6
        else f"{tokens / 1e3:.1f} k"
        if tokens >= 1e3
        else str(tokens)
    )
    n, images = t["count"], t["images"]
    words = "in the trash" if f.deleted else "generation" if n == 1 else "generations"
    # A search's counts and totals cover its newest matches only (they stay fast at a million rows): say so.
    window = GalleryService.SEARCH_WINDOW
    capped = f" · counted over the newest {count_text(window)} matches" if f.search and n >= window else ""
    st.caption(
        f":material/functions: **{count_text(n)}** {words} · {count_text(images)} image{'s' * (images != 1)} · "
        f"\\${t['cost_usd']:,.2f} · {tok} tokens{capped}"
    )


# -- the grid ---------------------------------------------------------------------------------------


def _thumb(record: GenerationRecord) -> None:
    """The stored JPEG thumbnail (made once at save time); failures show their status and error kind."""
    thumb = record.images[0].thumb_path if record.images else None
    if thumb is not None and Path(thumb).exists():
        st.image(str(thumb), width="stretch")
    elif record.images:
        components.placeholder(":material/broken_image:", "Thumbnail missing")
    else:
        label = components.status_label(record.status)
        kind = f" · {record.error_kind}" if record.error_kind and record.error_kind != record.status else ""
        components.placeholder(":material/hide_image:", components.escape_md(label + kind))


_FULL_RERUN = "hist_full_rerun"


def _toggle_favourite(studio: Studio, gen_id: int, value: bool) -> None:
    organise.safely(studio.organise.set_favourite, [gen_id], value)
    if st.session_state.get("hist_fav_only"):  # the counts and totals outside the grid change too
        st.session_state[_FULL_RERUN] = True


def card(studio: Studio, record: GenerationRecord) -> None:
    """One cell: thumbnail, status, favourite, rating, prompt excerpt (inert), model, select and open."""
    with st.container(border=True, key=f"hist_card_{record.id}"):
        _thumb(record)
        with st.container(horizontal=True, vertical_alignment="center", gap="small"):
            components.status_badge(record.status)
            if record.rating:
                st.caption("★" * record.rating)
        st.text(components.excerpt(record.prompt, 70) or "(no prompt)")
        st.caption(f"#{record.id} · {components.escape_md(components.model_label(record.model))}")
        with st.container(horizontal=True, vertical_alignment="center", gap="small"):
            organise.select_box(record.id)
            # Material Symbols render unfilled, so a filled/empty star is drawn as text
            st.button(
                ":orange[★]" if record.favourite else "☆",
                key=f"hist_star_{record.id}",
                type="tertiary",
                help="Unfavourite" if record.favourite else "Favourite",
                on_click=_toggle_favourite,
                args=(studio, record.id, not record.favourite),
            )
            if st.button("", key=f"hist_open_{record.id}", icon=":material/open_in_full:", help="Open"):
                select(record.id)
                st.rerun()  # the whole page: the grid is a fragment, the detail view is not


def grid(studio: Studio, records: list[GenerationRecord], columns: int) -> None:
    if not records:
        st.info(
            "Nothing matches. Clear a filter or the search to see more."
            if cursor() is None
            else "No older generations.",
            icon=":material/search_off:",
        )
        return
    for start in range(0, len(records), columns):
        cells = st.columns(columns)
        for cell, record in zip(cells, records[start : start + columns], strict=False):
            with cell:
                card(studio, record)


def pager(records: list[GenerationRecord], has_older: bool) -> None:
    cursors: list[int] = st.session_state.setdefault(_CURSORS, [])
    with st.container(horizontal=True, horizontal_alignment="distribute", vertical_alignment="center"):
        st.button(
            "Newer", icon=":material/chevron_left:", disabled=not cursors, key="hist_newer", on_click=_newer
        )
        st.caption(f"Page {len(cursors) + 1}")
        st.button(
            "Older",
            icon=":material/chevron_right:",
            icon_position="right",
            key="hist_older",
            disabled=not has_older or not records,
            on_click=_older,
            args=(records[-1].id if records else 0,),
        )


@st.fragment
def browse(studio: Studio, f: GalleryFilter, columns: int) -> None:
    """Bulk bar, grid and pager: reruns on its own when a card is ticked, starred or a page turned."""
    if st.session_state.pop(_FULL_RERUN, False):
        st.rerun(scope="app")
    try:
        records = studio.gallery.page(f, limit=PAGE_SIZE + 1, before_id=cursor())
    except StudioError as exc:
        st.error(components.escape_md(str(exc)), icon=":material/error:")
        return
    page = records[:PAGE_SIZE]
    organise.show_flash()  # a card callback's error, when only this fragment reruns
    organise.bulk_bar(studio, page, f)
    grid(studio, page, columns)
    pager(page, has_older=len(records) > PAGE_SIZE)
