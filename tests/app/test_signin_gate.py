"""The sign-in gate (``resources.session_or_stop``) in each mode, with AppTest of the real app.

A real Studio against the real emulator and a real SQLite file; the people are made with the operator's
``PeopleService`` (what ``studio users add`` does). ``at.user`` is what Streamlit's ``st.user`` reads after a
sign-in at the provider (the Chromium tests do the real round trip against oidc-provider-mock).
"""

from __future__ import annotations

import os

import pytest

from studio.app import resources
from studio.domain.errors import NotAllowed
from studio.domain.people import Actor
from studio.domain.requests import GenerationRequest
from studio.domain.settings import Settings, load_settings
from studio.services.accounts import operator_people
from studio.services.studio import Studio

from .helpers import all_text
from .history_helpers import shown

ANN, REV, DEE, ZED = "ann@studio.test", "rev@studio.test", "dee@studio.test", "zed@elsewhere.test"
SECRET_PROMPT = "a teal teapot on the team's secret moodboard"
DEE_PROMPT = "dee's own lighthouse at dusk"
MODEL = "gemini-2.5-flash-image"


def _team_settings(login: str, **extra: str) -> Settings:
    env = {
        "STUDIO_LOGIN": login,
        "STUDIO_OIDC_ISSUER": "http://127.0.0.1:9/",
        "STUDIO_OIDC_CLIENT_ID": "studio",
        "STUDIO_OIDC_CLIENT_SECRET": "s",
        "STUDIO_PUBLIC_URL": "http://127.0.0.1:8501",
        "STUDIO_COOKIE_SECRET": "c" * 32,
        **extra,
    }
    return load_settings({**os.environ, **env})


@pytest.fixture
def team(studio_env):
    """A team studio (sign-in on) with ann (admin, $20 budget), rev (reviewer) and dee (designer); ann and
    dee have each made a generation."""
    settings = _team_settings("oidc")
    people = operator_people(settings)
    try:
        people.add(ANN, role="admin", budget_usd=20)
        people.add(REV, role="reviewer")
        people.add(DEE, role="designer")
    finally:
        people.close()
    studio = Studio(settings)
    ann = studio.session(studio.sign_in(ANN))
    dee = studio.session(studio.sign_in(DEE))
    ids = ann.submit(GenerationRequest(prompt=SECRET_PROMPT, model=MODEL)) + dee.submit(
        GenerationRequest(prompt=DEE_PROMPT, model=MODEL)
    )
    ann.wait(ids, timeout=30)
    yield studio
    studio.close()


def _signed_in(make_app, studio, email: str | None):
    at = make_app(studio)
    at.user = {
        "is_logged_in": email is not None,
        **({"email": email, "email_verified": True} if email else {}),
    }
    return at.run()


def _said(at) -> str:
    """The page's text as read (Markdown escapes taken out)."""
    return all_text(at).replace("\\", "")


def _nothing_of_the_team(at) -> None:
    text = all_text(at)
    assert SECRET_PROMPT not in text and DEE_PROMPT not in text
    assert not at.sidebar.children  # no navigation, nothing in the sidebar
    assert not at.text_area and not at.image


def test_signed_out_sees_the_studio_name_and_one_button(make_app, team):
    at = _signed_in(make_app, team, None)
    assert not at.exception, at.exception
    assert [b.label for b in at.button] == ["Sign in"]
    assert at.title[0].value == "Studio"
    _nothing_of_the_team(at)


def test_signed_out_on_a_page_link_sees_the_same(make_app, team):
    at = make_app(team)
    at.user = {"is_logged_in": False}
    at.switch_page("screens/history.py").run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in"]
    _nothing_of_the_team(at)


def test_a_stranger_sees_one_sentence_and_sign_out(make_app, team):
    at = _signed_in(make_app, team, ZED)
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign out"]
    assert f"{ZED} is not a member of this studio" in _said(at)
    _nothing_of_the_team(at)


@pytest.mark.parametrize("verified", [None, False, "false"])
def test_a_member_whose_email_the_provider_has_not_verified_is_refused(make_app, team, verified):
    at = make_app(team)
    at.user = {
        "is_logged_in": True,
        "email": DEE,
        **({} if verified is None else {"email_verified": verified}),
    }
    at.run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign out"]
    assert "has not verified your email address" in _said(at)
    _nothing_of_the_team(at)
    assert resources.current_session() is None


