"""The process-wide Studio behind every page, and the sign-in gate in front of it.

``get_studio`` is the one ``st.cache_resource`` and the single patch seam for UI tests (they return a Studio
pointed at an emulator). ``session_or_stop`` is the gate every page goes through: it gives the page the
signed-in person's ``StudioSession``, or draws the sign-in page (or the sentence for a stranger) and stops,
so a signed-out visitor sees nothing of the team's work.
"""

from __future__ import annotations

import functools
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NoReturn, ParamSpec

import streamlit as st

from studio.app.widgets import components
from studio.domain.errors import NotAllowed, NotSignedIn, StudioError
from studio.domain.people import Actor
from studio.domain.settings import Settings
from studio.services.session import StudioSession
from studio.services.studio import Studio, open_studio, redact

P = ParamSpec("P")

#: How long a signed-in person's membership is trusted before it is read again: a person an admin disables
#: (or whose role changes) is stopped on their next page run after at most this long.
RECHECK_S = 30.0
_MEMBER = "studio_member"  # session state: the _Member of this browser session
_SESSION = "studio_session"  # session state: (studio id, actor, StudioSession)
NO_EMAIL = "Your sign-in did not give this studio your email address, so it cannot tell who you are."
NOT_VERIFIED = (
    "Your sign-in provider has not verified your email address, so this studio cannot tell it is yours. "
    "Verify it with the provider, then sign in again."
)
#: what ``_signed_in_email`` answers for a sign-in whose email the provider has not verified
UNVERIFIED = "\x00unverified"


@st.cache_resource(show_spinner=False)
def get_studio() -> Studio:
    """One Studio (worker pool, store, client) per process, shared by every browser tab."""
    return open_studio()


def studio_or_stop() -> Studio:
    """The Studio, or a page that explains the configuration problem and stops (no traceback)."""
    try:
        return get_studio()
    except StudioError as exc:
        # a bad STUDIO_BASE_URL may carry ?key=…: never put the key on the page
        st.error(components.escape_md(redact(str(exc))), icon=":material/settings_alert:")
        st.caption("Fix the setting, then restart `studio run`. The variables are listed below.")
        components.env_table()
        st.stop()


# -- who is at the browser ----------------------------------------------------------------------------


def _header_values(headers: Mapping[str, str], name: str) -> list[str]:
    """Every value the request carried for ``name`` (a plain mapping holds one at most)."""
    get_all = getattr(headers, "get_all", None)
    if callable(get_all):
        return [str(value) for value in get_all(name)]
    value = headers.get(name)
    return [] if value is None else [value]


def proxy_email(headers: Mapping[str, str], settings: Settings) -> str | None:
    """The email the authenticating proxy vouches for, or None (signed out). The login header is trusted
    only when the proxy's shared-secret header equals STUDIO_PROXY_SECRET (compared in constant time); with
    no secret configured nobody is trusted. Each of the two headers must arrive exactly once, and the email
    must be one address: a repeated or comma-joined header (a client's value beside the proxy's) is
    signed out, whichever copy comes first."""
    secret = settings.proxy_secret.get() if settings.proxy_secret else ""
    given = _header_values(headers, settings.proxy_secret_header)
    if not secret or len(given) != 1:
        return None
    if not hmac.compare_digest(given[0].encode("utf-8"), secret.encode("utf-8")):
        return None
    emails = _header_values(headers, settings.login_header)
    if len(emails) != 1:
        return None
    email = emails[0].strip()
    if not email or "," in email:
        return None
    return email


def _signed_in_email(settings: Settings) -> str | None:
    """The email the sign-in vouches for: None when signed out, "" when signed in without an email."""
    if settings.login == "oidc":
        if not st.user.is_logged_in:
            return None
        email = st.user.get("email")
        if not email:
            return ""
        verified = st.user.get("email_verified")  # some providers send the claim as the string "true"
        if not (verified is True or (isinstance(verified, str) and verified.lower() == "true")):
            return UNVERIFIED  # an address the provider has not checked could be anyone's
        return str(email).strip()
    if settings.login == "proxy":
        return proxy_email(st.context.headers, settings)
    return None


@dataclass(frozen=True)
class _Member:
    email: str
    actor: Actor
    checked_at: float


def _member(studio: Studio, email: str) -> Actor:
    """``email`` as a member (NotAllowed for a stranger or a disabled person), read from the people table
    at most every RECHECK_S seconds per browser session."""
    ss = st.session_state
    known = ss.get(_MEMBER)
    now = time.monotonic()
    if isinstance(known, _Member) and known.email == email and now - known.checked_at < RECHECK_S:
        return known.actor
    ss.pop(_MEMBER, None)
    actor = studio.sign_in(email)
    ss[_MEMBER] = _Member(email, actor, now)
    return actor


def _session_for(studio: Studio, actor: Actor) -> StudioSession:
    """One StudioSession per browser session and person (a new one when the person or their role changes)."""
    ss = st.session_state
    kept = ss.get(_SESSION)
    if isinstance(kept, tuple) and len(kept) == 3 and kept[0] == id(studio) and kept[1] == actor:
        session: StudioSession = kept[2]
        return session
    session = studio.session(actor)
    ss[_SESSION] = (id(studio), actor, session)
    return session


def current_session() -> StudioSession | None:
    """The session the gate let through on this run (None before it, or when it stopped the page)."""
    kept = st.session_state.get(_SESSION)
    return kept[2] if isinstance(kept, tuple) and len(kept) == 3 else None


