"""Client links on both backends (``backend``): made and revoked by designers, opened by anyone holding the
token (the token is the capability), stored only as a hash, expiring on an injected clock, and a tampered,
expired or revoked link refused with the same one sentence. A link shows one collection and nothing else;
a feedback link's guests decide and comment under a cleaned name."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest

from studio.domain.errors import InputError, LinkInvalid, NotAllowed, NotSignedIn
from studio.domain.people import Actor
from studio.domain.settings import load_settings
from studio.services.access import Access
from studio.services.links import LinkService, token_of
from studio.services.studio import Studio
from tests.service.test_access import DAN, RITA, as_, make, open_team
from tests.stores import db_execute

GUEST = Access(Actor.signed_out())  # a client opening a link: nobody signed in

pytestmark = pytest.mark.usefixtures("backend")

SENTENCE = "This link is not valid: it may have expired or been revoked. Ask whoever sent it for a new one."


@pytest.fixture
def team(monkeypatch):
    t = open_team(monkeypatch, STUDIO_PUBLIC_URL="https://studio.example.test")
    yield t
    t.studio.close()
    t.emulator.stop()


@pytest.fixture
def shared(team):
    """Two collections: the client's (two public images, one private, one trashed) and another."""
    dan = as_(team, DAN)
    shown = [make(dan, "a client teapot"), make(dan, "a client kettle")]
    private = make(dan, "a private sketch", private=True)
    trashed = make(dan, "a discarded cup")
    other = make(dan, "an internal mug")
    cid = dan.organise.create_collection("For the client")
    dan.organise.add_to_collection([*shown, private, trashed], cid)
    dan.organise.trash([trashed])
    secret_board = dan.organise.create_collection("Internal only")
    dan.organise.add_to_collection([other, shown[0]], secret_board)
    return dan, cid, shown, other


def _refused(fn) -> str:
    with pytest.raises(LinkInvalid) as caught:
        fn()
    assert caught.value.kind == "link"
    return caught.value.message


def test_a_link_shows_its_collection_only_and_keeps_only_a_hash(team, shared):
    dan, cid, shown, other = shared
    link = dan.links.create(cid, days=3)
    assert link.url == f"https://studio.example.test/?link={link.token}"
    assert len(link.token) >= 32 and token_of(link.url) == link.token  # 24 random bytes: 192 bits
    assert datetime.fromisoformat(link.expires) - datetime.now(UTC) > timedelta(days=2, hours=23)
    rows = db_execute(team.studio._store, "SELECT * FROM share_link")
    assert len(rows) == 1 and link.token not in repr(rows)
    assert hashlib.sha256(link.token.encode()).hexdigest() in repr(rows)

    view = LinkService(team.studio._store, GUEST).open(link.token)  # signed out: the token alone
    assert view.title == "For the client" and not view.feedback
    assert sorted(i.generation_id for i in view.items) == sorted(shown)  # not private, not trashed
    assert all(i.prompt is None for i in view.items)  # prompts hidden unless included
    assert view.counts.sentence() == "2 open"
    text = repr(view)
    assert "Internal only" not in text and str(other) not in {str(i.generation_id) for i in view.items}
    assert "test-key-123" not in text and team.emulator.url not in text
    assert "collections=" not in text  # no record of the studio's other collections rides along
    sha = view.items[0].images[0].sha256
    assert dan.links.image(link.token, sha, thumb=True)[:2] == b"\xff\xd8"  # its JPEG thumbnail
    assert dan.links.image(link.token, as_(team, DAN).get(other).images[0].sha256) is None

    with_prompts = dan.links.create(cid, include_prompts=True)
    assert {i.prompt for i in dan.links.open(with_prompts.token).items} == {
        "a client teapot",
        "a client kettle",
    }
    listed = dan.links.links(cid)
    assert [x.state for x in listed] == ["active", "active"] and listed[0].include_prompts