def test_a_member_sees_the_teams_work_and_who_is_signed_in(make_app, team):
    at = _signed_in(make_app, team, DEE)
    assert not at.exception
    assert at.text_area(key="gen_prompt") is not None  # Generate is the first page
    sidebar = " ".join(t.value for t in at.sidebar.text)
    assert DEE in sidebar and "designer" in sidebar
    assert at.sidebar.button(key="sidebar_sign_out").label == "Sign out"
    at.switch_page("screens/history.py").run()
    assert not at.exception
    assert set(shown(at)) == {SECRET_PROMPT, DEE_PROMPT}


def test_mine_shows_only_the_signed_in_persons_work(make_app, team):
    at = make_app(team)
    at.user = {"is_logged_in": True, "email": DEE, "email_verified": True}
    at.query_params["mine"] = "1"
    at.switch_page("screens/history.py").run()
    assert not at.exception
    assert shown(at) == [DEE_PROMPT]
    at.segmented_control(key="hist_mine").set_value(False).run()
    assert set(shown(at)) == {SECRET_PROMPT, DEE_PROMPT}
    assert "mine" not in at.query_params


def test_a_reviewer_has_no_generate_page(make_app, team):
    at = _signed_in(make_app, team, REV)
    assert not at.exception
    assert not _has(at, "gen_prompt")
    assert at.title[0].value == "History"  # the first page a reviewer gets
    with pytest.raises(ValueError, match="Known pages"):  # Generate, Edit, Experiment are not there at all
        at.switch_page("screens/generate.py")


def _has(at, key: str) -> bool:
    try:
        return at.text_area(key=key) is not None
    except KeyError:
        try:
            return at.button(key=key) is not None
        except KeyError:
            return False


def test_a_disabled_person_is_stopped_at_the_next_recheck(make_app, team, monkeypatch):
    at = _signed_in(make_app, team, DEE)
    assert _has(at, "gen_prompt")
    admin = team.session(team.sign_in(ANN))
    admin.people.set(DEE, disabled=True)
    monkeypatch.setattr(resources, "RECHECK_S", 0.0)  # the next run reads the person again
    at.run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign out"]
    assert "disabled" in _said(at)
    _nothing_of_the_team(at)


def test_the_budget_line_is_beside_generate(make_app, team):
    at = _signed_in(make_app, team, ANN)
    captions = " ".join(c.value for c in at.caption).replace("\\", "")
    assert "$0.04 of $20.00 used this month" in captions, captions


def test_an_admin_gets_the_admin_page(make_app, team):
    at = _signed_in(make_app, team, ANN)
    at.switch_page("screens/admin.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Admin"
    text = _said(at)
    assert REV in text and DEE in text


def test_proxy_mode_without_the_proxys_headers_is_signed_out(make_app, studio_env):
    studio = Studio(_team_settings("proxy", STUDIO_PROXY_SECRET="p" * 24))
    try:
        at = make_app(studio).run()  # AppTest sends no headers: nobody vouches for the visitor
        assert not at.exception
        assert not at.button  # a proxy signs people in: no button here
        assert "Sign in through your team's sign-in page" in _said(at)
        assert not at.text_area
    finally:
        studio.close()


def test_without_sign_in_everything_is_as_before(make_app, studio):
    at = make_app(studio).run()
    assert not at.exception
    assert at.text_area(key="gen_prompt") is not None
    assert not any(b.key == "sidebar_sign_out" for b in at.sidebar.button)
    session = resources.current_session()
    assert session is None or session.actor == Actor.local_person()


# -- the proxy's header, trusted only with the shared secret ------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-Forwarded-Email": ANN, "X-Studio-Proxy-Secret": "p" * 24}, ANN),
        ({"x-forwarded-email": ANN, "x-studio-proxy-secret": "p" * 24}, ANN),
        ({"X-Forwarded-Email": ANN}, None),  # no secret: anyone could have sent the header
        ({"X-Forwarded-Email": ANN, "X-Studio-Proxy-Secret": "wrong"}, None),
        ({"X-Forwarded-Email": ANN, "X-Studio-Proxy-Secret": "p" * 23 + "é"}, None),
        ({"X-Studio-Proxy-Secret": "p" * 24}, None),  # the proxy vouches for nobody
    ],
)
def test_the_proxy_header_needs_the_shared_secret(headers, expected):
    from streamlit.runtime.context import StreamlitHeaders

    settings = _team_settings("proxy", STUDIO_PROXY_SECRET="p" * 24)
    assert resources.proxy_email(StreamlitHeaders(headers.items()), settings) == expected