def signed_in_session() -> StudioSession:
    """The session the gate let through (for widgets called after it); NotSignedIn before it."""
    session = current_session()
    if session is not None:
        return session
    studio = get_studio()
    if not studio.settings.team_mode:  # without sign-in there is nobody to wait for: the one local person
        return _session_for(studio, Actor.local_person())
    raise NotSignedIn("You are signed out. Sign in to see the studio's work.")


#: Every page's URL (the file names in screens/): a signed-out visitor's link to any of them gets the sign-in
#: page, not Streamlit's "Page not found".
PAGE_URLS = ("generate", "history", "experiment", "edit", "library", "settings", "admin", "start")


def session_or_stop(*, entry: bool = False) -> StudioSession:
    """The signed-in person's studio, or a page that stops: the sign-in page (signed out), one sentence and
    Sign out (signed in at the provider but not a member, or disabled), or the configuration problem.
    ``entry``: called by main.py before ``st.navigation`` (then every page's URL is registered, hidden and
    empty, before the page stops).

    ``STUDIO_LOGIN=none``: the one person on this machine, who may do everything."""
    studio = studio_or_stop()
    settings = studio.settings
    if not settings.team_mode:
        return _session_for(studio, Actor.local_person())

    def stop_with(draw: Callable[[], object]) -> NoReturn:
        _forget()
        if entry:
            _nothing_to_see()
        draw()
        st.stop()
        raise AssertionError("unreachable")  # st.stop() raises

    email = _signed_in_email(settings)
    if email is None:
        stop_with(lambda: sign_in_page(settings, demo=studio.is_demo))
    if not email:
        stop_with(lambda: refused_page(NO_EMAIL, settings))
    if email == UNVERIFIED:
        stop_with(lambda: refused_page(NOT_VERIFIED, settings))
    try:
        actor = _member(studio, email)
        session = _session_for(studio, actor)
        session.access.require_member()  # the services' own re-read (every 30 s) stops the page too
        return session
    except NotSignedIn:
        stop_with(lambda: sign_in_page(settings, demo=studio.is_demo))
    except NotAllowed as exc:
        sentence = str(exc)
        stop_with(lambda: refused_page(sentence, settings))
    except StudioError as exc:  # the database is unreachable, ...: the sentence, never a traceback
        sentence = redact(str(exc))
        stop_with(lambda: st.error(components.escape_md(sentence), icon=":material/error:"))


def _blank() -> None:
    """A page that draws nothing (the gate has drawn what a visitor may see)."""


def _nothing_to_see() -> None:
    """Register every page URL as a hidden, empty page: nothing of the studio is listed or run, and a link to
    any page shows the sign-in page rather than Streamlit's "Page not found"."""
    st.navigation(
        [
            st.Page(_blank, title="Studio", url_path=name, default=index == 0, visibility="hidden")
            for index, name in enumerate(PAGE_URLS)
        ],
        position="hidden",
    )


def lost_membership() -> bool:
    """Whether the person of this browser session may no longer use the studio (disabled, removed, signed
    out): the services said so. A refusal of one action (a reviewer's) is not that."""
    session = current_session()
    if session is None:
        return True
    try:
        session.access.require_member()
    except (NotAllowed, NotSignedIn):
        return True
    return False


def rerun_when_refused(body: Callable[P, None]) -> Callable[P, None]:
    """For a polling fragment: when the services stop the person (an admin disabled them), run the whole
    page again, so the gate shows the sentence instead of an error inside the fragment."""

    @functools.wraps(body)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            body(*args, **kwargs)
        except (NotAllowed, NotSignedIn):
            if not lost_membership():
                raise
            _forget()
            st.rerun(scope="app")

    return run


def forget_member() -> None:
    """Read the person's membership again on the next run (the services stopped them)."""
    _forget()


def _forget() -> None:
    for name in (_MEMBER, _SESSION):
        st.session_state.pop(name, None)


# -- the pages a visitor sees before the studio --------------------------------------------------------


def sign_in_page(settings: Settings, *, demo: bool) -> None:
    """The studio's name and one button: nothing of the team's work."""
    st.container(height=48, border=False)
    _, middle, _ = st.columns([2, 1.6, 2])
    with middle, st.container(border=True, key="signin_card"):
        st.title("Studio", anchor=False)
        st.caption("Gemini image studio. Sign in with your team account to see the team's work.")
        if demo:
            st.badge("Demo: images are made locally", icon=":material/science:", color="orange")
        if settings.login == "oidc":
            if st.button("Sign in", type="primary", icon=":material/login:", key="signin", width="stretch"):
                try:
                    st.login()
                except Exception:  # noqa: BLE001 - Streamlit's auth errors name its internals
                    st.error(
                        "Sign-in is not set up on this server: start it with `studio run` and the "
                        "STUDIO_OIDC_* variables set.",
                        icon=":material/error:",
                    )
        else:
            st.write("Sign in through your team's sign-in page to open this studio.")
            if settings.public_url:
                st.link_button("Open the studio", settings.public_url, icon=":material/login:")


def refused_page(sentence: str, settings: Settings) -> None:
    """Signed in at the provider, but not let in: the sentence and Sign out, nothing else."""
    st.container(height=48, border=False)
    _, middle, _ = st.columns([2, 1.6, 2])
    with middle, st.container(border=True, key="signin_card"):
        st.title("Studio", anchor=False)
        st.write(components.escape_md(sentence))
        sign_out_button(settings, key="signin_out")


def sign_out_button(settings: Settings, *, key: str) -> None:
    """Sign out (st.logout) with sign-in at a provider; a proxy signs people out itself."""
    if settings.login == "oidc":
        if st.button("Sign out", icon=":material/logout:", key=key):
            _forget()
            st.logout()
