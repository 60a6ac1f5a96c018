"""The History grid: search, filters with facet counts, totals, density, selection and keyset paging.

The URL is the truth (``st.query_params``): the search, every filter, the page (``before`` or ``after``, a
keyset cursor going down or up) and the open generation (``id``) live there, so reload, the browser's back
and a pasted link return to the same view. A widget's change writes the URL (Streamlit pushes a history entry); a URL that changed under the
page (back, forward, a pasted link) is written into the widgets before they are drawn (``sync_from_url``).
Pages are keyset: ``id < before LIMIT n`` (or ``id > after``), never OFFSET. The tiles are ONE browser component
(``widgets/tiles.py``), not a set of widgets per tile.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

import streamlit as st

from studio.app import resources
from studio.app.widgets import components, tiles
from studio.app.widgets import organise_panel as organise
from studio.domain.errors import StudioError
from studio.domain.review import DECISIONS, decision_label
from studio.domain.review import OPEN as OPEN_REVIEW
from studio.services import search_box
from studio.services.gallery import GalleryFilter, GalleryPage, GalleryService
from studio.services.session import StudioSession

PAGE_SIZE = 48
#: row height of the justified grid per density (px); Medium keeps a square thumbnail 260 px wide
DENSITY = {"Small": 190, "Medium": 260, "Large": 360}
SIZES = ("512", "1K", "2K", "4K")
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
    "hist_mine",
    "hist_review",
)
#: widget key -> its name in the URL
PARAMS = {
    "hist_search": "q",
    "hist_model": "model",
    "hist_status": "status",
    "hist_ratio": "ratio",
    "hist_size": "size",
    "hist_from": "from",
    "hist_to": "to",
    "hist_fav_only": "fav",
    "hist_min_rating": "rating",
    "hist_tag": "tag",
    "hist_collection": "coll",
    "hist_mine": "mine",
    "hist_trash": "trash",
    "hist_review": "review",
}
_LISTS = {"hist_model", "hist_status", "hist_ratio", "hist_size", "hist_review"}
#: the decision filter's values, in the URL as ``review=approved,open``
REVIEW_VALUES = (*DECISIONS, OPEN_REVIEW)
_DATES = {"hist_from", "hist_to"}
_FLAGS = {"hist_fav_only", "hist_trash", "hist_mine"}
_NUMBERS = {"hist_min_rating", "hist_collection"}
BEFORE, AFTER, OPEN = "before", "after", "id"
#: A generation or collection number in the URL: ASCII digits that fit SQLite's INTEGER ("²".isdigit() is
#: true, but int("²") raises; 23 digits overflow).
_ID = re.compile(r"[0-9]{1,18}")
#: Dates the URL may name (the day after the last must still be a date).
EARLIEST, LATEST = dt.date(1970, 1, 1), dt.date(2999, 12, 31)
_SEEN = "hist_url_seen"  # the URL's view part as the widgets last mirrored it


# -- the URL ----------------------------------------------------------------------------------------


def _encode(key: str, value: Any) -> str | None:
    if key in _LISTS:
        return ",".join(str(v) for v in value) if value else None
    if key in _DATES:
        return value.isoformat() if isinstance(value, dt.date) else None
    if key in _FLAGS:
        return "1" if value else None
    if key in _NUMBERS:
        return str(int(value)) if value else None
    text = str(value or "").strip()
    return text or None


def _decode(key: str, raw: str | None) -> Any:
    if raw is None or raw == "":
        return _EMPTY.get(key, False)
    if key in _LISTS:
        return [v for v in raw.split(",") if v]
    if key in _DATES:
        return _date(raw)
    if key in _FLAGS:
        return raw not in ("0", "false", "")
    if key in _NUMBERS:
        number = _number(raw)
        return _EMPTY[key] if number is None else number
    return raw


def _number(raw: str | None) -> int | None:
    return int(raw) if raw and _ID.fullmatch(raw) else None


def _date(raw: str | None) -> dt.date | None:
    try:
        day = dt.date.fromisoformat(raw or "")
    except ValueError:
        return None
    return day if EARLIEST <= day <= LATEST else None


def clean_url(studio: StudioSession) -> list[str]:
    """Drop what the URL holds that the page cannot use (a garbled number, a date out of range, a rating
    that does not exist, a collection that was deleted), each with a sentence saying so, never a traceback.
    Run before anything reads the URL."""
    qp = st.query_params
    said: list[str] = []

    def drop(name: str, sentence: str) -> None:
        shown = components.escape_md(components.excerpt(str(qp.get(name)), 24))
        said.append(sentence.format(value=f"“{shown}”"))
        qp.pop(name, None)

    for name, what in ((OPEN, "generation"), (BEFORE, "page"), (AFTER, "page")):
        if name in qp and _number(qp.get(name)) is None:
            drop(name, f"The link's {what} {{value}} is not a generation number, so it was left out.")
    for key in ("hist_from", "hist_to"):
        name = PARAMS[key]
        if qp.get(name) and _date(qp.get(name)) is None:
            drop(
                name,
                f"The link's {'start' if key == 'hist_from' else 'end'} date {{value}} is not a date between "
                f"{EARLIEST.isoformat()} and {LATEST.isoformat()}, so that filter was left out.",
            )
    rating = qp.get(PARAMS["hist_min_rating"])
    if rating and not re.fullmatch(r"[0-5]", rating):
        drop(
            PARAMS["hist_min_rating"],
            "There is no rating {value}: ratings go from 1 to 5 stars, so that filter was left out.",
        )
    review = qp.get(PARAMS["hist_review"])
    if review and any(v not in REVIEW_VALUES for v in review.split(",") if v):
        drop(
            PARAMS["hist_review"],
            "The link's decision {value} is not one of approved, changes, rejected or open, so that filter "
            "was left out.",
        )
    coll = qp.get(PARAMS["hist_collection"])
    if coll:
        number = _number(coll)
        try:
            known = number is not None and any(cid == number for cid, _, _ in studio.organise.collections())
        except StudioError:
            known = True  # the list could not be read: keep the filter, the grid says what went wrong
        if not known:
            drop(
                PARAMS["hist_collection"],
                "There is no collection {value} (it may have been deleted), so that filter was left out.",
            )
    return said


_NOTES = "hist_url_notes"  # (the URL once cleaned, the sentences): shown until the URL changes


def url_notes(sentences: Sequence[str]) -> None:
    """Say what ``clean_url`` dropped, on this run and the ones after it while the URL stays as it left it
    (a fresh tab's first runs follow each other at once: a sentence shown on one run only would flash)."""
    ss = st.session_state
    now = tuple(sorted(st.query_params.to_dict().items()))
    if sentences:
        ss[_NOTES] = (now, list(sentences))
    kept = ss.get(_NOTES)
    if not kept or kept[0] != now:
        ss.pop(_NOTES, None)
        return
    st.warning("  \n".join(kept[1]), icon=":material/link_off:")  # one box, a line per part dropped


def _view_part() -> tuple[tuple[str, str], ...]:
    """The URL's filter part (what the widgets mirror), in a fixed order."""
    qp = st.query_params
    return tuple((name, qp[name]) for name in PARAMS.values() if name in qp)


def sync_from_url() -> None:
    """When the URL changed under the page (first load, back, forward, a pasted link), put its filter into
    the widgets before they are drawn. A change made by a widget already wrote the URL, so it is not undone."""
    part = _view_part()
    ss = st.session_state
    if ss.get(_SEEN) == part:
        return
    qp = st.query_params
    for key, name in PARAMS.items():
        ss[key] = _decode(key, qp.get(name))
    ss[_SEEN] = part


def push_to_url(*, keep_page: bool = False) -> None:
    """Write the widgets' filter into the URL (a widget callback); a new filter starts at the first page."""
    ss = st.session_state
    for key, name in PARAMS.items():
        value = _encode(key, ss.get(key, _EMPTY.get(key)))
        if value is None:
            st.query_params.pop(name, None)
        elif st.query_params.get(name) != value:
            st.query_params[name] = value
    if not keep_page:
        st.query_params.pop(BEFORE, None)
        st.query_params.pop(AFTER, None)
    ss[_SEEN] = _view_part()


# -- navigation state -------------------------------------------------------------------------------


def selected_id() -> int | None:
    return _number(st.query_params.get(OPEN))


def select(gen_id: int | None) -> None:
    if gen_id is None:
        st.query_params.pop(OPEN, None)
    else:
        st.query_params[OPEN] = str(gen_id)


def reset_paging() -> None:
    """A filter widget changed: the URL gets the new filter, from its first page."""
    push_to_url()


def cursor() -> int | None:
    """The page's keyset cursor going down ("Older": the generations below ``before``)."""
    return _number(st.query_params.get(BEFORE))


def cursor_up() -> int | None:
    """The page's keyset cursor going up ("Newer": the generations just above ``after``)."""
    return _number(st.query_params.get(AFTER))


def in_trash() -> bool:
    return bool(st.session_state.get("hist_trash"))


def _go(before: int | None) -> None:
    """To the page below ``before`` (None: the first page)."""
    st.query_params.pop(AFTER, None)
    if before is None:
        st.query_params.pop(BEFORE, None)
    else:
        st.query_params[BEFORE] = str(before)


def _go_up(after: int | None) -> None:
    """To the page just above ``after`` (None: the first page)."""
    st.query_params.pop(BEFORE, None)
    if after is None:
        st.query_params.pop(AFTER, None)
    else:
        st.query_params[AFTER] = str(after)


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
    "hist_mine": False,
    "hist_review": [],
}


