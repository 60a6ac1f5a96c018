"""Studio's Streamlit entry point: page config, navigation and the sidebar. Pages live in screens/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import streamlit as st

from studio.app import resources
from studio.app.widgets import client_view, components, draft_keeper, review_queues
from studio.domain.errors import NotAllowed, NotSignedIn

VIEWS = Path(__file__).parent / "screens"

#: The builders' value widgets (inputs, selects, toggles), kept across page switches: Streamlit drops the
#: state of every widget a run does not draw. Buttons, uploaders, expanders and form submits must never
#: match (assigning their keys raises).
KEPT = re.compile(
    r"gen_(prompt|mode|f_\w+|model|custom_model|ratio|size|output|variants|prop_\d+|adv_\w+)"
    r"|edit_(source|model|from_id|first|instruction|adv_\w+)"
    r"|exp_(template|var_\w+|models|ratios|sizes|seeds|repeats|nsets|concurrency|threshold|adv_\w+)"
)
_NOT_KEPT = ("_box",)  # "Advanced" expanders: {prefix}_adv_box
_PLAIN = (str, int, float, bool, type(None))
_PAGE = "studio_page"  # the page of the previous run
PREVIOUS = (
    "studio_previous_page"  # the same, kept for the page itself (History drops its selection on arrival)
)
_SAVED = draft_keeper.SAVED  # plain session state (no widget's), which Streamlit never drops
OWNER = {"gen": "Generate", "edit": "Edit", "exp": "Experiment"}  # key prefix -> the page drawing it


def _plain(value: Any) -> bool:
    if isinstance(value, list | tuple):
        return all(isinstance(item, _PLAIN) for item in value)
    return isinstance(value, _PLAIN)


def keep_builder_state(page_title: str) -> None:
    """Copy the builders' widget values aside on every run; on the first run of a page, put back those
    Streamlit dropped while another page was shown.

    Values are written back only then: a widget value set from code is pushed to the browser, and on
    every run it could overwrite text typed while the run was in flight. The first run of a new session
    (a reload, a restart) is such an arrival: the saved draft (``draft_keeper.restore``) is put back then."""
    ss = st.session_state
    ss[PREVIOUS] = ss.get(_PAGE)
    new_session = _SAVED not in ss
    saved: dict[str, Any] = ss.setdefault(_SAVED, {})
    if new_session:  # a reload or a restart: the stored draft, put back below like a page arrival
        draft_keeper.restore(saved, _kept)
    if ss.get(_PAGE) != page_title:
        ss[_PAGE] = page_title
        for name, value in saved.items():
            if name not in ss:
                ss[name] = list(value) if isinstance(value, list) else value
    else:  # gone while its own page is shown: deleted on purpose (a sent instruction), or not drawn
        for name in [n for n in saved if n not in ss and OWNER.get(n.split("_", 1)[0]) == page_title]:
            del saved[name]
    _copy_aside(saved)


def _kept(name: str) -> bool:
    return bool(KEPT.fullmatch(name)) and not name.endswith(_NOT_KEPT)


def _copy_aside(saved: dict[str, Any]) -> None:
    ss = st.session_state
    for name in [k for k in ss if isinstance(k, str) and _kept(k)]:
        value = ss[name]
        if _plain(value):
            saved[name] = list(value) if isinstance(value, list) else value


st.set_page_config(
    page_title="Studio", page_icon=":material/palette:", layout="wide", initial_sidebar_state="expanded"
)

# A client link (``?link=TOKEN``) opens ONE page without sign-in: that collection and nothing else of the
# studio (no navigation, no sidebar). Every page URL leads to it, so no other page can run for the visitor.
if "link" in st.query_params:
    st.navigation(
        [st.Page(VIEWS / "shared.py", title="Shared collection", url_path="shared", default=True)]
        + [
            st.Page(client_view.show, title="Shared collection", url_path=name, visibility="hidden")
            for name in resources.PAGE_URLS
        ],
        position="hidden",
    ).run()
    st.stop()

# The sign-in gate, before anything else is drawn: a signed-out visitor gets the sign-in page and nothing of
# the team's work (no navigation, no sidebar); a stranger gets one sentence and Sign out.
session = resources.session_or_stop(entry=True)
actor = session.actor

#: Pages some people do not get, and what a link to one tells them instead (the page is not there at all).
CLOSED = {
    "generate": "Generate",
    "experiment": "Experiment",
    "edit": "Edit",
    "library": "Library",
    "admin": "Admin",
}


def _closed(title: str) -> Any:
    def page() -> None:
        st.title(title, anchor=False)
        if title == "Admin" and actor.local:
            st.info(
                "The Admin page is for team studios: turn sign-in on with STUDIO_LOGIN=oidc or proxy.",
                icon=":material/lock:",
            )
        elif title == "Admin":
            st.info("Only admins see this page.", icon=":material/lock:")
        else:
            st.info(
                f"{title} is not open to reviewers: reviewers look at shared work and comment. Ask an admin "
                "for the designer role to make images.",
                icon=":material/lock:",
            )

    return page


def _pages() -> list[Any]:
    """The pages this person may use: reviewers make nothing (no Generate, Edit, Experiment or Library);
    admins of a team studio also get Admin. A page someone does not get is registered hidden, saying why,
    so a link to it gets a sentence rather than Streamlit's "Page not found"."""
    makes = actor.can_generate
    admin = actor.is_admin and not actor.local
    history = st.Page(VIEWS / "history.py", title="History", icon=":material/photo_library:")
    shown = {
        "generate": st.Page(
            VIEWS / "generate.py", title="Generate", icon=":material/auto_awesome:", default=True
        )
        if makes
        else None,
        "history": history,
        "experiment": st.Page(VIEWS / "experiment.py", title="Experiment", icon=":material/grid_view:")
        if makes
        else None,
        "edit": st.Page(VIEWS / "edit.py", title="Edit", icon=":material/forum:") if makes else None,
        "library": st.Page(VIEWS / "library.py", title="Library", icon=":material/menu_book:")
        if makes
        else None,
        "settings": st.Page(VIEWS / "settings.py", title="Settings", icon=":material/settings:"),
        "admin": st.Page(VIEWS / "admin.py", title="Admin", icon=":material/admin_panel_settings:")
        if admin
        else None,
    }
    pages = [p for p in shown.values() if p is not None]
    pages += [
        st.Page(_closed(title), title=title, url_path=name, visibility="hidden")
        for name, title in CLOSED.items()
        if shown[name] is None
    ]
    if not makes:  # History is the first page, and keeps its own URL (/history): "/" leads there
        pages.append(
            st.Page(
                lambda: st.switch_page(history),
                title="Studio",
                url_path="start",
                default=True,
                visibility="hidden",
            )
        )
    return pages


page = st.navigation(_pages())

with st.sidebar:
    st.caption("Gemini image studio")
    if session.is_demo:
        components.sidebar_demo_badge()
    if not actor.local:
        st.text(f"{actor.email} · {actor.role}", help="Signed in")
        resources.sign_out_button(session.settings, key="sidebar_sign_out")
    review_queues.sidebar(session)

keep_builder_state(page.title)
draft_keeper.notice()
# Taken out of the session before the page runs: only this run (the session's first) may blame the draft, and
# st.stop() leaves session state unreadable in a ``finally`` (it raises StopException again), so a marker
# cleared there could stay set and blame the draft for a later, unrelated error.
restored = draft_keeper.take_restored()
try:
    page.run()
except (NotAllowed, NotSignedIn):
    if not resources.lost_membership():  # one action refused: the page's own error
        raise
    resources.forget_member()  # disabled or removed since the gate last looked: the gate says so now
    st.rerun()
except Exception:
    if not draft_keeper.set_aside_restored(restored):  # a restored draft the page could not take
        raise
    st.rerun()
finally:  # also after st.rerun() (not st.stop()): what the run changed is kept across a reload and a restart
    _copy_aside(st.session_state[_SAVED])
    draft_keeper.persist(st.session_state[_SAVED])
