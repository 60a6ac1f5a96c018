from __future__ import annotations

import streamlit as st

from studio.app import resources
from studio.app.widgets import (
    components,
    draft_keeper,
    feed,
    guard,
    jscomponents,
    page_style,
    references,
    viewer,
)
from studio.app.widgets import prompt_form as composer
from studio.app.widgets.interrupted_notice import interrupted_notice
from studio.domain.errors import NoKey, StudioError
from studio.domain.requests import GenerationRequest
from studio.services.session import StudioSession

PRIVATE = "gen_private_submit"  # team mode: the next submission is private
NO_KEY_HELP = f"**Generate is disabled.** {NoKey.MESSAGE}"


def _submit(studio: StudioSession, requests: list[GenerationRequest]) -> None:
    """Submit once per intent: the same requests again within seconds (double click, held shortcut) are refused.

    The new batch becomes the newest run of the session feed; earlier runs stay below it (and in History).
    A refusal is said in the status line under the Generate button, as a sentence."""
    if not guard.allow("generate", guard.request_fingerprint(requests)):
        return
    st.session_state.pop(draft_keeper.CAME_BACK, None)
    private = bool(st.session_state.get(PRIVATE))  # read first: a read of session state is where a stop lands
    ids: list[int] = []
    error = ""
    try:
        for request in requests:
            ids += studio.submit(request, private=private)
    except StudioError as exc:
        if not ids:
            guard.forget("generate")
        error = str(exc)
    if ids:
        feed.push(studio, ids)  # first: a new run clears the status line's message ...
    if error:
        feed.say(
            "error", error, with_run=bool(ids)
        )  # ... so a refusal midway through a batch is said after it, and stays


studio = resources.session_or_stop()
page_style.generate_layout()  # the composer stays in view; see static/generate.css
components.page_header(
    "Generate",
    "Describe an image, pick a model, and generate up to 8 variants at once. Ctrl+Enter (⌘+Enter) generates.",
    demo=studio.is_demo,
)
interrupted_notice(studio)  # work a stopped studio left unfinished: Retry · Dismiss
has_key = studio.settings.has_key
if not has_key:
    st.info(NO_KEY_HELP, icon=":material/key_off:")
remixed = composer.consume_remix()
if remixed is not None:
    st.toast("Remix loaded into the form.", icon=":material/tune:")

form, results = st.columns([5, 7], gap="medium")
slot: dict = {}
#: a press of Generate is known before any widget is drawn; without one, the feed is drawn first so a run that
#: just finished paints its images before the composer is redrawn
pressing = bool(st.session_state.get("gen_submit") or st.session_state.get(composer.PER_PROPOSAL))


def _results() -> None:
    feed.sync(studio)
    with results:
        feed.draw(studio)
        if st.session_state.pop(viewer.OPEN, False):
            runs = feed.runs()
            ids = st.session_state.get(viewer.IDS) or (runs[0]["ids"] if runs else [])
            if ids:
                viewer.show(studio, ids)


def _budget_line() -> str | None:
    """ "$3.20 of $20.00 used this month" (None: no cap applies, or it cannot be read now)."""
    try:
        return studio.budget_line()
    except StudioError:
        return None


def _submit_area(ready: bool) -> None:
    """The Generate button, then the line that answers it (right where the designer clicked)."""
    slot["pressed"] = st.button(
        "Generate",
        type="primary",
        icon=":material/auto_awesome:",
        width="stretch",
        disabled=not has_key or not ready,
        key="gen_submit",
        help="Ctrl+Enter (⌘+Enter) anywhere on the page",
    )
    if studio.settings.team_mode:  # seen only by its author and the admins (History can change it later)
        st.toggle(
            "Private",
            key=PRIVATE,
            help="Only you and the admins will see these images. You can change it later in History.",
        )
    budget = _budget_line()
    if budget:  # what is left to spend, where the spending is done
        st.caption(f":material/account_balance_wallet: {components.escape_md(budget)}")
    ss = st.session_state
    if ss.get("gen_base") is not None or ss.get("gen_prompt") or ss.get(references.TRAY):
        if ss.get(draft_keeper.CAME_BACK):  # a reload or a restart brought the draft back: say so, once asked
            st.caption(":material/history: Your draft is back from your last visit.")
        st.button(
            "Start fresh",
            icon=":material/restart_alt:",
            key="gen_fresh",
            type="tertiary",
            on_click=draft_keeper.start_fresh,
            help="Empty the prompt, settings, references and sketches, and forget the saved draft. "
            "The results stay.",
        )
    slot["status"] = st.container(key="gen_status_box")


if not pressing:
    _results()
with form, st.container(border=True, key="gen_composer"):
    request = composer.compose(studio, _submit_area)
    jscomponents.shortcuts()

if request is not None and slot.get("pressed"):
    _submit(studio, [request])
elif request is not None and st.session_state.get(composer.PER_PROPOSAL):
    _submit(studio, composer.per_proposal(request, studio))
feed.sync(studio)
with slot["status"]:
    if not has_key:  # said where the designer would click, not only at the top of the page
        st.caption(f":material/key_off: {components.escape_md(NoKey.MESSAGE)}")
    feed.status(studio)  # answers the click where it was made, before the feed waits on anything
if pressing:
    _results()
