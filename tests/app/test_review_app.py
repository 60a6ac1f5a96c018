"""Gallery review in the app (AppTest of the real app, a real Studio on the real emulator and SQLite): the
lightbox's review panel, tile badges, the decision filter, collection counts, the queues, "Make the next
version", and the client link page (which shows one collection and nothing else of the studio)."""

from __future__ import annotations

import json

import pytest

from studio.domain.requests import GenerationRequest
from studio.services.accounts import operator_people
from studio.services.studio import Studio

from .helpers import all_text, walk
from .history_helpers import shown, tiles
from .test_signin_gate import _team_settings

MODEL = "gemini-2.5-flash-image"
PROMPTS = ("a red kite over the dunes", "a blue door in a white wall", "a green lamp on a desk")
OTHER = "a secret board nobody was sent"
INVALID = "This link is not valid"
ANN, REV, DEE = "ann@studio.test", "rev@studio.test", "dee@studio.test"


def _component(at, name: str) -> list[dict]:
    return [
        json.loads(node.proto.json)
        for node in walk(at._tree)
        if type(getattr(node, "proto", None)).__name__ == "BidiComponent"
        and node.proto.component_name == name
    ]


@pytest.fixture
def board(studio):
    """Three generations in the collection "Kites", one more in "Other" (local studio, no sign-in)."""
    ids = [i for p in PROMPTS for i in studio.submit(GenerationRequest(prompt=p, model=MODEL))]
    other = studio.submit(GenerationRequest(prompt=OTHER, model=MODEL))
    studio.wait(ids + other, timeout=30)
    cid = studio.organise.create_collection("Kites")
    studio.organise.add_to_collection(ids, cid)
    hidden = studio.organise.create_collection("Other")
    studio.organise.add_to_collection(other, hidden)
    return studio, ids, cid


def _history(make_app, studio, **params):
    at = make_app(studio)
    for name, value in params.items():
        at.query_params[name] = str(value)
    at.switch_page("screens/history.py").run()
    assert not at.exception, at.exception
    return at


def test_decisions_show_on_tiles_filter_history_and_count_per_collection(make_app, board):
    studio, ids, cid = board
    at = _history(make_app, studio, id=ids[0], coll=cid)
    at.button(key="hist_decide_approved").click().run()
    assert not at.exception
    assert studio.get(ids[0]).review_status == "approved"
    assert "Approved" in all_text(at) and "by local" in all_text(at).replace("\\", "")
    studio.review.decide(ids[1], "changes")
    at = _history(make_app, studio, coll=cid)
    by_id = {t["id"]: t["review"] for t in tiles(at)}
    assert by_id[ids[0]] == "approved" and by_id[ids[1]] == "changes" and by_id[ids[2]] == ""
    assert "1 approved · 1 changes requested · 1 open" in all_text(at)
    at = _history(make_app, studio, review="approved")
    assert shown(at) == [PROMPTS[0]]
    at = _history(make_app, studio, review="open", coll=cid)
    assert shown(at) == [PROMPTS[2]]
    at.multiselect(key="hist_review").set_value(["changes"]).run()
    assert at.query_params["review"] in ("changes", ["changes"]) and shown(at) == [PROMPTS[1]]


def test_a_garbled_decision_in_the_url_is_dropped_with_a_sentence(make_app, board):
    studio, _ids, _cid = board
    at = _history(make_app, studio, review="maybe")
    assert "is not one of approved, changes, rejected or open" in all_text(at)
    assert len(shown(at)) == 4


def test_comments_render_inert_and_pins_are_numbered_markers(make_app, board):
    studio, ids, _cid = board
    studio.review.comment(ids[0], "Crop the **kite** tighter", pin={"x": 0.1, "y": 0.2, "w": 0.3, "h": 0.4})
    at = _history(make_app, studio, id=ids[0])
    at.text_area(key=f"hist_comment_{ids[0]}").input(
        '<script>alert("x")</script> see [here](https://evil.test/x) and <a href="https://evil.test">a</a>'
    ).run()
    at.button(key=f"hist_comment_send_{ids[0]}").click().run()
    assert not at.exception
    [pin] = _component(at, "studio_pin")
    assert pin["markers"] == [
        {"x": 0.1, "y": 0.2, "w": 0.3, "h": 0.4, "n": 1, "done": False, "title": "1: local"}
    ]
    bodies = [m.value for m in at.markdown if "evil" in m.value]
    assert bodies, "the comment is on the page"
    for body in bodies:
        assert "<script>" not in body and "<a " not in body and "](https" not in body
        assert "&lt;script&gt;" in body
    assert any("Crop the **kite** tighter" in m.value for m in at.markdown)


