"""Every entry point refuses a caller who may not use it: this walks EVERY public method of a
``StudioSession`` and of each service it holds (found by introspection, so a method added later is walked
too, and fails here until it has a sample argument), as a signed-out caller and as a reviewer, and checks
that the refusal came before anything was written or sent (the tables are unchanged, and the emulator
received no request)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest

from studio.domain.errors import NotAllowed, NotSignedIn
from studio.domain.people import Actor
from studio.domain.requests import GenerationRequest
from studio.domain.settings import load_settings
from studio.imaging.images import sanitize_upload
from studio.services import batch
from studio.services.archive import open_archive
from studio.services.drafts import Draft, DraftChanges
from studio.services.gallery import GalleryFilter
from studio.services.runs import RunSpec
from studio.services.session import StudioSession
from tests.factories import make_image
from tests.service.test_access import ANN, DAN, MODEL, RITA, make, open_team
from tests.stores import db_execute

pytestmark = pytest.mark.usefixtures("backend")

#: the services a session holds (walked too); BUDGETS' ``spend`` joins when it lands
SERVICES = (
    "gallery",
    "organise",
    "templates",
    "editing",
    "runs",
    "drafts",
    "people",
    "spend",
    "review",
    "links",
)

#: What a reviewer may call: reading what is shared with them, their own draft and notices, their own row.
#: Every other method must refuse a reviewer: a method added later refuses by default or is listed here.
REVIEWER_MAY = {
    "session": {
        "get",
        "history",
        "wait",
        "wait_any",
        "progress",
        "is_active",
        "request_for",
        "interrupted_work",
        "dismiss_interrupted",
        "budget_line",
    },
    "gallery": {
        "page",
        "count",
        "grouped_page",
        "ids_beside",
        "neighbours",
        "submission",
        "thumbnail_file",
        "get",
        "visible_ids",
        "records",
        "facets",
        "totals",
        "children",
        "preview",
        "export_zip",
    },
    "organise": {"collections"},
    "templates": set(),  # the team's prompts: reviewers see only what is shared with them
    "editing": {"chain", "tree", "branches", "before", "sources"},
    "drafts": {"save", "save_changes", "load", "clear", "set_aside", "from_image"},
    "people": {"me"},
    "spend": {"month", "line"},  # one's own month
    # reading the review of what is shared with them, their queues and read marks; deciding and commenting
    # need a share *for review* (the walked collection is shared to view: refused below)
    "review": {
        "decisions",
        "comments",
        "counts",
        "waiting_for_me",
        "feedback_on_my_work",
        "unread",
        "mark_read",
        "pack_pdf",
        "mentionable",
    },
}

#: Methods that need no access, each with why (they read and change no one's data).
NO_ACCESS = {
    "people.close": "closes only a store the service opened itself (the operator's); touches no data",
    # client links: the token is the capability (a visitor has no account); each checks the token instead
    # and refuses a tampered, expired or revoked one (tests/service/test_links.py)
    "links.open": "the token is the capability: shows only that link's collection",
    "links.image": "the token is the capability: only images of that link's collection",
    "links.guest_decide": "the token is the capability: feedback links only, recorded as guest:<name>",
    "links.guest_comment": "the token is the capability: feedback links only, recorded as guest:<name>",
}

#: tables whose rows count as "written" (drafts are a reviewer's own, so counted for the signed-out only)
TABLES = (
    "generation",
    "activity",
    "collection",
    "collection_share",
    "collection_item",
    "template",
    "run",
    "tag",
    "decision",
    "comment",
    "share_link",
)


def _counts(store, tables=TABLES) -> dict[str, int]:
    return {t: db_execute(store, f"SELECT COUNT(*) FROM {t}")[0][0] for t in tables}


def public_methods(obj: object) -> Iterator[tuple[str, Callable[..., Any]]]:
    """Every public method of ``obj``'s class (not properties, not static or class methods: those hold no
    access, they are pure functions of their arguments)."""
    for name, member in inspect.getmembers(type(obj)):
        if name.startswith("_") or isinstance(member, property):
            continue
        raw = inspect.getattr_static(type(obj), name)
        if isinstance(raw, staticmethod | classmethod) or not callable(member):
            continue
        yield name, getattr(obj, name)


def sample_args(fn: Callable[..., Any], world: dict[str, Any]) -> dict[str, Any]:
    """A real argument for every required parameter, by its name; a new name fails loudly."""
    out = {}
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.default is not p.empty:
            continue
        if p.name not in world:
            raise AssertionError(f"{fn.__qualname__}: add a sample argument for {p.name!r} to this test")
        out[p.name] = world[p.name]
    return out


def walk(session: StudioSession) -> Iterator[tuple[str, str, Callable[..., Any]]]:
    for name, fn in public_methods(session):
        yield "session", name, fn
    for service in SERVICES:
        holder = getattr(session, service, None)
        if holder is None:
            continue
        for name, fn in public_methods(holder):
            yield service, name, fn


@pytest.fixture
def world(monkeypatch, tmp_path):
    t = open_team(monkeypatch)
    dan = t.studio.session(Actor(DAN, "designer"))
    gen_id = make(dan, "a walked teapot")
    record = dan.get(gen_id)
    cid = dan.organise.create_collection("Walked")
    dan.organise.add_to_collection([gen_id], cid)
    dan.organise.share_collection(cid, RITA)  # the reviewer sees it: refusals are about the role, not sight
    template = dan.templates.save("Walked", "a {thing}")
    note = dan.review.comment(gen_id, "a walked note", pin={"x": 0.5, "y": 0.5})
    link = dan.links.create(cid)
    run_id = t.studio._store.runs.create(kind="matrix", name="walked", spec=RunSpec(prompts=["x"]).to_json())
    png = make_image()
    args = {
        "req": GenerationRequest(prompt="a refused teapot", model=MODEL),
        "ids": [gen_id],
        "gen_id": gen_id,
        "head_id": gen_id,
        "parent_id": gen_id,
        "f": GalleryFilter(),
        "cid": cid,
        "name": "a name",
        "names": ["a tag"],
        "value": True,
        "rating": 3,
        "email": ANN,
        "email_or_star": "*",
        "template_id": template.id,
        "draft": Draft(values={"gen_prompt": "x"}),
        "changes": DraftChanges(values={"gen_prompt": "x"}),
        "data": png,
        "record": record,
        "image": record.images[0],
        "sha256": record.images[0].sha256,
        "idea": "an idea",
        "spec": RunSpec(prompts=["a refused run"]),
        "run_id": run_id,
        "more": {"seeds": [7]},
        "refs": [sanitize_upload(png, "ref.png")],
        "instruction": "make it blue",
        "body": "a {thing}",
        "older": True,
        "rows": [],
        "start": date.today(),
        "end": date.today(),
        "status": "approved",
        "collection_id": cid,
        "comment_id": note.id,
        "comment_ids": [note.id],
        "new_gen_id": gen_id,
        "url_or_token": link.url,
        "link_id": dan.links.links(cid)[0].id,
        "token": link.token,
        "timeout": 0.01,
    }
    t.emulator.requests.clear()
    yield t, args
    t.studio.close()
    t.emulator.stop()


@pytest.mark.parametrize("who", ["signed out", "reviewer"])
def test_every_public_method_refuses_before_anything_is_written_or_sent(world, who):
    team, args = world
    store = team.studio._store
    if who == "signed out":
        session, tables = team.studio.session(Actor.signed_out()), (*TABLES, "draft", "comment_seen")
    else:
        session, tables = team.studio.session(Actor(RITA, "reviewer")), TABLES
    before = _counts(store, tables)
    walked, refused = [], []
    for service, name, fn in walk(session):
        walked.append(f"{service}.{name}")
        if f"{service}.{name}" in NO_ACCESS:
            continue
        if who == "reviewer" and name in REVIEWER_MAY.get(service, set()):
            continue
        kwargs = sample_args(fn, args)
        expected = NotSignedIn if who == "signed out" else NotAllowed
        with pytest.raises(expected) as caught:
            fn(**kwargs)
        assert caught.value.message, f"{service}.{name} refused without a sentence"
        refused.append(f"{service}.{name}")
    # the walk found the methods (a broken introspection would pass vacuously)
    for must in (
        "session.submit",
        "gallery.page",
        "organise.trash",
        "runs.start",
        "editing.start",
        "people.add",
        "review.decide",
        "links.create",
    ):
        assert must in walked
    assert len(walked) >= 70
    if who == "reviewer":
        assert {"session.submit", "session.enhance", "organise.set_private", "templates.save"} <= set(refused)
        assert {"review.decide", "review.comment", "review.next_version", "links.create"} <= set(refused)
    assert _counts(store, tables) == before
    assert list(team.emulator.requests) == []  # nothing was sent: not a generation, not a connection test


def test_a_reviewer_reads_what_is_shared(world):
    team, args = world
    rita = team.studio.session(Actor(RITA, "reviewer"))
    assert [r.id for r in rita.gallery.page()] == [args["gen_id"]]
    assert rita.request_for(args["gen_id"]).prompt == "a walked teapot"
    assert rita.drafts.save(Draft(values={"gen_prompt": "noted"})) is True


def test_batch_archive_and_the_studio_itself_refuse_too(world, tmp_path):
    team, args = world
    rita = team.studio.session(Actor(RITA, "reviewer"))
    out = tmp_path / "rows.csv"
    out.write_text("prompt\na refused batch row\n")
    with pytest.raises(NotAllowed):
        batch.execute(rita, batch.read_batch(out), "refused", concurrency=1)
    with pytest.raises(NotSignedIn):
        team.studio.submit(args["req"])  # no STUDIO_USER: the studio's own methods act for nobody
    with pytest.raises(NotSignedIn):
        team.studio.runs.start(args["spec"])
    settings = load_settings()
    with open_archive(settings) as archive:
        with pytest.raises(NotSignedIn, match="STUDIO_USER"):
            archive.history()
    with open_archive(settings, Actor(RITA, "reviewer")) as archive:
        assert [r.id for r in archive.history()] == [args["gen_id"]]
        with pytest.raises(NotAllowed):
            archive.import_zip(tmp_path / "nothing.zip")
        with pytest.raises(Exception, match="not in the history"):
            archive.export_zip(tmp_path / "x.zip", ids=[args["gen_id"] + 1000])
    assert list(team.emulator.requests) == []