GOOD = ("X-Studio-Proxy-Secret", "p" * 24)


@pytest.mark.parametrize(
    "pairs",
    [
        # the visitor's own X-Forwarded-Email first, the proxy's appended after it
        [("X-Forwarded-Email", ZED), ("X-Forwarded-Email", ANN), GOOD],
        [("X-Forwarded-Email", ANN), ("x-forwarded-email", ZED), GOOD],
        [("X-Forwarded-Email", f"{ZED}, {ANN}"), GOOD],  # a proxy that joins the values with a comma
        [("X-Forwarded-Email", ANN), GOOD, ("X-Studio-Proxy-Secret", "guess")],
        [("X-Forwarded-Email", ANN), ("X-Studio-Proxy-Secret", "guess"), GOOD],
        [("X-Forwarded-Email", ANN), GOOD, GOOD],
    ],
)
def test_a_repeated_proxy_header_is_signed_out(pairs):
    from streamlit.runtime.context import StreamlitHeaders

    settings = _team_settings("proxy", STUDIO_PROXY_SECRET="p" * 24)
    assert resources.proxy_email(StreamlitHeaders([("X-Forwarded-Email", ANN), GOOD]), settings) == ANN
    assert resources.proxy_email(StreamlitHeaders(pairs), settings) is None


def test_without_a_configured_secret_no_header_is_trusted():
    settings = _team_settings("proxy")
    assert resources.proxy_email({"X-Forwarded-Email": ANN, "X-Studio-Proxy-Secret": ""}, settings) is None


# -- the Admin page and the private toggle, through the real services ---------------------------------


def _admin_page(make_app, studio):
    at = make_app(studio)
    at.user = {"is_logged_in": True, "email": ANN, "email_verified": True}
    at.run()
    at.switch_page("screens/admin.py").run()
    assert not at.exception, at.exception
    return at


def test_an_admin_adds_a_person(make_app, team):
    at = _admin_page(make_app, team)
    at.text_input(key="adm_add_email").input("New.Person@Studio.test")
    at.selectbox(key="adm_add_role").set_value("reviewer")
    at.number_input(key="adm_add_budget").set_value(12.5)
    at.button(key="adm_add").click().run()
    assert not at.exception
    assert "new.person@studio.test can now sign in as a reviewer" in " ".join(
        s.value for s in at.success
    ).replace("\\", "")
    admin = team.session(team.sign_in(ANN))
    person = admin.people.get("new.person@studio.test")
    assert person is not None and person.role == "reviewer" and person.budget_usd == 12.5
    assert any(r.action == "users.add" and r.actor == ANN for r in admin.people.activity())


def test_a_bad_address_is_a_sentence(make_app, team):
    at = _admin_page(make_app, team)
    at.text_input(key="adm_add_email").input("not an address")
    at.button(key="adm_add").click().run()
    assert not at.exception
    assert "is not an email address" in " ".join(e.value for e in at.error).replace("\\", "")