def clear_filters() -> None:
    """Set every filter to its empty value (a callback, so before the widgets are drawn).

    Set, not deleted: a deleted key leaves the browser showing the old value, and the browser sends that
    value back with the next change, so the old filter would return."""
    for key in _FILTER_KEYS:
        st.session_state[key] = _EMPTY[key]
    push_to_url()


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
    """The filter the URL names (the widgets mirror it; read before they are drawn, so facets can label
    them, and by the detail view, whose ← → walk the same results)."""
    qp = st.query_params

    def value(key: str) -> Any:
        return _decode(key, qp.get(PARAMS[key]))

    return GalleryFilter(
        search=(value("hist_search") or "").strip() or None,
        model=list(value("hist_model") or []) or None,
        status=list(value("hist_status") or []) or None,
        aspect_ratio=list(value("hist_ratio") or []) or None,
        image_size=list(value("hist_size") or []) or None,
        date_from=value("hist_from"),
        date_to=value("hist_to"),
        favourite=True if value("hist_fav_only") else None,
        min_rating=value("hist_min_rating") or None,
        tag=value("hist_tag") or None,
        collection_id=value("hist_collection") or None,
        deleted=bool(value("hist_trash")),
        author=_me() if value("hist_mine") else None,
        review_status=[v for v in value("hist_review") or [] if v in REVIEW_VALUES] or None,
    )


