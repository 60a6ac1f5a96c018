"""The Generate page's session feed: every run of this session, newest on top, each image with its actions
(open, download with metadata, use as reference, remix, vary, favourite); and the status line under the
Generate button, which says what the newest run is doing where the designer clicked.

A run is a plain dict in ``st.session_state[FEED]`` (``ids``, ``prompt``, ``model``, ``at``), so the feed
survives reruns and page switches. Other pages hand work over by setting ``progress.BATCH`` (History's
re-run, the interrupted-work notice): ``sync`` pushes a batch it has not seen as a new run on top.

Jobs run in the process's worker pool, so drawing only reads. While a run has active jobs, it is drawn by a
fragment that ticks every ``progress.POLL_SECONDS``; each of its runs is a long poll that returns as soon as a
variant finishes, so each is shown as soon as it is saved. Once none is active, the whole page reruns and the
run is drawn with its actions (outside any fragment, so an action's rerun is a full one).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import streamlit as st

from studio.app import resources
from studio.app.widgets import advanced_panel as controls
from studio.app.widgets import components, draft_keeper, guard, progress, viewer
from studio.domain.errors import StudioError
from studio.domain.requests import CANCELLED, SUCCEEDED
from studio.services.gallery import GenerationRecord, ImageRecord
from studio.services.session import StudioSession

FEED = "gen_feed"
#: a message for the status line under Generate: (level "error"|"info", sentence, batch, with_run). It belongs
#: to the batch that was newest when it was said: a run handed over later (History's re-run, Retry) clears it.
#: ``with_run``: the run is shown under it too (a refusal midway through a batch, after its first part).
STATUS = "gen_status_msg"
#: runs drawn; older runs of the session stay in state (up to KEPT) and all of them are in History
SHOWN = 12
SHOWN_IMAGES = 32  # and at most this many variants (each image draws seven small widgets)
KEPT = 50
HISTORY_PAGE = "screens/history.py"
COLUMNS = 2  # tiles about 260 px wide beside the composer at 1440 px


Run = dict[str, Any]
_PAINTED = "painted"  # the run's fragment drew its last image; its next poll reruns the page


# -- state ------------------------------------------------------------------------------------------


def runs() -> list[Run]:
    return st.session_state.setdefault(FEED, [])


def sync(studio: StudioSession) -> list[Run]:
    """Push the latest batch (``progress.BATCH``, set by this page or another) as a run if it is new."""
    feed = runs()
    batch = [int(i) for i in st.session_state.get(progress.BATCH) or []]
    if batch and not any(run["ids"] == batch for run in feed):
        feed.insert(0, {**describe(studio, batch), "fresh": True})
        del feed[KEPT:]
        message = st.session_state.get(STATUS)
        if message and (len(message) < 3 or list(message[2]) != batch):
            st.session_state.pop(STATUS, None)  # said before this run: its progress and outcome replace it
    return feed


def describe(studio: StudioSession, ids: Sequence[int]) -> Run:
    records = studio.gallery.records(ids)
    first = records[0] if records else None
    return {
        "ids": list(ids),
        "prompt": first.prompt if first else "",
        "model": first.model if first else "",
        "at": time.time(),
    }


def push(studio: StudioSession, ids: Sequence[int]) -> None:
    """A new batch from this page: it becomes the newest run on the next ``sync``."""
    draft_keeper.keep_batch(
        studio, ids
    )  # first: a reload a moment after the click still finds it in the feed
    st.session_state[progress.BATCH] = list(ids)
    st.session_state.pop(STATUS, None)


def say(level: str, sentence: str, *, with_run: bool = False) -> None:
    batch = [int(i) for i in st.session_state.get(progress.BATCH) or []]
    st.session_state[STATUS] = (level, sentence, batch, with_run)


def clear() -> None:
    st.session_state.pop(FEED, None)
    st.session_state.pop(progress.BATCH, None)
    st.session_state.pop(STATUS, None)


# -- the status line under Generate ---------------------------------------------------------------------


def status(studio: StudioSession) -> None:
    """One line under the Generate button: a refusal, the newest run's progress, or its outcome."""
    with st.container(key="gen_status"):
        _status(studio)