def test_tampered_expired_and_revoked_links_say_the_same_sentence(team, shared):
    dan, cid, _shown, _other = shared
    link = dan.links.create(cid, days=1)
    store = team.studio._store
    flipped = link.token[:-1] + ("A" if link.token[-1] != "A" else "B")
    for bad in (flipped, link.token[:-4], "", "x" * 40, "../../etc/passwd", link.token + "="):
        assert _refused(lambda bad=bad: dan.links.open(bad)) == SENTENCE
    later = LinkService(store, GUEST, clock=lambda: datetime.now(UTC) + timedelta(days=1, minutes=1))
    assert _refused(lambda: later.open(link.token)) == SENTENCE  # expired
    assert LinkService(store, GUEST, clock=lambda: datetime.now(UTC) + timedelta(hours=23)).open(link.token)
    assert dan.links.revoke(link.url) is True
    assert _refused(lambda: dan.links.open(link.token)) == SENTENCE  # revoked
    assert dan.links.revoke(link.url) is False and dan.links.revoke("not a link") is False
    assert [x.state for x in dan.links.links(cid)] == ["revoked"]
    assert _refused(lambda: dan.links.guest_decide(link.token, 1, "approved", "Ada")) == SENTENCE
    assert _refused(lambda: dan.links.image(link.token, "0" * 64)) == SENTENCE
    other = dan.links.create(cid)
    assert dan.links.revoke_id(dan.links.links(cid)[0].id) is True
    assert _refused(lambda: dan.links.open(other.token)) == SENTENCE
    # a deleted collection takes its links with it
    third = dan.links.create(cid)
    dan.organise.delete_collection(cid)
    assert _refused(lambda: dan.links.open(third.token)) == SENTENCE


def test_who_may_make_and_revoke_links(team, shared):
    dan, cid, _shown, _other = shared
    with pytest.raises(NotAllowed):
        as_(team, RITA).links.create(cid)
    with pytest.raises(NotSignedIn):
        as_(team, None).links.create(cid)
    for days in (0, 366, -1, True):
        with pytest.raises(InputError, match="between 1 and 365 days"):
            dan.links.create(cid, days=days)
    with pytest.raises(InputError, match="does not exist"):
        dan.links.create(cid + 1000)
    link = dan.links.create(cid)
    with pytest.raises(NotAllowed):
        as_(team, RITA).links.revoke(link.url)
    assert dan.links.open(link.token).title == "For the client"
    log = [(a.actor, a.action) for a in team.studio._store.activity.list(action_prefix="link.")]
    assert log == [(DAN, "link.create")]


def test_feedback_guests_decide_and_comment_under_their_name(team, shared):
    dan, cid, shown, other = shared
    feedback = dan.links.create(cid, feedback=True)
    view_only = dan.links.create(cid)
    links = as_(team, None).links  # what the signed-out page holds: the token is the capability
    made = links.guest_decide(feedback.token, shown[0], "approved", "  Ada <b>Lovelace</b>  ")
    assert made.by == "guest:Ada bLovelace/b" and made.status == "approved"
    assert dan.get(shown[0]).review_status == "approved"
    assert dan.review.decisions(shown[0])[-1].by == "guest:Ada bLovelace/b"
    note = links.guest_comment(
        feedback.token, shown[1], "The **handle** <script>x</script>", "Ada", pin={"x": 0.5, "y": 0.4}
    )
    assert note.author == "guest:Ada" and note.pin is not None and note.collection_id is None
    dan.review.comment(shown[1], "Reply to the client", parent_id=note.id)
    dan.review.comment(shown[1], "Internal: the client is picky")
    item = links.open(feedback.token).item(shown[1])
    assert item is not None
    assert [c.body for c in item.comments] == ["The **handle** <script>x</script>", "Reply to the client"]
    assert links.open(feedback.token).counts.sentence() == "1 approved · 1 open"
    assert dan.review.unread()["feedback"] == 1  # the guest's comment is feedback on Dan's work
    with pytest.raises(NotAllowed, match="for looking only"):
        links.guest_decide(view_only.token, shown[0], "rejected", "Ada")
    with pytest.raises(NotAllowed, match="for looking only"):
        links.guest_comment(view_only.token, shown[0], "hello", "Ada")
    with pytest.raises(InputError, match="not part of this link"):
        links.guest_decide(feedback.token, other, "approved", "Ada")
    with pytest.raises(InputError, match="Type your name"):
        links.guest_decide(feedback.token, shown[0], "approved", " <> ")
    with pytest.raises(InputError, match="A decision is one of"):
        links.guest_decide(feedback.token, shown[0], "love it", "Ada")
    assert links.open(view_only.token).item(shown[1]).comments == ()  # a view link shows no comments
    log = [(a.actor, a.action) for a in team.studio._store.activity.list(action_prefix="review.")]
    assert ("guest:Ada", "review.comment") in log