def test_make_the_next_version_opens_edit_and_links_the_new_version(make_app, board):
    studio, ids, cid = board
    studio.review.decide(ids[1], "changes")
    made = studio.review.comment(ids[1], "Make the door green", pin={"x": 0.4, "y": 0.3, "w": 0.2, "h": 0.5})
    at = _history(make_app, studio, id=ids[1], coll=cid)
    at.button(key=f"hist_next_{made.id}").click().run()
    assert not at.exception
    assert at.text_area(key="edit_first").value == "Make the door green"
    assert at.image, "the annotation reference is shown"
    at.switch_page("screens/edit.py")  # AppTest follows st.switch_page for one run only
    at.button(key="edit_start").click().run()
    assert not at.exception
    comment = next(c for c in studio.review.comments(ids[1]) if c.id == made.id)
    assert comment.version_id is not None
    new = comment.version_id
    studio.wait([new], timeout=30)
    assert cid in studio.get(new).collections
    at = _history(make_app, studio, id=ids[1], coll=cid)
    assert f"Next version: #{new}" in all_text(at)
    assert _component(at, "studio_before_after") or at.expander, "a before/after view"


def _link_page(make_app, studio, token: str):
    at = make_app(studio)
    at.query_params["link"] = token
    at.run()
    assert not at.exception, at.exception
    return at


def test_a_client_link_shows_only_its_collection_and_no_prompts(make_app, board):
    studio, ids, cid = board
    studio.review.decide(ids[0], "approved")
    link = studio.links.create(cid)
    at = _link_page(make_app, studio, link.token)
    text = all_text(at)
    assert at.title[0].value == "Kites"
    assert "1 approved · 2 open" in text
    assert len(at.image) == 3
    assert not at.sidebar.children
    for prompt in (*PROMPTS, OTHER):
        assert prompt not in text
    assert "Other" not in text and "History" not in text
    assert not at.button  # a view link: nothing to press


def test_a_client_link_with_prompts_shows_them(make_app, board):
    studio, _ids, cid = board
    at = _link_page(make_app, studio, studio.links.create(cid, include_prompts=True).token)
    assert set(PROMPTS) <= {t.value for t in at.text}


@pytest.mark.parametrize("how", ["tampered", "revoked", "missing"])
def test_a_bad_link_shows_the_sentence_and_nothing_else(make_app, board, how):
    studio, _ids, cid = board
    link = studio.links.create(cid)
    token = link.token
    if how == "tampered":
        token = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    elif how == "revoked":
        assert studio.links.revoke(link.url)
    else:
        token = ""
    at = _link_page(make_app, studio, token)
    text = all_text(at)
    assert INVALID in text
    assert not at.sidebar.children and not at.image and not at.button and not at.title
    assert "Kites" not in text
    for prompt in (*PROMPTS, OTHER):
        assert prompt not in text


def test_a_feedback_guest_approves_and_comments_under_their_name(make_app, board):
    studio, ids, cid = board
    at = _link_page(make_app, studio, studio.links.create(cid, feedback=True).token)
    at.button(key=f"link_decide_{ids[2]}_approved").click().run()
    assert "Type your name" in all_text(at)
    assert studio.get(ids[2]).review_status is None
    at.text_input(key="guest_name").input("Cleo").run()
    at.button(key=f"link_decide_{ids[2]}_approved").click().run()
    assert not at.exception
    assert studio.get(ids[2]).review_status == "approved"
    assert studio.review.decisions(ids[2])[-1].by == "guest:Cleo"
    at.text_area(key=f"guest_comment_{ids[2]}").input("Love it <b>really</b>").run()
    at.button(key=f"link_comment_{ids[2]}").click().run()
    assert [c.author for c in studio.review.comments(ids[2])] == ["guest:Cleo"]
    assert any("&lt;b&gt;really" in m.value for m in at.markdown)


