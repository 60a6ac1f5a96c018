"""Sharing a collection: with people or the whole team, to view or to review; and client links (how many
days, feedback allowed, prompts included) whose URL is shown once, listed after, and revoked here."""

from __future__ import annotations

import streamlit as st

from studio.app.widgets import components
from studio.domain.errors import StudioError
from studio.domain.people import WHOLE_TEAM
from studio.domain.review import inert_markdown
from studio.services.session import StudioSession

ACCESS = {"view": "Can view", "review": "Can review"}
_MADE = "share_link_made"  # (collection id, url, expires): the URL is shown once, right after it is made
_SAID = "share_said"


def _say(text: str, level: str = "success") -> None:
    st.session_state[_SAID] = (level, text)


def _share(studio: StudioSession, cid: int) -> None:
    whole = st.session_state.get("share_whole_team")
    who = WHOLE_TEAM if whole else (st.session_state.get("share_email") or "").strip()
    if not who:
        _say("Type the email of the person to share with, or choose the whole team.", "error")
        return
    access = st.session_state.get("share_access") or "view"
    try:
        studio.organise.share_collection(cid, who, access)
    except StudioError as exc:
        _say(str(exc), "error")
        return
    st.session_state["share_email"] = ""
    name = "the whole team" if who == WHOLE_TEAM else who
    _say(f"Shared with {name}: {ACCESS[access].lower()}.")


def _unshare(studio: StudioSession, cid: int, who: str) -> None:
    try:
        studio.organise.unshare_collection(cid, who)
    except StudioError as exc:
        _say(str(exc), "error")


def _make_link(studio: StudioSession, cid: int) -> None:
    try:
        link = studio.links.create(
            cid,
            days=int(st.session_state.get("share_days") or 14),
            feedback=bool(st.session_state.get("share_feedback")),
            include_prompts=bool(st.session_state.get("share_prompts")),
        )
    except StudioError as exc:
        _say(str(exc), "error")
        return
    st.session_state[_MADE] = (cid, link.url, link.expires)


def _revoke(studio: StudioSession, link_id: int) -> None:
    try:
        gone = studio.links.revoke_id(link_id)
    except StudioError as exc:
        _say(str(exc), "error")
        return
    made = st.session_state.get(_MADE)
    _say("The link no longer works." if gone else "That link had already stopped working.")
    if made is not None:
        st.session_state.pop(_MADE, None)


OPEN = "share_open"  # the collection whose dialog is open (kept across the page's full reruns)


def close() -> None:
    st.session_state.pop(OPEN, None)
    st.session_state.pop(_MADE, None)


def open_for(cid: int) -> None:
    st.session_state[OPEN] = cid


def keep_open(studio: StudioSession, cid: int, name: str) -> None:
    """Draw the dialog while it is open for ``cid`` (a button opens it; closing it forgets it)."""
    if st.session_state.get(OPEN) == cid:
        dialog(studio, cid, name)


@st.dialog("Share collection", width="large", on_dismiss=close)
def dialog(studio: StudioSession, cid: int, name: str) -> None:
    st.markdown(f"**{components.escape_md(name)}**")
    said = st.session_state.pop(_SAID, None)
    if said:
        (st.success if said[0] == "success" else st.error)(components.escape_md(said[1]))
    people(studio, cid)
    st.divider()
    client_links(studio, cid)


def people(studio: StudioSession, cid: int) -> None:
    st.markdown("**People**")
    if not studio.settings.team_mode:
        st.caption(
            "Sharing with people is for team studios (STUDIO_LOGIN=oidc or proxy); client links work here too."
        )
        return
    try:
        shares = studio.organise.shares(cid)
    except StudioError as exc:
        st.caption(components.escape_md(str(exc)))
        return
    for share in shares:
        with st.container(horizontal=True, vertical_alignment="center", gap="small"):
            st.text("The whole team" if share.email == WHOLE_TEAM else share.email)
            st.caption(ACCESS.get(share.access, share.access))
            st.button(
                "Stop sharing",
                key=f"share_rm_{share.email}",
                icon=":material/close:",
                type="tertiary",
                on_click=_unshare,
                args=(studio, cid, share.email),
            )
    if not shares:
        st.caption("Not shared with anyone yet.")
    whole = st.toggle("The whole team", key="share_whole_team")
    email, access, go = st.columns([3, 2, 1], vertical_alignment="bottom")
    email.text_input("Email", key="share_email", placeholder="rev@studio.test", disabled=whole)
    access.selectbox("Access", list(ACCESS), key="share_access", format_func=ACCESS.__getitem__)
    go.button(
        "Share",
        key="share_go",
        type="primary",
        icon=":material/person_add:",
        on_click=_share,
        args=(studio, cid),
        width="stretch",
    )


def client_links(studio: StudioSession, cid: int) -> None:
    st.markdown("**Client link**")
    st.caption(
        "Anyone with the link sees this collection's images (and downloads them) without signing in; "
        "nothing else of the studio."
    )
    days, feedback, prompts = st.columns(3, vertical_alignment="bottom")
    days.number_input("Valid for (days)", min_value=1, max_value=365, value=14, step=1, key="share_days")
    feedback.toggle(
        "Allow feedback",
        key="share_feedback",
        help="Visitors may approve and comment under a name they type.",
    )
    prompts.toggle("Include prompts", key="share_prompts")
    st.button(
        "Create link", key="share_link_go", icon=":material/link:", on_click=_make_link, args=(studio, cid)
    )
    made = st.session_state.get(_MADE)
    if made is not None and made[0] == cid:
        st.caption(
            f"Send this link (valid until {made[2][:16].replace('T', ' ')} UTC). It is shown only now."
        )
        st.code(made[1], language=None)
    try:
        links = studio.links.links(cid)
    except StudioError as exc:
        st.caption(components.escape_md(str(exc)))
        return
    for link in links:
        with st.container(horizontal=True, vertical_alignment="center", gap="small"):
            kind = ", ".join(
                part for part, on in (("feedback", link.feedback), ("prompts", link.include_prompts)) if on
            )
            st.caption(
                f"Link by {inert_markdown(link.created_by or 'this machine')} · until {link.expires[:10]}"
                + (f" · {kind}" if kind else "")
                + f" · {link.state}"
            )
            if link.state == "active":
                st.button(
                    "Revoke",
                    key=f"share_revoke_{link.id}",
                    icon=":material/link_off:",
                    type="tertiary",
                    on_click=_revoke,
                    args=(studio, link.id),
                )
