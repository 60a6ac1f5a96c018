"""The page a client link opens (``/?link=TOKEN``), without sign-in: ONE collection as
``LinkService.open(token)`` gives it (images, downloads, decisions; prompts only if the sharer included
them), and for a feedback link, approve and comment under a name the visitor types (recorded as a guest).

A tampered, expired or revoked link shows the service's one sentence and nothing else. Nothing else of the
studio is drawn here: no navigation, no sidebar, no other collection, no History, no key or endpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from studio.app import resources
from studio.app.widgets import components
from studio.domain.errors import LinkInvalid, StudioError
from studio.domain.review import DECISIONS, ClientItem, ClientView, decision_label, inert_markdown, who
from studio.services.links import LinkService

NAME = "guest_name"
_FLASH = "guest_flash"
COLUMNS = 3
_THUMBS, THUMBS_KEPT = "guest_thumbs", 120  # sha256 -> thumbnail bytes
ICONS = {
    "approved": ":material/check_circle:",
    "changes": ":material/edit_note:",
    "rejected": ":material/cancel:",
}
COLOURS: dict[str, Any] = {"approved": "green", "changes": "orange", "rejected": "red"}


def token() -> str:
    """The link's token as the URL carries it ("" when there is none)."""
    return str(st.query_params.get("link") or "")


def _sentence(text: str) -> None:
    """The one sentence, alone on the page."""
    st.container(height=48, border=False)
    _, middle, _ = st.columns([2, 1.6, 2])
    with middle, st.container(border=True, key="link_invalid"):
        st.write(components.escape_md(text))


def _flash(text: str, level: str = "error") -> None:
    st.session_state[_FLASH] = (level, text)


def _decide(links: LinkService, tok: str, gen_id: int, status: str | None) -> None:
    try:
        links.guest_decide(tok, gen_id, status, st.session_state.get(NAME) or "")
    except LinkInvalid:  # the page says the one sentence on this rerun
        return
    except StudioError as exc:
        _flash(str(exc))
    else:
        _flash(f"Thank you: {decision_label(status)} is recorded.", "success")


def _comment(links: LinkService, tok: str, gen_id: int) -> None:
    key = f"guest_comment_{gen_id}"
    try:
        links.guest_comment(tok, gen_id, st.session_state.get(key) or "", st.session_state.get(NAME) or "")
    except LinkInvalid:  # the page says the one sentence on this rerun
        return
    except StudioError as exc:
        _flash(str(exc))
        return
    st.session_state[key] = ""
    _flash("Thank you: your comment is recorded.", "success")


def _thumb(links: LinkService, tok: str, sha256: str) -> bytes | None:
    """The image's thumbnail, kept for this visitor's reruns (content addressed; the page checks the link
    itself on every run before drawing anything)."""
    cache: dict[str, bytes] = st.session_state.setdefault(_THUMBS, {})
    if sha256 not in cache:
        data = links.image(tok, sha256, thumb=True) or links.image(tok, sha256)
        if data is None:
            return None
        while len(cache) >= THUMBS_KEPT:
            cache.pop(next(iter(cache)))
        cache[sha256] = data
    return cache[sha256]


def _original(links: LinkService, tok: str, sha256: str) -> Callable[[], bytes]:
    """The original image's bytes, read when the visitor presses Download."""
    return lambda: links.image(tok, sha256) or b""


def _item(links: LinkService, tok: str, view: ClientView, item: ClientItem) -> None:
    with st.container(border=True, key=f"link_item_{item.generation_id}"):
        for index, picture in enumerate(item.images[:1]):
            thumb = _thumb(links, tok, picture.sha256)
            if thumb:
                st.image(thumb, width="stretch")
            st.download_button(
                "Download",
                data=_original(links, tok, picture.sha256),
                file_name=f"image-{item.generation_id}-{index + 1}.{picture.mime_type.split('/')[-1]}",
                mime=picture.mime_type,
                key=f"link_dl_{item.generation_id}",
                icon=":material/download:",
                on_click="ignore",
            )
        with st.container(horizontal=True, vertical_alignment="center", gap="small"):
            st.badge(
                item.label,
                icon=ICONS.get(item.status or "", ":material/radio_button_unchecked:"),
                color=COLOURS.get(item.status or "", "gray"),
            )
        if item.prompt is not None:
            st.caption("Prompt")
            st.text(item.prompt or "(no prompt)")
        for c in item.comments:
            st.markdown(f"**{inert_markdown(who(c.author))}**" + (" ↳" if c.depth else ""))
            st.markdown(inert_markdown(c.body))
        if not view.feedback:
            return
        with st.container(horizontal=True, gap="small"):
            for value in DECISIONS:
                st.button(
                    decision_label(value),
                    key=f"link_decide_{item.generation_id}_{value}",
                    icon=ICONS[value],
                    type="primary" if item.status == value else "secondary",
                    on_click=_decide,
                    args=(links, tok, item.generation_id, value),
                )
        st.text_area(
            "Comment",
            key=f"guest_comment_{item.generation_id}",
            max_chars=4000,
            placeholder="Your comment",
            label_visibility="collapsed",
            height=68,
        )
        st.button(
            "Send comment",
            key=f"link_comment_{item.generation_id}",
            icon=":material/send:",
            on_click=_comment,
            args=(links, tok, item.generation_id),
        )


def show() -> None:
    """The whole page of a client link."""
    studio = resources.studio_or_stop()
    links = studio.links
    tok = token()
    try:
        view = links.open(tok)
    except LinkInvalid as exc:
        _sentence(str(exc))
        return
    except StudioError as exc:  # the database is unreachable, ...
        _sentence(str(exc))
        return
    st.title(components.escape_md(view.title), anchor=False)
    line = [view.counts.sentence(), f"link valid until {view.expires[:10]}"]
    st.caption(" · ".join(line))
    if studio.is_demo:
        st.badge(components.DEMO_BADGE, icon=":material/science:", color="orange")
    said = st.session_state.pop(_FLASH, None)
    if said:
        (st.success if said[0] == "success" else st.error)(components.escape_md(said[1]))
    if view.feedback:
        st.text_input(
            "Your name",
            key=NAME,
            max_chars=40,
            placeholder="So the team knows who the feedback is from",
            help="Your approvals and comments are recorded under this name.",
            width=420,
        )
    if not view.items:
        st.info("There is nothing in this collection yet.", icon=":material/photo_library:")
        return
    columns = st.columns(COLUMNS, gap="medium")
    for index, item in enumerate(view.items):
        with columns[index % COLUMNS]:
            try:
                _item(links, tok, view, item)
            except LinkInvalid as exc:  # revoked while the page was open
                st.session_state.pop(_FLASH, None)
                _sentence(str(exc))
                return