def test_the_share_dialog_makes_and_revokes_a_client_link(make_app, board):
    studio, _ids, cid = board
    at = _history(make_app, studio, coll=cid)
    at.button(key="hist_share").click().run()
    assert not at.exception
    at.toggle(key="share_feedback").set_value(True).run()
    at.button(key="share_link_go").click().run()
    assert not at.exception
    url = next(c.value for c in at.code if "?link=" in c.value)
    token = url.split("?link=", 1)[1]
    assert studio.links.open(token).feedback
    [info] = studio.links.links(cid)
    at.button(key=f"share_revoke_{info.id}").click().run()
    assert studio.links.links(cid)[0].state == "revoked"


@pytest.fixture
def team_review(studio_env):
    """A team studio: dee (designer) made two images in "Moodboard", shared with rev (reviewer) for review."""
    settings = _team_settings("oidc")
    people = operator_people(settings)
    try:
        people.add(ANN, role="admin")
        people.add(REV, role="reviewer")
        people.add(DEE, role="designer")
    finally:
        people.close()
    studio = Studio(settings)
    dee = studio.session(studio.sign_in(DEE))
    ids = [i for p in PROMPTS[:2] for i in dee.submit(GenerationRequest(prompt=p, model=MODEL))]
    dee.wait(ids, timeout=30)
    cid = dee.organise.create_collection("Moodboard")
    dee.organise.add_to_collection(ids, cid)
    dee.organise.share_collection(cid, REV, "review")
    yield studio, ids, cid, dee
    studio.close()


def _as(make_app, studio, email: str, **params):
    at = make_app(studio)
    at.user = {"is_logged_in": True, "email": email, "email_verified": True}
    for name, value in params.items():
        at.query_params[name] = str(value)
    at.switch_page("screens/history.py").run()
    assert not at.exception, at.exception
    return at


def _links(at) -> list[str]:
    return [
        node.proto.label
        for node in walk(at._tree)
        if type(getattr(node, "proto", None)).__name__ == "PageLink"
    ]


def test_queues_count_and_open_and_reading_clears_the_unread_count(make_app, team_review):
    studio, ids, cid, dee = team_review
    at = _as(make_app, studio, REV)
    assert "Waiting for my review (2)" in _links(at)
    at = _as(make_app, studio, REV, queue="waiting")
    assert "Waiting for my review" in all_text(at) and PROMPTS[0][:20] in all_text(at)
    at = _as(make_app, studio, REV, id=ids[0], coll=cid)
    at.button(key="hist_decide_approved").click().run()
    at.text_area(key=f"hist_comment_{ids[0]}").input("Lovely, @dee").run()
    at.button(key=f"hist_comment_send_{ids[0]}").click().run()
    assert not at.exception
    assert "Waiting for my review (1)" in _links(at)
    at = _as(make_app, studio, DEE)
    assert "Feedback on my work (1)" in _links(at)
    at = _as(make_app, studio, DEE, queue="feedback")
    assert "Lovely" in all_text(at)
    at.button(key=f"queue_open_cmt_{dee.review.comments(ids[0])[0].id}").click().run()
    assert not at.exception
    assert "Feedback on my work (0)" in _links(at)


def test_a_view_only_reviewer_is_told_and_nothing_changes(make_app, team_review):
    studio, ids, cid, dee = team_review
    dee.organise.share_collection(cid, REV, "view")
    at = _as(make_app, studio, REV, id=ids[0], coll=cid)
    at.button(key="hist_decide_approved").click().run()
    assert not at.exception
    assert dee.get(ids[0]).review_status is None
    assert "review" in all_text(at).lower()


def test_a_designer_can_mention_any_member_not_only_the_conversation(make_app, team_review):
    """The @mention suggestions list every enabled member for any member (the admin-only people list had
    left a designer with only the people already in the conversation)."""
    studio, ids, _cid, _dee = team_review
    at = _as(make_app, studio, DEE, id=ids[0])
    options = at.selectbox(key=f"hist_mention_{ids[0]}").options
    assert set(options) == {ANN, REV}  # neither has written here yet; not oneself