def _me() -> str | None:
    """The signed-in person's email, for the Mine filter (None: nobody is signed in, Mine filters nothing)."""
    session = resources.current_session()
    return session.actor.email if session is not None and not session.actor.local else None


def shows_mine(studio: StudioSession) -> bool:
    """Mine / Everyone is for team studios, and for those who make generations (a reviewer makes none)."""
    return studio.settings.team_mode and studio.actor.can_generate


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


def filter_panel(studio: StudioSession, f: GalleryFilter) -> None:
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
    st.multiselect(  # a collection's review: approved, changes requested, rejected, open
        "Decision",
        list(REVIEW_VALUES),
        key="hist_review",
        format_func=decision_label,
        on_change=reset_paging,
        placeholder="Any",
    )
    st.toggle("Favourites only", key="hist_fav_only", on_change=reset_paging)
    st.button(
        "Clear filters",
        key="hist_clear_filters",
        icon=":material/filter_alt_off:",
        on_click=clear_filters,
        width="stretch",
    )


def row_height() -> int:
    """The grid's row height (px) for the chosen density (read before the density control is drawn)."""
    st.session_state.setdefault("hist_density", "Medium")  # kept across pages by keep_state(): no default=
    return DENSITY.get(st.session_state.get("hist_density") or "Medium", DENSITY["Medium"])


def _who(value: bool | None) -> str:
    return "Mine" if value else "Everyone"


def _mine_changed() -> None:
    if st.session_state.get("hist_mine") is None:  # a click on the chosen option unchooses it: Everyone
        st.session_state["hist_mine"] = False
    reset_paging()


def toolbar(*, mine: bool = False) -> None:
    """Search, Mine / Everyone (``mine``: shown), trash switch and density."""
    if mine:
        search, who, view, density = st.columns([5, 2.2, 1.5, 3.1], vertical_alignment="center")
        st.session_state.setdefault("hist_mine", False)
        who.segmented_control(
            "Whose",
            [False, True],
            key="hist_mine",
            format_func=_who,
            on_change=_mine_changed,
            label_visibility="collapsed",
        )
    else:
        search, view, density = st.columns([6, 2, 3], vertical_alignment="center")
    search.text_input(
        "Search prompts and replies",
        key="hist_search",
        on_change=reset_paging,
        placeholder="Search prompts and replies: fox, watercolour, logo…",
        icon=":material/search:",
        label_visibility="collapsed",
    )
    view.toggle("Trash", key="hist_trash", on_change=_leave_view, help="Show what was deleted.")
    density.segmented_control("Density", list(DENSITY), key="hist_density", label_visibility="collapsed")


def _leave_view() -> None:
    push_to_url()
    organise.clear_selection()


def totals_line(studio: StudioSession, f: GalleryFilter) -> None:
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
    if f.search:  # say how the box was read when it is more than words ("-bakery", "yesterday")
        understood = search_box.understand(f.search)
        if understood.dates or understood.excluded or understood.phrases:
            st.caption(f":material/search: Searching {components.escape_md(understood.describe())}")


# -- the grid ---------------------------------------------------------------------------------------

_READY = "hist_ready"  # this tab's grid has painted its first thumbnails once