def test_a_feedback_link_takes_a_bounded_number_of_comments_an_hour(team, shared, monkeypatch):
    """A feedback link is a public form: guests leave at most GUEST_COMMENTS_PER_HOUR comments an hour
    through one collection's links, then get a sentence; the team's own comments are not counted, and an
    hour later the link takes comments again."""
    from studio.services import links as links_module

    monkeypatch.setattr(links_module, "GUEST_COMMENTS_PER_HOUR", 3)
    dan, cid, shown, _other = shared
    first, second = dan.links.create(cid, feedback=True), dan.links.create(cid, feedback=True)
    guests = as_(team, None).links
    for n, token in enumerate((first.token, second.token, first.token)):  # both links count together
        guests.guest_comment(token, shown[0], f"note {n}", "Ada")
    dan.review.comment(shown[0], "the team's own note")
    with pytest.raises(InputError, match="taken 3 comments in the last hour"):
        guests.guest_comment(second.token, shown[1], "one too many", "Bob")
    assert [c.body for c in dan.review.comments(shown[1])] == []
    later = LinkService(
        team.studio._store, GUEST, clock=lambda: datetime.now(UTC) + timedelta(hours=1, minutes=1)
    )
    assert later.guest_comment(first.token, shown[1], "next hour", "Bob").author == "guest:Bob"


def test_without_sign_in_the_one_person_shares_links(monkeypatch, studio_env):
    studio = Studio(load_settings())
    try:
        me = studio.session(Actor.signed_out())
        gen_id = make(me, "a local teapot")
        cid = me.organise.create_collection("Local board")
        me.organise.add_to_collection([gen_id], cid)
        link = studio.links.create(cid, feedback=True)
        assert link.url.startswith("http://localhost:8501/?link=")
        assert [i.generation_id for i in studio.links.open(link.token).items] == [gen_id]
        studio.links.guest_decide(link.token, gen_id, "changes", "Client")
        assert studio.get(gen_id).review_status == "changes"
        assert studio.links.revoke(link.token) is True
    finally:
        studio.close()


def test_a_feedback_link_shows_only_its_own_collection_s_guest_threads(team, shared):
    """shown[0] is in the client's collection and in "Internal only": a guest of a link to the other
    collection never shows on this one, and the team's replies show as "studio", with no email, mention or
    version id."""
    dan, cid, shown, _other = shared
    internal = next(c for c, name, _n in team.studio._store.organise.collections() if name == "Internal only")
    client = dan.links.create(cid, feedback=True)
    elsewhere = dan.links.create(internal, feedback=True)
    links = as_(team, None).links
    mine = links.guest_comment(client.token, shown[0], "Client: warmer please", "Ada")
    links.guest_comment(elsewhere.token, shown[0], "Someone else's link", "Bob")
    reply = dan.review.comment(shown[0], "Sure, @rita will do it", parent_id=mine.id)
    assert reply.mentions == (RITA,)
    new = make(dan, "a warmer teapot")
    dan.review.link_version(mine.id, new)

    [*comments] = links.open(client.token).item(shown[0]).comments
    assert [(c.author, c.body) for c in comments] == [
        ("guest:Ada", "Client: warmer please"),
        ("studio", "Sure, @rita will do it"),
    ]
    assert all(c.collection_id is None and c.mentions == () and c.version_id is None for c in comments)
    text = repr(comments)
    assert DAN not in text and RITA not in text and "Bob" not in text
    [other_side] = links.open(elsewhere.token).item(shown[0]).comments
    assert other_side.author == "guest:Bob"


def test_an_image_through_a_link_costs_the_same_however_big_the_collection(team, shared):
    """Every image the client page shows is fetched through the link: each fetch checks the token and
    that one image, never rebuilding the whole view (which would make a page of N images cost N²)."""
    from sqlalchemy import event

    dan, cid, shown, other = shared
    link = dan.links.create(cid, feedback=True)
    links = as_(team, None).links
    engine = team.studio._store.db.engine
    statements: list[str] = []

    studio_tables = re.compile(r"\b(share_link|asset|generation|collection|collection_item|comment)\b")

    def count(_conn, _cursor, statement, *_args) -> None:
        if studio_tables.search(statement):  # not a new connection's own set-up queries
            statements.append(statement)

    def fetch_cost() -> int:
        sha = links.open(link.token).item(shown[0]).images[0].sha256
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            assert links.image(link.token, sha, thumb=True)[:2] == b"\xff\xd8"
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    small = fetch_cost()
    dan.organise.add_to_collection([make(dan, f"one more teapot {n}") for n in range(6)], cid)
    assert small <= 3, (
        statements
    )  # the token, then the one image: no view rebuilt (no counts, no records loaded)
    assert fetch_cost() == small
    assert not any("group by" in s.lower() for s in statements)  # no collection counted
    other_sha = dan.get(other).images[0].sha256
    assert links.image(link.token, other_sha) is None  # an image of another collection: nothing
    private_sha = dan.get(make(dan, "a private one", private=True)).images[0].sha256
    assert links.image(link.token, private_sha) is None