def _status(studio: StudioSession) -> None:
    message = st.session_state.get(STATUS)
    feed = runs()
    if message:
        level, sentence, *rest = message
        with st.container(
            key="gen_status_done_msg"
        ):  # hidden at once when Generate is pressed (generate.css)
            (st.error if level == "error" else st.info)(components.escape_md(sentence), icon=_ICON[level])
        with_run = bool(rest) and rest[-1] and bool(feed) and feed[0]["ids"] == list(rest[0])
        if not with_run:
            return
    if not feed:
        return
    ids = feed[0]["ids"]
    if any(studio.is_active(gen_id) for gen_id in ids):
        _live_status(studio, ids)
    else:
        _final_status(studio, ids)


_ICON = {"error": ":material/error:", "info": ":material/info:"}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


@st.fragment(run_every=progress.STATUS_POLL_SECONDS)
@resources.rerun_when_refused
def _live_status(studio: StudioSession, ids: list[int]) -> None:
    active = [gen_id for gen_id in ids if studio.is_active(gen_id)]
    if not active:  # the outcome, here: the feed's fragment reruns the page once its images are painted
        _final_status(studio, ids)
        return
    done = len(ids) - len(active)
    reports = [studio.progress(gen_id) for gen_id in active]
    started = [r for r in reports if r is not None and r.state == "running"]
    if not started and not done:
        line = f"Sending {_plural(len(ids), 'variant')}…"
    else:
        elapsed = max((r.elapsed for r in started), default=0.0)
        latest = started[0].message if started else "Queued"
        line = (
            f"Generating {_plural(len(ids), 'variant')}… {done} of {len(ids)} done · "
            f"{components.escape_md(latest)} · {elapsed:.0f} s"
        )
    with st.container(key="gen_live_status"):  # polled: it does not fade between two polls (generate.css)
        st.markdown(f":material/progress_activity: {line}")


def _final_status(studio: StudioSession, ids: Sequence[int]) -> None:
    records = studio.gallery.records(ids)
    images = sum(len(r.images) for r in records)
    cancelled = sum(r.status == CANCELLED for r in records)  # the designer's own doing: no failure
    failed = [r for r in records if r.status not in (SUCCEEDED, CANCELLED)]
    seconds = max((r.latency_ms or 0 for r in records), default=0) / 1000
    counts = [_plural(images, "image")] if images or not cancelled else []
    line = " · ".join([*counts, *([f"{cancelled} cancelled"] if cancelled else []), f"{seconds:.1f} s"])
    with st.container(key="gen_status_done"):  # hidden at once when Generate is pressed (generate.css)
        if not failed:
            st.markdown(f"{':material/check_circle:' if images else ':material/cancel:'} {line}")
            return
        reason = next((r.error_message for r in failed if r.error_message), "")
        what = f"{len(failed)} of {len(records)} failed" if images else "Nothing came back"
        sentence = f"{what}. {reason}".strip()
        st.error(components.escape_md(sentence), icon=":material/error:")
        if images:
            st.caption(line)


# -- the feed -------------------------------------------------------------------------------------------


def draw(studio: StudioSession) -> None:
    """The session's runs, newest on top (at most ``SHOWN`` runs and ``SHOWN_IMAGES`` images)."""
    feed = runs()
    if not feed:
        _empty()
        return
    head, clear_button = st.columns([5, 1], vertical_alignment="center")
    head.markdown(f"**This session** · {_plural(len(feed), 'run')}")
    if clear_button.button(
        "Clear",
        icon=":material/clear_all:",
        key="gen_clear",
        width="stretch",
        help="Every run stays in History",
    ):
        clear()
        st.rerun()
    drawn = images = 0
    full = False  # every image costs a rerun its widgets: the feed stays light, History has the rest
    for run in feed:
        live = any(studio.is_active(gen_id) for gen_id in run["ids"])
        full = full or drawn >= SHOWN or bool(drawn) and images + len(run["ids"]) > SHOWN_IMAGES
        if full and not live:
            continue  # a run still running is always drawn, with its progress and Cancel
        _run(studio, run, live=live)
        drawn, images = drawn + 1, images + len(run["ids"])
    if len(feed) > drawn:
        older = len(feed) - drawn
        st.page_link(
            HISTORY_PAGE,
            label=f"{_plural(older, 'older run')} of this session {'is' if older == 1 else 'are'} in History",
            icon=":material/photo_library:",
        )