def images_first() -> bool:
    """True on a tab's first History run when thumbnails come by address (``studio run``): only the grid is
    drawn, and the rest follows when the grid says its first thumbnails are painted (or after 2 s). Where
    thumbnails are inline (AppTest), everything is drawn at once."""
    return tiles.by_address() and not st.session_state.get(_READY)


def _act(studio: StudioSession) -> None:
    """One tile action from the grid component: open, star or select (a folded stack: all its variants); or
    "ready" (first paint done)."""
    event = (st.session_state.get("hist_grid") or {}).get("act") or {}
    op, gen_id = event.get("op"), event.get("id")
    st.session_state[_READY] = True  # any action says the grid is there ("ready" is not sent after one)
    if op == "ready":
        return
    if not isinstance(gen_id, int):
        return
    if op == "open":
        select(gen_id)
    elif op == "star":
        record = studio.get(gen_id)
        if record is not None:
            organise.safely(studio.organise.set_favourite, [gen_id], not record.favourite)
    elif op == "select":  # a folded stack sends all its variants: they are selected (or not) together
        ids = event.get("ids")
        group = [i for i in ids if isinstance(i, int)] if isinstance(ids, list) else []
        organise.set_selection(toggled(organise.selection(), group or [gen_id]))


def back_to_grid(studio: StudioSession, gen_id: int) -> None:
    """Close the detail view on the page that holds ``gen_id`` (after ← → it may be pages away from the
    one it was opened on): the URL's page when the image is on it, else the page its submission starts."""
    select(None)
    try:
        page = studio.gallery.grouped_page(
            current_filter(), limit=PAGE_SIZE, before_id=cursor(), after_id=cursor_up()
        )
        if gen_id in page.ids:
            return
        record = studio.get(gen_id)
        top = max(r.id for r in studio.gallery.submission(record)) if record is not None else gen_id
    except StudioError:
        return  # the grid says what went wrong
    _go(top + 1)  # the page starts with the submission's newest variant (its stack)


def toggled(chosen: Sequence[int], ids: Sequence[int]) -> list[int]:
    """The selection after a tile's select: ``ids`` (one generation, or a folded stack's variants) leave it
    when all of them were in it, else every one of them joins it."""
    if all(i in chosen for i in ids):
        return [i for i in chosen if i not in ids]
    return [*chosen, *(i for i in ids if i not in chosen)]


def pager(page: GalleryPage) -> None:
    with st.container(horizontal=True, horizontal_alignment="distribute", vertical_alignment="center"):
        st.button(
            "Newer",
            icon=":material/chevron_left:",
            disabled=not page.has_newer,
            key="hist_newer",
            on_click=_go_up,
            args=(page.newer,),
        )
        ids = page.ids
        st.caption(f"#{ids[0]} – #{ids[-1]}" if ids else " ")
        st.button(
            "Older",
            icon=":material/chevron_right:",
            icon_position="right",
            key="hist_older",
            disabled=page.older is None,
            on_click=_go,
            args=(page.older,),
        )


def browse(studio: StudioSession, f: GalleryFilter, row: int, *, images_first: bool = False) -> None:
    """Bulk bar, grid and pager. Not a fragment: a tile's action is one run of the page (opening a
    generation needs the whole page anyway; a star changes the counts and totals), and the page's script is
    a few milliseconds; what a run costs is in the browser, and an unchanged grid is not redrawn."""
    try:
        page = studio.gallery.grouped_page(f, limit=PAGE_SIZE, before_id=cursor(), after_id=cursor_up())
    except StudioError as exc:
        st.error(components.escape_md(str(exc)), icon=":material/error:")
        st.session_state[_READY] = True  # no grid will say it painted: the filters come now (see history.py)
        return
    records = [r for g in page.groups for r in g] + page.missing
    bar = st.container()  # drawn above the grid, sent after it (the grid's thumbnails start first)
    empty = (
        "Nothing matches. Clear a filter or the search to see more."
        if cursor() is None and cursor_up() is None
        else "No older generations."
        if cursor_up() is None
        else "No newer generations."
    )
    if not records:
        st.info(empty, icon=":material/search_off:")
    tiles.grid(
        page,
        row=row,
        selected=organise.selection(),
        empty=empty,
        on_act=lambda: _act(studio),
        report_ready=images_first,
    )
    if images_first:
        with bar:  # the totals and bulk bar's row, reserved so the grid does not move under the pointer
            st.container(height=40, border=False)
        return
    pager(page)
    with bar:
        organise.show_flash()  # a tile action's error
        if studio.actor.can_generate:
            organise.bulk_bar(studio, records, f, lead=lambda: totals_line(studio, f))
        else:  # a reviewer organises nothing (the service refuses too): the totals alone
            totals_line(studio, f)
