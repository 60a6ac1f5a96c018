"""Team access on both backends (``backend``: a real SQLite file, a real PostgreSQL 15 with a bucket), over the
real emulator: who may do what (roles × actions), what each person sees (private generations, collections
shared with reviewers, Mine), who made what (authors, the activity log), and a disabled person stopped
within a minute (an injected clock, no sleeps)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from studio.domain.errors import NotAllowed, NotSignedIn
from studio.domain.people import Actor, Person
from studio.domain.requests import GenerationRequest
from studio.domain.settings import load_settings
from studio.emulator import Emulator
from studio.services.access import RECHECK_S
from studio.services.gallery import GalleryFilter
from studio.services.runs import RunSpec
from studio.services.studio import Studio

pytestmark = pytest.mark.usefixtures("backend")

MODEL = "gemini-2.5-flash-image"
ANN, DAN, EVE, RITA, OFF = (
    "ann@studio.test",
    "dan@studio.test",
    "eve@studio.test",
    "rita@studio.test",
    "off@studio.test",
)


def open_team(monkeypatch: pytest.MonkeyPatch, **env: str) -> SimpleNamespace:
    """A team studio (``STUDIO_LOGIN=proxy``) on its own emulator, with an admin, two designers, a
    reviewer and a disabled designer."""
    emu = Emulator(port=0).start()
    monkeypatch.setenv("STUDIO_BASE_URL", emu.url)
    monkeypatch.setenv("STUDIO_API_KEY", "test-key-123")
    monkeypatch.setenv("STUDIO_AUTH", "bearer")
    monkeypatch.setenv("STUDIO_LOGIN", "proxy")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    studio = Studio(load_settings())
    people = studio._store.people
    for email, role in ((ANN, "admin"), (DAN, "designer"), (EVE, "designer"), (RITA, "reviewer")):
        people.add(Person(email, role), actor="operator")
    people.add(Person(OFF, "designer"), actor="operator")
    people.update(OFF, actor="operator", disabled=True)
    return SimpleNamespace(studio=studio, emulator=emu)


@pytest.fixture
def team(monkeypatch):
    t = open_team(monkeypatch)
    yield t
    t.studio.close()
    t.emulator.stop()


def as_(team: SimpleNamespace, email: str | None, role: str = "designer", **kw):
    """The session of the person ``email`` says (``None``: signed out). The role an actor arrives with is
    only a claim: the people table decides."""
    actor = Actor.signed_out() if email is None else Actor(email, role)
    return team.studio.session(actor, **kw)


def make(session, prompt: str, *, private: bool = False) -> int:
    [record] = session.generate(GenerationRequest(prompt=prompt, model=MODEL), timeout=30, private=private)
    assert record.status == "succeeded", record.error
    return record.id


# -- roles × actions ------------------------------------------------------------------------------


def _generate(s) -> object:
    return make(s, "a matrix teapot")


def _organise(s) -> object:
    return s.organise.create_collection(f"board of {s.actor.email}")


def _admin(s) -> object:
    return s.people.list()


def _read(s) -> object:
    return s.gallery.page()


ACTIONS = {"generate": _generate, "organise": _organise, "admin": _admin, "read": _read}
#: who -> the actions that work (the rest raise the named error)
MATRIX = {
    ANN: ({"generate", "organise", "admin", "read"}, NotAllowed),
    DAN: ({"generate", "organise", "read"}, NotAllowed),
    RITA: ({"read"}, NotAllowed),
    OFF: (set(), NotAllowed),  # disabled
    "stranger@elsewhere.test": (set(), NotAllowed),
    None: (set(), NotSignedIn),
}


def test_roles_times_actions(team):
    for who, (allowed, refusal) in MATRIX.items():
        session = as_(team, who, role="admin")  # claiming admin changes nothing: the row decides
        for name, action in ACTIONS.items():
            if name in allowed:
                action(session)
            else:
                with pytest.raises(refusal) as caught:
                    action(session)
                assert caught.value.message.endswith(".") and "Traceback" not in caught.value.message
    rita = as_(team, RITA)
    with pytest.raises(
        NotAllowed, match="Reviewers cannot generate images; ask an admin for the designer role"
    ):
        rita.submit(GenerationRequest(prompt="x", model=MODEL))
    with pytest.raises(NotSignedIn, match="You are signed out. Sign in to see the studio's work."):
        as_(team, None).gallery.page()
    with pytest.raises(NotAllowed, match=f"{OFF}.*disabled"):
        as_(team, OFF).gallery.page()
    # a reviewer's refused generation never reached the endpoint; the admin's and the designer's did
    prompts = [str(r.get("body")) for r in team.emulator.requests]
    assert sum("a matrix teapot" in p for p in prompts) == 2


def test_local_person_without_sign_in_does_everything(monkeypatch, studio_env):
    studio = Studio(load_settings())
    try:
        session = studio.session(Actor.signed_out())  # STUDIO_LOGIN=none: every caller is the local person
        assert session.actor.local and session.actor.is_admin
        gen_id = make(session, "a local teapot")
        assert studio.get(gen_id).author == "local"
        assert session.organise.add_tags([gen_id], ["mine"]) == 1
        assert studio._store.activity.list() == []  # one person: no audit log
        assert session.budget_line() is None
    finally:
        studio.close()


# -- what each person sees ------------------------------------------------------------------------


def test_designer_does_not_see_others_private_generations(team):
    dan, eve, ann = as_(team, DAN), as_(team, EVE), as_(team, ANN)
    public = make(dan, "a public walrus")
    private = make(dan, "a private walrus", private=True)
    mine = make(eve, "eve's own walrus", private=True)
    assert dan.get(private).private and dan.get(private).author == DAN

    def seen(s, f: GalleryFilter | None = None) -> set[int]:
        return {r.id for r in s.gallery.page(f, limit=100)}

    assert seen(eve) == {public, mine}
    assert seen(dan) == {public, private}
    assert seen(ann) == {public, private, mine}
    assert seen(eve, GalleryFilter(search="walrus")) == {public, mine}
    assert eve.get(private) is None and eve.gallery.records([public, private]) == [eve.get(public)]
    assert eve.gallery.count() == 2 and eve.gallery.count(GalleryFilter(search="walrus"), cap=10) == 2
    assert ann.gallery.count() == 3
    assert eve.gallery.totals()["count"] == 2 and ann.gallery.totals()["count"] == 3
    assert dict(eve.gallery.facets()["model"]) == {MODEL: 2}
    assert eve.gallery.ids_beside(None, mine, older=True, limit=5) == [public]
    assert dan.gallery.ids_beside(None, public, older=False, limit=5) == [private]
    assert eve.gallery.neighbours(None, public) == (mine, None)
    assert eve.history(limit=10) == eve.gallery.page(limit=10)
    sha = dan.get(private).images[0].sha256
    assert dan.gallery.thumbnail_file(sha) is not None and eve.gallery.thumbnail_file(sha) is None
    with pytest.raises(Exception, match="not in the history"):
        eve.request_for(private)
    # counts, facets and totals of a designer's view are everyone's minus what it hides, trash included
    dan.organise.trash([private])
    trash = GalleryFilter(deleted=True)
    assert eve.gallery.count(trash) == 0 and dan.gallery.count(trash) == 1 and ann.gallery.count(trash) == 1
    assert eve.gallery.totals(trash)["count"] == 0 and eve.gallery.facets(trash)["model"] == []
    assert dict(eve.gallery.facets(GalleryFilter(deleted=None))["status"]) == {"succeeded": 2}
    assert dict(dan.gallery.facets(GalleryFilter(deleted=None))["status"]) == {"succeeded": 2}
    assert dict(ann.gallery.facets(GalleryFilter(deleted=None))["status"]) == {"succeeded": 3}
    dan.organise.restore([private])
    # Mine: one's own work, private or not
    assert seen(dan, GalleryFilter(author=DAN)) == {public, private}
    assert seen(eve, GalleryFilter(author=DAN)) == {public}
    assert eve.gallery.count(GalleryFilter(author=EVE)) == 1


def test_private_flag_belongs_to_the_author_or_an_admin(team):
    dan, eve, ann = as_(team, DAN), as_(team, EVE), as_(team, ANN)
    gen_id = make(dan, "a shy heron")
    with pytest.raises(NotAllowed, match="Only the person who made generation"):
        eve.organise.set_private([gen_id], True)
    assert not dan.get(gen_id).private
    assert dan.organise.set_private([gen_id], True) == 1
    assert eve.get(gen_id) is None
    assert ann.organise.set_private([gen_id], False) == 1
    assert eve.get(gen_id) is not None
    log = [(a.actor, a.action, a.subject) for a in team.studio._store.activity.list(action_prefix="private.")]
    assert log == [(ANN, "private.set", f"generation:{gen_id}"), (DAN, "private.set", f"generation:{gen_id}")]


def test_reviewer_sees_only_collections_shared_with_them(team):
    dan, rita = as_(team, DAN), as_(team, RITA)
    shown = make(dan, "a client teapot")
    hidden = make(dan, "an internal teapot")
    secret = make(dan, "a private client teapot", private=True)
    for_all = make(dan, "a teapot for everyone")
    client = dan.organise.create_collection("Client")
    everyone = dan.organise.create_collection("Everyone")
    dan.organise.add_to_collection([shown, secret], client)
    dan.organise.add_to_collection([for_all], everyone)
    assert rita.gallery.page() == [] and rita.organise.collections() == []

    share = dan.organise.share_collection(client, RITA.upper(), "review")
    assert (share.email, share.access, share.shared_by) == (RITA, "review", DAN)
    assert {r.id for r in rita.gallery.page()} == {shown}  # never a private one, even when shared
    dan.organise.share_collection(everyone, "*")
    assert {r.id for r in rita.gallery.page()} == {shown, for_all}
    assert [c[0] for c in rita.organise.collections()] == sorted([client, everyone])
    assert rita.get(hidden) is None and rita.get(shown).id == shown
    assert rita.gallery.count() == 2 and rita.gallery.totals()["count"] == 2
    assert dict(rita.gallery.facets()["collection"]) == {client: 1, everyone: 1}
    assert {r.id for r in rita.gallery.page(GalleryFilter(search="teapot"))} == {shown, for_all}
    assert [(s.email, s.access) for s in dan.organise.shares(client)] == [(RITA, "review")]
    with pytest.raises(NotAllowed):
        rita.organise.shares(client)
    with pytest.raises(NotAllowed):
        rita.organise.add_tags([shown], ["approved"])
    with pytest.raises(NotAllowed):
        rita.organise.share_collection(client, "*")

    assert dan.organise.unshare_collection(client, RITA) is True
    assert dan.organise.unshare_collection(client, RITA) is False
    assert {r.id for r in rita.gallery.page()} == {for_all}


# -- who made what --------------------------------------------------------------------------------


def test_authors_and_the_activity_log(team):
    dan = as_(team, DAN)
    gen_id = make(dan, "an authored owl")
    record = dan.get(gen_id)
    assert record.author == DAN and record.to_json()["author"] == DAN and record.to_json()["private"] is False
    dan.organise.add_tags([gen_id], ["owls"])
    dan.organise.set_favourite([gen_id], True)
    dan.organise.set_rating([gen_id], 4)
    cid = dan.organise.create_collection("Owls")
    dan.organise.add_to_collection([gen_id], cid)
    dan.organise.trash([gen_id])
    dan.organise.restore([gen_id])
    template = dan.templates.save("Owl", "an {animal} owl")
    run_id = dan.runs.start(RunSpec(prompts=["a run owl"]), concurrency=1)
    from studio.services import runs

    assert runs.wait(dan, run_id, timeout=30)
    assert dan.runs.get(run_id).author == DAN
    assert {r.author for r in team.studio._store.runs.generations(run_id)} == {DAN}
    log = team.studio._store.activity.list(actor=DAN)
    assert [a.action for a in reversed(log)] == [
        "tags.add",
        "favourite.set",
        "rating.set",
        "collection.create",
        "collection.add",
        "trash.move",
        "trash.restore",
        "template.save",
    ]
    assert log[-1].subject == f"generation:{gen_id}" and log[-1].detail == {"count": 1, "tags": ["owls"]}
    assert log[0].subject == f"template:{template.id}"
    # another designer sees the run, but not a generation its author made private
    [run_gen] = [r.id for r in team.studio._store.runs.generations(run_id)]
    dan.organise.set_private([run_gen], True)
    eve = as_(team, EVE)
    assert [c.record for cells in eve.runs.grid(run_id).cells.values() for c in cells] == [None]
    assert [c.record.id for cells in dan.runs.grid(run_id).cells.values() for c in cells] == [run_gen]


# -- sessions ---------------------------------------------------------------------------------------


def test_a_disabled_person_is_stopped_within_a_minute(team):
    now = [1000.0]
    dan = as_(team, DAN, clock=lambda: now[0])
    assert dan.gallery.page() == []
    team.studio._store.people.update(DAN, actor=ANN, disabled=True)
    now[0] += RECHECK_S - 1  # the row is trusted a little longer ...
    assert dan.gallery.page() == []
    now[0] += 1  # ... and read again within a minute of the change
    with pytest.raises(NotAllowed, match="disabled"):
        dan.gallery.page()
    with pytest.raises(NotAllowed, match="disabled"):
        dan.submit(GenerationRequest(prompt="sneaky", model=MODEL))
    team.studio._store.people.update(DAN, actor=ANN, disabled=False, role="reviewer")
    now[0] += RECHECK_S
    assert dan.gallery.page() == []
    with pytest.raises(NotAllowed, match="Reviewers cannot generate"):
        dan.submit(GenerationRequest(prompt="sneaky", model=MODEL))
    assert not any("sneaky" in str(r.get("body")) for r in team.emulator.requests)


def test_the_studio_itself_acts_as_studio_user(monkeypatch, tmp_path: Path):
    t = open_team(monkeypatch)
    try:
        with pytest.raises(NotSignedIn, match="set STUDIO_USER=you@example.com"):
            t.studio.gallery.page()
        with pytest.raises(NotSignedIn, match="STUDIO_USER"):
            t.studio.submit(GenerationRequest(prompt="nobody", model=MODEL))
    finally:
        t.studio.close()
    user = Studio(load_settings().with_(user=DAN))
    try:
        assert user.default_actor == Actor(DAN, "designer")
        [record] = user.generate(GenerationRequest(prompt="as dan", model=MODEL), timeout=30)
        assert record.author == DAN
    finally:
        user.close()
    stranger = Studio(load_settings().with_(user="who@elsewhere.test"))
    try:
        with pytest.raises(NotAllowed, match="who@elsewhere.test is not a member"):
            stranger.history()
    finally:
        stranger.close()
    joiner = Studio(load_settings().with_(user="new@studio.test", allowed_domains=("studio.test",)))
    try:
        assert joiner.default_actor == Actor("new@studio.test", "designer")  # joined by domain
    finally:
        joiner.close()
        t.emulator.stop()


def test_sign_in(team):
    assert team.studio.sign_in(ANN.upper()) == Actor(ANN, "admin")
    with pytest.raises(NotAllowed, match="is not a member of this studio. Ask an admin to add you."):
        team.studio.sign_in("ann@x.com")
    with pytest.raises(NotAllowed, match="disabled"):
        team.studio.sign_in(OFF)
    # the local person means nothing once sign-in is on
    with pytest.raises(NotSignedIn):
        team.studio.session(Actor.local_person()).gallery.page()


def test_conversations_show_only_the_turns_one_may_see(team):
    dan, eve = as_(team, DAN), as_(team, EVE)
    first = make(dan, "a teapot to edit")
    [second] = dan.editing.continue_(first, "make it blue")
    [turn] = dan.wait([second], timeout=30)
    assert turn.status == "succeeded" and turn.author == DAN
    dan.organise.set_private([second], True)
    assert [r.id for _, r in dan.editing.tree(first).walk()] == [first, second]
    assert [r.id for _, r in eve.editing.tree(first).walk()] == [first]
    assert [r.id for r in dan.editing.chain(second)] == [first, second]
    with pytest.raises(Exception, match="not in the history"):
        eve.editing.chain(second)
    with pytest.raises(Exception, match="not in the history"):
        eve.editing.continue_(second, "make it red")
    with pytest.raises(NotAllowed):
        as_(team, RITA).editing.continue_(first, "make it red")


def test_an_import_is_authored_by_whoever_imported_it(team, tmp_path: Path):
    from studio.services.archive import open_archive

    dan = as_(team, DAN)
    gen_id = make(dan, "an exported lantern")
    settings = load_settings()
    with open_archive(settings, Actor(DAN, "designer")) as archive:
        report = archive.export_zip(tmp_path / "out.zip", ids=[gen_id])
        assert report.generations == 1
    elsewhere = settings.with_(
        login="none",
        data_dir=tmp_path / "elsewhere",
        database_url=None,
        storage_url=None,
        s3_endpoint_url=None,
    )
    with open_archive(elsewhere) as archive:
        imported = archive.import_zip(tmp_path / "out.zip")
        assert imported.generations_added == 1
        [record] = archive.history()
        assert record.prompt == "an exported lantern" and record.author == "local"
    with open_archive(settings, Actor(RITA, "reviewer")) as archive:
        with pytest.raises(NotAllowed):
            archive.import_zip(tmp_path / "out.zip")
