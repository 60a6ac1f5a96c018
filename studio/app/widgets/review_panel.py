"""The lightbox's review: the image with the numbered markers of its pinned comments (click to pin a point,
drag to pin a box), the decision buttons (Approved / Changes requested / Rejected, with who and when),
threaded comments (rendered only through ``inert_markdown``), @mention suggestions, and, on a comment,
"Make the next version" (Edit with the image as the source and the comment as the instruction) and the
before/after of the version made from it.

Every action is a service call (``studio.review``); what the services refuse is said in a sentence.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import streamlit as st

from studio.app.widgets import before_after, components, jscomponents
from studio.app.widgets import gallery_grid as gallery
from studio.domain.errors import StudioError
from studio.domain.review import DECISIONS, Comment, Decision, decision_label, inert_markdown, who
from studio.services.gallery import GenerationRecord, ImageRecord
from studio.services.session import StudioSession

#: "Make the next version": the comment Edit starts from (plain session state, read by screens/edit.py)
NEXT_COMMENT = "edit_next_comment"
EDIT_SOURCE = "edit_source_id"
_FLASH = "hist_review_flash"
_NONCE = "hist_pin_nonce"  # per generation: a new one clears the pin the component holds
ICONS = {
    "approved": ":material/check_circle:",
    "changes": ":material/edit_note:",
    "rejected": ":material/cancel:",
}
COLOURS: dict[str | None, Any] = {"approved": "green", "changes": "orange", "rejected": "red", None: "gray"}

_PIN = st.components.v2.component(
    "studio_pin",
    html=jscomponents._asset("pin.html"),
    css=jscomponents._asset("pin.css"),
    js=jscomponents._asset("pin.js"),
)


def _flash(text: str, level: str = "error") -> None:
    st.session_state[_FLASH] = (level, text)


def _show_flash() -> None:
    said = st.session_state.pop(_FLASH, None)
    if said:
        (st.success if said[0] == "success" else st.error)(components.escape_md(said[1]))


def badge(status: str | None) -> None:
    """The decision as a small badge ("Open" when none)."""
    st.badge(
        decision_label(status),
        icon=ICONS.get(status or "", ":material/radio_button_unchecked:"),
        color=COLOURS.get(status, "gray"),
    )


def when(at: str) -> str:
    """An ISO time as "2026-11-30 23:40 UTC"."""
    text = (at or "").replace("T", " ")
    return f"{text[:16]} UTC" if len(text) >= 16 else text


# -- the image with its markers ----------------------------------------------------------------------


def _nonce(gen_id: int) -> str:
    nonces: dict[int, str] = st.session_state.setdefault(_NONCE, {})
    return nonces.setdefault(gen_id, secrets.token_hex(4))


def _pin_key(gen_id: int) -> str:
    return f"hist_pin_{gen_id}"


def current_pin(gen_id: int) -> dict[str, float] | None:
    """The point or box pinned on the image since the last comment (None: nothing pinned)."""
    state: Any = st.session_state.get(_pin_key(gen_id))
    pin = state.get("pin") if state is not None and hasattr(state, "get") else None
    if not isinstance(pin, dict) or pin.get("nonce") != _nonce(gen_id):
        return None
    return {k: float(pin[k]) for k in ("x", "y", "w", "h") if isinstance(pin.get(k), int | float)}


def markers(comments: Sequence[Comment]) -> list[dict[str, Any]]:
    out = []
    for c in comments:
        if c.pin is None or c.number is None:
            continue
        mark: dict[str, Any] = {**c.pin.to_dict(), "n": c.number, "done": c.resolved}
        mark["title"] = f"{c.number}: {who(c.author)}"
        out.append(mark)
    return out


def has_pins(studio: StudioSession, record: GenerationRecord) -> bool:
    """Whether any comment on the generation is pinned (its image is then drawn with the markers)."""
    try:
        return any(c.pin is not None for c in studio.review.comments(record.id))
    except StudioError:
        return False


def image(
    studio: StudioSession, record: GenerationRecord, picture: ImageRecord, *, max_height: int, edit: bool
) -> None:
    """The image at most ``max_height`` px tall, with the numbered markers of its pinned comments; with
    ``edit`` a click pins a point and a drag pins a box."""
    try:
        comments = studio.review.comments(record.id)
    except StudioError:
        comments = []
    src = before_after._src(studio, picture)
    _PIN(
        key=_pin_key(record.id),
        data={
            "src": src,
            "markers": markers(comments),
            "edit": edit,
            "nonce": _nonce(record.id),
            "maxh": max_height,
            "ratio": (picture.width or 1) / max(1, picture.height or 1),
            "alt": f"Generation {record.id}",
        },
        on_pin_change=lambda: None,
    )


# -- decisions ----------------------------------------------------------------------------------------


def _decide(studio: StudioSession, gen_id: int, status: str | None, collection_id: int | None) -> None:
    try:
        studio.review.decide(gen_id, status, collection_id=collection_id)
    except StudioError as exc:
        _flash(str(exc))


def _latest(decisions: Sequence[Decision]) -> Decision | None:
    return decisions[-1] if decisions else None


def decisions(studio: StudioSession, record: GenerationRecord, collection_id: int | None = None) -> None:
    """The decision badge with who and when, the three decision buttons, and the log."""
    try:
        log = studio.review.decisions(record.id)
    except StudioError as exc:
        st.caption(components.escape_md(str(exc)))
        return
    latest = _latest(log)
    status = record.review_status
    with st.container(horizontal=True, vertical_alignment="center", gap="small", key="hist_review_state"):
        badge(status)
        if latest is not None and latest.status != "open":
            st.caption(f"by {inert_markdown(who(latest.by))} · {when(latest.at)}")
    with st.container(horizontal=True, gap="small", key="hist_decide"):
        for value in DECISIONS:
            chosen = status == value
            st.button(
                decision_label(value),
                key=f"hist_decide_{value}",
                icon=ICONS[value],
                type="primary" if chosen else "secondary",
                on_click=_decide,
                args=(studio, record.id, None if chosen else value, collection_id),
                help="Press again to open it again" if chosen else None,
            )
    if len(log) > 1:
        with st.expander(f"Decision history ({len(log)})", icon=":material/history:"):
            for d in reversed(log):
                st.caption(f"{d.label} · {inert_markdown(who(d.by))} · {when(d.at)}")


# -- comments -----------------------------------------------------------------------------------------


def _mention_options(
    studio: StudioSession, record: GenerationRecord, comments: Sequence[Comment]
) -> list[str]:
    """Members to @mention: every enabled member (``ReviewService.mentionable``), and the people already in
    the conversation."""
    emails: list[str] = []
    try:
        emails = studio.review.mentionable()
    except StudioError:
        pass
    emails += [record.author or ""] + [c.author for c in comments]
    me = studio.actor.email
    return sorted({e for e in emails if e and "@" in e and not e.startswith("guest:") and e != me})


def _mention(gen_id: int) -> None:
    pick = st.session_state.get(f"hist_mention_{gen_id}")
    if pick:
        key = f"hist_comment_{gen_id}"
        text = (st.session_state.get(key) or "").rstrip()
        st.session_state[key] = f"{text} @{pick} ".lstrip()
        st.session_state[f"hist_mention_{gen_id}"] = None


def _post(studio: StudioSession, gen_id: int, collection_id: int | None) -> None:
    key = f"hist_comment_{gen_id}"
    pin = current_pin(gen_id) if st.session_state.get(f"hist_pin_on_{gen_id}") else None
    try:
        studio.review.comment(gen_id, st.session_state.get(key) or "", pin=pin, collection_id=collection_id)
    except StudioError as exc:
        _flash(str(exc))
        return
    st.session_state[key] = ""
    st.session_state[f"hist_pin_on_{gen_id}"] = False
    st.session_state.setdefault(_NONCE, {})[gen_id] = secrets.token_hex(4)  # clears the pin


def _reply(studio: StudioSession, gen_id: int, parent: int, collection_id: int | None) -> None:
    key = f"hist_reply_{parent}"
    try:
        studio.review.comment(
            gen_id, st.session_state.get(key) or "", parent_id=parent, collection_id=collection_id
        )
    except StudioError as exc:
        _flash(str(exc))
        return
    st.session_state[key] = ""


def _next_version(comment_id: int, gen_id: int) -> None:
    st.session_state[NEXT_COMMENT] = comment_id
    st.session_state[EDIT_SOURCE] = gen_id
    st.session_state["hist_go_edit"] = True


def body(text: str, studio_url: str | None = None) -> None:
    """A comment's text: Markdown made inert (no HTML, no live link outside the studio)."""
    st.markdown(inert_markdown(text, studio_url))