def _edit(at, email: str, change: dict) -> None:
    """Change one row of the people editor, as a click in the table does, then Save changes."""
    editor = at.data_editor[0]
    rows = list(editor.value["Email"])
    name = f"adm_people_editor_{at.session_state['adm_people_round'] if 'adm_people_round' in at.session_state else 0}"
    at.session_state[name] = {
        "edited_rows": {rows.index(email): change},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.button(key="adm_save").click().run()
    assert not at.exception, at.exception


def test_an_admin_disables_a_person_and_changes_a_role(make_app, team):
    at = _admin_page(make_app, team)
    _edit(at, DEE, {"Enabled": False, "Role": "reviewer"})
    admin = team.session(team.sign_in(ANN))
    person = admin.people.get(DEE)
    assert person is not None and person.disabled and person.role == "reviewer"
    with pytest.raises(NotAllowed):
        team.sign_in(DEE)


def test_the_last_admin_cannot_demote_themselves(make_app, team):
    at = _admin_page(make_app, team)
    _edit(at, ANN, {"Role": "designer"})
    assert at.error and "admin" in at.error[0].value
    assert team.session(team.sign_in(ANN)).people.get(ANN).role == "admin"


def test_a_designer_has_no_admin_page(make_app, team):
    at = _signed_in(make_app, team, DEE)
    with pytest.raises(ValueError, match="Known pages"):
        at.switch_page("screens/admin.py")


def test_the_author_makes_a_generation_private_and_other_designers_stop_seeing_it(make_app, team):
    dee = team.session(team.sign_in(DEE))
    (mine,) = [r.id for r in dee.history(limit=10) if r.prompt == DEE_PROMPT]
    at = make_app(team)
    at.user = {"is_logged_in": True, "email": DEE, "email_verified": True}
    at.query_params["id"] = str(mine)
    at.switch_page("screens/history.py").run()
    assert not at.exception
    assert f"By **{DEE}**" in " ".join(c.value for c in at.caption).replace("\\", "")
    at.toggle(key=f"hist_private_{mine}").set_value(True).run()
    assert not at.exception
    assert dee.get(mine).private

    admin = team.session(team.sign_in(ANN))
    admin.people.add("eve@studio.test", role="designer")
    eve = _signed_in(make_app, team, "eve@studio.test")
    eve.switch_page("screens/history.py").run()
    assert shown(eve) == [SECRET_PROMPT]  # dee's private generation is not there
    ann = _signed_in(make_app, team, ANN)
    ann.switch_page("screens/history.py").run()
    assert set(shown(ann)) == {SECRET_PROMPT, DEE_PROMPT}  # admins see private work


def test_only_the_author_or_an_admin_may_flip_private(make_app, team):
    admin = team.session(team.sign_in(ANN))
    (ann_id,) = [r.id for r in admin.history(limit=10) if r.prompt == SECRET_PROMPT]
    at = make_app(team)
    at.user = {"is_logged_in": True, "email": DEE, "email_verified": True}
    at.query_params["id"] = str(ann_id)
    at.switch_page("screens/history.py").run()
    assert at.toggle(key=f"hist_private_{ann_id}").disabled


def test_a_person_disabled_between_two_gate_checks_is_stopped_by_the_services(make_app, team):
    """The gate trusts its last check for 30 s; the services re-read the person themselves, and the page
    hands over to the gate when they stop the person (no error, no traceback)."""
    at = _signed_in(make_app, team, DEE)
    assert _has(at, "gen_prompt")
    team.session(team.sign_in(ANN)).people.set(DEE, disabled=True)
    session = at.session_state["studio_session"][2]
    session.access._checked_at = None  # the services' own 30 s are up (the gate's are not)
    at.run()
    assert not at.exception, at.exception
    assert [b.label for b in at.button] == ["Sign out"]
    assert "disabled" in _said(at)
    _nothing_of_the_team(at)


def test_a_designer_generates_privately(make_app, team):
    at = _signed_in(make_app, team, DEE)
    at.toggle(key="gen_private_submit").set_value(True)
    at.text_area(key="gen_prompt").input("a private sketch of a heron")
    at.button(key="gen_submit").click().run()
    assert not at.exception, at.exception
    dee = team.session(team.sign_in(DEE))
    (record,) = [r for r in dee.history(limit=10) if r.prompt == "a private sketch of a heron"]
    assert record.private and record.author == DEE
    admin = team.session(team.sign_in(ANN))
    admin.people.add("eve@studio.test", role="designer")
    eve = team.session(team.sign_in("eve@studio.test"))
    assert eve.get(record.id) is None  # another designer does not see it


def test_a_newcomer_from_an_allowed_domain_joins_as_a_designer(make_app, studio_env):
    settings = _team_settings("oidc", STUDIO_ALLOWED_DOMAINS="studio.test", STUDIO_DEFAULT_BUDGET="7.5")
    people = operator_people(settings)
    try:
        people.add(ANN, role="admin")
    finally:
        people.close()
    studio = Studio(settings)
    try:
        at = _signed_in(make_app, studio, "New@Studio.test")
        assert not at.exception
        assert _has(at, "gen_prompt")  # straight into Generate
        person = studio.session(studio.sign_in(ANN)).people.get("new@studio.test")
        assert person is not None and person.role == "designer" and person.budget_usd == 7.5
        assert person.joined == "domain"
        admin = _admin_page(make_app, studio)
        assert "join as designers when they first sign in (budget $7.50)" in _said(admin)
        stranger = _signed_in(make_app, studio, ZED)  # another domain: not let in
        assert [b.label for b in stranger.button] == ["Sign out"]
    finally:
        studio.close()
