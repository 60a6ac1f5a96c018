"""Progress of the Generate page's runs: the polling rate, the batch other pages hand over, and the card
of one variant still running. The session feed (``feed.py``) draws runs with these.

Jobs run in the process's worker pool, so this only reads.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from studio.app.widgets import components
from studio.domain.requests import PENDING, RUNNING
from studio.services.session import StudioSession

#: The live run's fragment ticks every POLL_SECONDS, and each of its runs is a long poll: it waits for the next
#: variant to finish (and draws it at once) for at most LONG_POLL_SECONDS, giving way at once when the browser
#: asks for a run (a click, the next tick). So a finished image is not left waiting for a tick.
POLL_SECONDS = 0.25
LONG_POLL_SECONDS = 1.0
#: the status line under Generate: a sentence, so a slower tick is enough (and leaves the feed's free)
STATUS_POLL_SECONDS = 0.5
#: How long the first draw of a run just sent waits for its jobs to finish (it returns as soon as they do), so a
#: fast generation (a small image, the demo) is drawn by the run that follows the click, not a tick later.
#: Only that draw waits: later reruns and polls never hold the page up on a live run.
WAIT_SECONDS = 0.2
#: The latest batch of generation ids. This page sets it on Generate; other pages set it to hand work over
#: (History's re-run, the interrupted-work notice). The feed adds a batch it has not seen as a new run.
BATCH = "gen_ids"


def browser_asks() -> bool:
    """True when the browser has asked for a run (a click, a fragment's tick) while this one is running, so a
    long poll gives way at once. Streamlit keeps that request in the run's ``script_requests``, which it does
    not document; ``tests/unit/test_long_poll.py`` pins it, and without it a poll only waits out its cap."""
    requests = getattr(get_script_run_ctx(), "script_requests", None)
    state = getattr(requests, "_state", None)
    return getattr(state, "name", "CONTINUE") != "CONTINUE"


def cancel_all(studio: StudioSession, ids: Sequence[int]) -> None:
    for gen_id in ids:
        studio.cancel(gen_id)


def _cancel(studio: StudioSession, gen_id: int) -> None:  # a button callback returns nothing
    studio.cancel(gen_id)


def running(studio: StudioSession, gen_id: int) -> None:
    """A placeholder for a variant still queued or running, with its progress and a Cancel button."""
    progress = studio.progress(gen_id)
    state = RUNNING if progress is not None and progress.state == "running" else PENDING
    with st.container(border=True, key=f"gen_pending_{gen_id}"):
        components.status_badge(state)
        st.skeleton(height=180)
        message = progress.message if progress is not None else "Queued"
        elapsed = f" · {progress.elapsed:.0f} s" if progress is not None else ""
        st.caption(f"#{gen_id} · {components.escape_md(message)}{elapsed}")
        st.button(
            "Cancel",
            key=f"gen_cancel_{gen_id}",
            icon=":material/stop:",
            type="tertiary",
            on_click=_cancel,
            args=(studio, gen_id),
        )