def _comment(studio: StudioSession, record: GenerationRecord, c: Comment, collection_id: int | None) -> None:
    with st.container(border=True, key=f"hist_cmt_{c.id}"):
        with st.container(horizontal=True, vertical_alignment="center", gap="small"):
            if c.number is not None:
                st.badge(str(c.number), color="red", icon=":material/location_on:")
            st.markdown(f"**{inert_markdown(who(c.author))}**")
            st.caption(when(c.created_at))
            if c.resolved:
                st.caption("resolved")
        body(c.body, studio.settings.public_url)
        if c.mentions:
            st.caption("Mentions " + ", ".join(inert_markdown(m) for m in c.mentions))
        if c.version_id is not None:
            _version(studio, record, c.version_id)
        if c.depth:
            return
        with st.container(horizontal=True, gap="small"):
            if studio.actor.can_generate and c.version_id is None:
                st.button(
                    "Make the next version",
                    key=f"hist_next_{c.id}",
                    icon=":material/auto_fix_high:",
                    on_click=_next_version,
                    args=(c.id, record.id),
                    type="primary" if record.review_status == "changes" else "secondary",
                    help="Open Edit with this image as the source and this comment as the instruction.",
                )
            with st.popover("Reply", icon=":material/reply:", key=f"hist_reply_pop_{c.id}"):
                st.text_area("Reply", key=f"hist_reply_{c.id}", max_chars=4000, label_visibility="collapsed")
                st.button(
                    "Send reply",
                    key=f"hist_reply_send_{c.id}",
                    type="primary",
                    on_click=_reply,
                    args=(studio, record.id, c.id, collection_id),
                )


