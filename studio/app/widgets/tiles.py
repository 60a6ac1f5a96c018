"""The History grid as ONE browser component: justified rows of thumbnails, no widgets per tile.

Per tile the page sends a few fields (id, thumbnail address, size, a prompt excerpt, tags, rating,
favourite); the browser draws the rows, the hover actions and the variant stacks (``static/grid.*``).
A click comes back as one trigger, ``act`` = ``{op, id, n}`` (op: open, star, select).

Thumbnails are the stored 384 px JPEGs. Under ``studio run`` they are fetched by address from the
``/thumbs/<sha256>.jpg`` route (``app/asgi.py``: content addressed, cached for a year), so a rerun sends
only their names. Where that route does not exist (AppTest, ``streamlit run app/main.py``), they are sent
inline as data URLs, made once per thumbnail and kept in a small cache.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import streamlit as st

from studio.app import resources, thumb_links
from studio.app.widgets import components, jscomponents
from studio.services.gallery import GalleryPage, GenerationRecord, ImageRecord

THUMB_ROUTE = "STUDIO_THUMB_ROUTE"  # set by app/asgi.py when its route is mounted
_INLINE: OrderedDict[str, str] = OrderedDict()
_INLINE_MAX = 400
NOT_MADE = {"failed", "blocked", "cancelled", "interrupted", "no_image", "text_only"}

_GRID = st.components.v2.component(
    "studio_grid",
    html='<div class="grid"></div>',
    css=jscomponents._asset("grid.css"),
    js=jscomponents._asset("grid.js"),
)
_KEYS = st.components.v2.component("studio_histkeys", js=jscomponents._asset("histkeys.js"))


def by_address() -> bool:
    """True when thumbnails are fetched from the ``/thumbs`` route (``studio run``), not sent inline."""
    return bool(os.environ.get(THUMB_ROUTE))


def _viewer() -> str:
    """Whom the page shows thumbnails to: the signed-in member the gate let through ("" before it)."""
    session = resources.current_session()
    return (session.access.actor.email or "") if session is not None else ""


def thumb_src(image: ImageRecord, *, inline: bool = False) -> str | None:
    """The address the browser loads a thumbnail from (None when the stored thumbnail is gone). ``inline``
    (a trashed generation's, which the ``/thumbs`` route does not serve): a data URL."""
    route = None if inline else os.environ.get(THUMB_ROUTE)
    thumb = image.thumb_path
    if thumb is None:
        return None
    if route:
        # with sign-in on: signed for this viewer, good for 5-10 minutes
        signed = thumb_links.query(image.sha256, _viewer())
        return f"{route}/{image.sha256}.jpg" + (f"?{signed}" if signed else "")
    cached = _INLINE.get(image.sha256)
    if cached is None:
        try:
            cached = jscomponents.data_url(Path(thumb).read_bytes(), "image/jpeg")
        except OSError:
            return None
        _INLINE[image.sha256] = cached
        while len(_INLINE) > _INLINE_MAX:
            _INLINE.popitem(last=False)
    else:
        _INLINE.move_to_end(image.sha256)
    return cached


def _tile(record: GenerationRecord) -> dict[str, Any] | None:
    image = record.images[0]
    src = thumb_src(image, inline=record.deleted_at is not None)
    if src is None:
        return None
    return {
        "id": record.id,
        "src": src,
        "w": image.width or 1,
        "h": image.height or 1,
        "prompt": components.excerpt(record.prompt, 90),
        "tags": list(record.tags[:4]),
        "rating": record.rating or 0,
        "fav": bool(record.favourite),
        "review": record.review_status or "",  # the latest decision: a small badge on the tile
    }


def _chip(record: GenerationRecord, label: str | None = None) -> dict[str, Any]:
    kind = record.error_kind if record.error_kind and record.error_kind != record.status else ""
    return {
        "id": record.id,
        "status": record.status,
        "label": label or components.status_label(record.status),
        "kind": kind,
        "prompt": components.excerpt(record.prompt, 48),
    }


def grid_data(
    page: GalleryPage, *, row: int, selected: Sequence[int], empty: str, report_ready: bool = False
) -> dict[str, Any]:
    groups: list[dict[str, Any]] = []
    chips = [_chip(r) for r in page.missing]
    for group in page.groups:
        tiles = []
        for record in group:
            tile = _tile(record)
            if tile is None:
                chips.append(_chip(record, "Thumbnail missing"))
            else:
                tiles.append(tile)
        if tiles:
            groups.append({"tiles": tiles})
    chips.sort(key=lambda c: -c["id"])
    return {
        "groups": groups,
        "chips": chips,
        "row": row,
        "selected": list(selected),
        "empty": empty,
        "ready": report_ready,
    }


def grid(
    page: GalleryPage,
    *,
    row: int,
    selected: Sequence[int],
    empty: str,
    on_act: Callable[[], None],
    key: str = "hist_grid",
    report_ready: bool = False,
) -> None:
    """Draw the page; ``on_act`` reads ``st.session_state[key]['act']``. With ``report_ready`` the browser
    sends ``{"op": "ready"}`` once the first thumbnails are painted (or after 2 s, whatever happens)."""
    data = grid_data(page, row=row, selected=selected, empty=empty, report_ready=report_ready)
    _GRID(key=key, data=data, on_act_change=on_act)


def detail_keys() -> None:
    """← → step through the filter's results and Escape goes back to the grid (the detail view)."""
    _KEYS(key="hist_keys", height=0)