def _empty() -> None:
    with st.container(border=True, height=320, horizontal_alignment="center", vertical_alignment="center"):
        st.markdown(":material/wall_art: **Your images appear here**")
        st.caption("Write a prompt and press Generate. Each run stays here, newest on top, and in History.")


def _run(studio: StudioSession, run: Run, *, live: bool) -> None:
    ids = run["ids"]
    if not live:
        run.pop(_PAINTED, None)  # a whole-page run came first (e.g. the status line's)
    with st.container(border=True, key=f"gen_feedrun_{ids[0]}"):
        if live:
            _live_run(studio, ids, run)
        else:  # nested as the live fragment draws it, so its images stay on screen (not fetched again)
            with st.container(key=f"gen_live_{ids[0]}"):
                _header(studio, run, len(ids), live=False)
                _tiles(studio, ids, actions=True)


def _header(studio: StudioSession, run: Run, count: int, *, live: bool, active: Sequence[int] = ()) -> None:
    """The run's prompt excerpt, model, size and time; while it runs, a button to cancel it."""
    text, button = st.columns([3, 1], vertical_alignment="center") if live else (st.container(), None)
    when = time.strftime("%H:%M", time.localtime(run["at"]))
    with text:
        st.markdown(f"**{components.escape_md(components.excerpt(run['prompt'], 110) or '(no prompt)')}**")
        st.caption(
            f"{components.escape_md(components.model_label(run['model']))} · {_plural(count, 'variant')} · "
            f"{when}"
        )
    if button is not None:
        button.button(
            "Cancel",
            icon=":material/stop_circle:",
            key=f"gen_cancel_all_{run['ids'][0]}",  # per run: a click stays with the run it was drawn on
            on_click=progress.cancel_all,
            args=(studio, active),
            width="stretch",
        )


@st.fragment(run_every=progress.POLL_SECONDS)
@resources.rerun_when_refused
def _live_run(studio: StudioSession, ids: list[int], run: Run) -> None:
    if run.pop(_PAINTED, False):
        st.rerun()  # the images are on screen: now the whole page, with their actions, and no more polling
    if run.pop("fresh", False):  # right after it was sent: its placeholders show within WAIT_SECONDS
        studio.wait(ids, timeout=progress.WAIT_SECONDS)  # returns as soon as they finish
    else:  # a long poll: a variant that finishes is drawn at once, not at the next tick
        studio.wait_any(
            [i for i in ids if studio.is_active(i)], progress.LONG_POLL_SECONDS, progress.browser_asks
        )
    active = [gen_id for gen_id in ids if studio.is_active(gen_id)]
    # What finished is drawn now, by this fragment. The last image too: a whole-page rerun costs more than
    # the endpoint's answer is worth waiting for, so it comes one poll later, once the images are painted.
    with st.container(key=f"gen_live_{ids[0]}"):  # polled: it does not fade between two polls (generate.css)
        _header(studio, run, len(ids), live=bool(active), active=active)
        _tiles(studio, ids, actions=False)
    if not active:
        run[_PAINTED] = True


def _tiles(studio: StudioSession, ids: Sequence[int], *, actions: bool) -> None:
    by_id = {r.id: r for r in studio.gallery.records(ids)}
    columns = st.columns(COLUMNS)
    shown = 0  # index of each image among the run's viewable images, for the viewer
    for index, gen_id in enumerate(ids):
        with columns[index % len(columns)]:
            record = by_id.get(gen_id)
            if studio.is_active(gen_id):
                progress.running(studio, gen_id)
            elif record is None:  # trashed and emptied since: nothing to act on
                st.caption(f"#{gen_id} · Deleted: no longer in the history.")
            else:
                shown += _finished(studio, record, list(ids), first=shown, actions=actions)


