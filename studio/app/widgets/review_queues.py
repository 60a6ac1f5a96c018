"""The review queues: "Waiting for my review (n)" for reviewers and "Feedback on my work (n)" for designers,
in the sidebar with their unread counts; each opens its list in History (``?queue=waiting|feedback``, so a
reload or a pasted link keeps it), where a row opens the generation in the lightbox."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from studio.app.widgets import components
from studio.app.widgets import gallery_grid as gallery
from studio.domain.errors import StudioError
from studio.domain.review import inert_markdown, who
from studio.services.session import StudioSession

QUEUE = "queue"
WAITING, FEEDBACK = "waiting", "feedback"
HISTORY = Path("screens") / "history.py"


def sidebar(studio: StudioSession) -> None:
    """The two queues with their unread counts, each a link to its list. A reviewer always has "Waiting for
    my review"; anyone else gets a queue once there is something in it (or was: read feedback stays
    reachable), so a studio nobody reviews in is not cluttered."""
    actor = studio.actor
    try:
        unread = studio.review.unread()
        waiting = actor.role == "reviewer" or unread.get("waiting", 0) > 0
        feedback = actor.can_generate and (
            unread.get("feedback", 0) > 0 or bool(studio.review.feedback_on_my_work())
        )
    except StudioError:
        return
    if waiting:
        st.page_link(
            str(HISTORY),
            label=f"Waiting for my review ({unread.get('waiting', 0)})",
            icon=":material/rate_review:",
            query_params={QUEUE: WAITING},
        )
    if feedback:
        st.page_link(
            str(HISTORY),
            label=f"Feedback on my work ({unread.get('feedback', 0)})",
            icon=":material/mark_chat_unread:",
            query_params={QUEUE: FEEDBACK},
        )


def current() -> str | None:
    value = st.query_params.get(QUEUE)
    return value if value in (WAITING, FEEDBACK) else None


def _leave() -> None:
    st.query_params.pop(QUEUE, None)


def _thumb(studio: StudioSession, gen_id: int) -> None:
    record = studio.get(gen_id)
    if record is not None and record.images and record.images[0].thumb_path:
        thumb = Path(record.images[0].thumb_path)
        if thumb.exists():
            components.stored_image(thumb)
            return
    st.caption(f"#{gen_id}")


def page(studio: StudioSession, which: str) -> None:
    """The queue's list, each row opening its generation."""
    title = "Waiting for my review" if which == WAITING else "Feedback on my work"
    components.page_header(
        title,
        "Open items of the collections shared with you for review."
        if which == WAITING
        else "What others said about the images you made, newest first.",
        demo=studio.is_demo,
    )
    st.button("Back to History", key="queue_back", icon=":material/arrow_back:", on_click=_leave)
    try:
        if which == WAITING:
            _waiting(studio)
        else:
            _feedback(studio)
    except StudioError as exc:
        st.error(components.escape_md(str(exc)), icon=":material/error:")


def _waiting(studio: StudioSession) -> None:
    records = studio.review.waiting_for_me()
    if not records:
        st.info("Nothing is waiting for your review.", icon=":material/done_all:")
        return
    for record in records:
        with st.container(border=True, key=f"queue_row_{record.id}"):
            pic, text = st.columns([1, 5], vertical_alignment="center")
            with pic:
                _thumb(studio, record.id)
            text.markdown(
                f"**#{record.id}** · {components.escape_md(components.excerpt(record.prompt, 100))}"
            )
            text.button(
                "Open",
                key=f"queue_open_{record.id}",
                icon=":material/open_in_full:",
                on_click=gallery.select,
                args=(record.id,),
            )


def _open_comment(studio: StudioSession, gen_id: int, comment_ids: list[int]) -> None:
    """Open the generation, its comments read (before the sidebar counts them again)."""
    try:
        studio.review.mark_read(comment_ids)
    except StudioError:
        pass
    gallery.select(gen_id)


def _feedback(studio: StudioSession) -> None:
    comments = studio.review.feedback_on_my_work()
    if not comments:
        st.info("No feedback on your work yet.", icon=":material/forum:")
        return
    for c in comments:
        with st.container(border=True, key=f"queue_cmt_{c.id}"):
            pic, text = st.columns([1, 5], vertical_alignment="center")
            with pic:
                _thumb(studio, c.generation_id)
            pin = f" · marker {c.number}" if c.number is not None else ""
            text.markdown(f"**{inert_markdown(who(c.author))}** on #{c.generation_id}{pin}")
            text.markdown(inert_markdown(c.body, studio.settings.public_url))
            text.button(
                "Open",
                key=f"queue_open_cmt_{c.id}",
                icon=":material/open_in_full:",
                on_click=_open_comment,
                args=(
                    studio,
                    c.generation_id,
                    [o.id for o in comments if o.generation_id == c.generation_id],
                ),
            )