def _version(studio: StudioSession, record: GenerationRecord, version_id: int) -> None:
    """The version made from a comment: a link to it and the before/after slider."""
    made = studio.get(version_id)
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        st.caption(f"Next version: #{version_id}")
        st.button(
            f"Open #{version_id}",
            key=f"hist_open_version_{version_id}",
            type="tertiary",
            icon=":material/open_in_new:",
            on_click=gallery.select,
            args=(version_id,),
        )
    if made is None or not made.images or not record.images:
        if made is not None and not made.images:
            st.caption(f"Version #{version_id}: {components.status_label(made.status)}")
        return
    with st.expander("Before / after", icon=":material/compare:"):
        before_after.slider(studio, record.images[0], made.images[0], key=f"hist_ba_{version_id}")


def comments(studio: StudioSession, record: GenerationRecord, collection_id: int | None = None) -> None:
    """The threads, then the new comment (with its pin and @mention suggestions)."""
    try:
        items = studio.review.comments(record.id)
    except StudioError as exc:
        st.caption(components.escape_md(str(exc)))
        return
    st.markdown(f"**Comments ({len(items)})**" if items else "**Comments**")
    for c in items:
        _comment(studio, record, c, collection_id)
    _mark_read(studio, record, items)
    key = f"hist_comment_{record.id}"
    st.text_area(
        "Comment",
        key=key,
        max_chars=4000,
        placeholder="What should change? Markdown works; @name mentions a member.",
        label_visibility="collapsed",
    )
    options = _mention_options(studio, record, items)
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        st.toggle(
            "Pin to the image",
            key=f"hist_pin_on_{record.id}",
            help="Then click the image to pin a point, or drag to pin a box.",
        )
        if options:
            st.selectbox(
                "Mention",
                options,
                index=None,
                key=f"hist_mention_{record.id}",
                placeholder="@ Mention…",
                label_visibility="collapsed",
                on_change=_mention,
                args=(record.id,),
                width=220,
            )
        st.button(
            "Comment",
            key=f"hist_comment_send_{record.id}",
            icon=":material/send:",
            type="primary",
            on_click=_post,
            args=(studio, record.id, collection_id),
        )
    if st.session_state.get(f"hist_pin_on_{record.id}"):
        pin = current_pin(record.id)
        st.caption(
            ("A box is pinned." if pin and "w" in pin else "A point is pinned.")
            if pin
            else "Click the image to pin a point, or drag to pin a box."
        )


def _mark_read(studio: StudioSession, record: GenerationRecord, items: Sequence[Comment]) -> None:
    """The author has seen the comments on their work (they leave the "Feedback on my work" count)."""
    me = studio.actor.email
    if not items or me is None or record.author != me:
        return
    try:
        studio.review.mark_read([c.id for c in items if c.author != me])
    except StudioError:
        pass


def panel(studio: StudioSession, record: GenerationRecord, collection_id: int | None = None) -> None:
    """Decisions and comments of one generation (the lightbox's right column)."""
    if st.session_state.pop("hist_go_edit", False):
        st.switch_page("screens/edit.py")
    st.subheader("Review", anchor=False)
    _show_flash()
    decisions(studio, record, collection_id)
    comments(studio, record, collection_id)


def exists(picture: ImageRecord) -> bool:
    return Path(picture.path).exists()