def _finished(
    studio: StudioSession, record: GenerationRecord, ids: list[int], *, first: int, actions: bool
) -> int:
    """One finished generation; returns how many viewable images it has."""
    images = viewer.viewable(record)
    for offset, image in enumerate(images):
        tile(studio.gallery.preview(image))
        if actions:
            _actions(studio, record, image, ids, index=first + offset, n=offset)
    if not images:  # failed, blocked, cancelled: compact, with the reason as a sentence
        components.status_badge(record.status)
        components.error_box(record)
    if not actions or not images:
        st.caption(components.run_facts(record))
    if record.text:
        st.caption("Text reply")
        st.text(record.text)
    if actions:
        controls.outputs(record, studio.gallery.preview, key_prefix="gen")
    return len(images)


def tile(path: Path) -> None:
    """An image file shown as stored (see ``components.stored_image``)."""
    components.stored_image(path)


def _actions(
    studio: StudioSession, record: GenerationRecord, image: ImageRecord, ids: list[int], *, index: int, n: int
) -> None:
    suffix = f"{record.id}" if n == 0 else f"{record.id}_{n}"
    with st.container(horizontal=True, gap="small", key=f"gen_actions_{suffix}"):
        st.button(
            "View",
            icon=":material/open_in_full:",
            key=f"gen_view_{suffix}",
            type="tertiary",
            help="Full screen, zoom, ← → to step through this run",
            on_click=viewer.request_open,
            args=(index, ids),
        )
        components.download_button(record, image, key=f"gen_dl_{suffix}", label="", tertiary=True)
        st.button(
            "",
            icon=":material/add_photo_alternate:",
            key=f"gen_ref_{suffix}",
            type="tertiary",
            help="Use as reference",
            on_click=_to_tray,
            args=(record.id, str(image.path), image.mime_type),
        )
        if n == 0:
            st.button(
                "",
                icon=":material/tune:",
                key=f"gen_remix_{record.id}",
                type="tertiary",
                help="Remix: load this prompt and its settings into the form",
                on_click=_remix,
                args=(studio, record.id),
            )
            st.button(
                "",
                icon=":material/shuffle:",
                key=f"gen_vary_{record.id}",
                type="tertiary",
                help="Vary: run it again with the same settings and a new seed",
                on_click=_vary,
                args=(studio, record.id),
            )
            st.button(
                "",
                icon=":material/star:" if record.favourite else ":material/star_outline:",
                key=f"gen_fav_{record.id}",
                type="primary" if record.favourite else "tertiary",
                help="Favourite (on)" if record.favourite else "Favourite",
                on_click=_favourite,
                args=(studio, record.id, not record.favourite),
            )
            st.caption(components.run_facts(record))


# -- actions (callbacks: they run before the page redraws) ------------------------------------------------


def _to_tray(record_id: int, path: str, mime: str) -> None:
    viewer.to_tray(record_id, path, mime)
    level, sentence = st.session_state.pop("gen_view_msg", ("success", "Added."))
    st.toast(
        components.escape_md(sentence),
        icon=":material/check:" if level == "success" else ":material/warning:",
    )


def _remix(studio: StudioSession, gen_id: int) -> None:
    try:
        st.session_state["remix"] = studio.request_for(gen_id)
    except StudioError as exc:
        say("error", str(exc))


def _vary(studio: StudioSession, gen_id: int) -> None:
    """The same request with a new seed (none: the endpoint picks one)."""
    if not guard.allow("vary", guard.fingerprint("vary", gen_id)):
        return
    try:
        ids = studio.vary(gen_id)  # private when the original is
    except StudioError as exc:
        guard.forget("vary")
        say("error", str(exc))
        return
    push(studio, ids)


def _favourite(studio: StudioSession, gen_id: int, value: bool) -> None:
    try:
        studio.organise.set_favourite([gen_id], value)
    except StudioError as exc:
        say("error", str(exc))
