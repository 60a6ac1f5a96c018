"""The review's findings on team access, on both backends over the real emulator: collection counts and
templates through what the caller may see, a run cancelled only by its author or an admin, a designer's
capped count, private work that stays private when it is edited, varied or retried, and services built
without an access in a team studio (signed out, never the local admin)."""

from __future__ import annotations

import pytest

from studio.domain.errors import NotAllowed
from studio.domain.requests import GenerationRequest
from studio.services import runs
from studio.services.gallery import GalleryFilter
from studio.services.runs import RunSpec
from tests.service.test_access import ANN, DAN, EVE, MODEL, RITA, as_, make, open_team

pytestmark = pytest.mark.usefixtures("backend")


@pytest.fixture
def team(monkeypatch):
    t = open_team(monkeypatch)
    yield t
    t.studio.close()
    t.emulator.stop()


def test_a_collections_count_leaves_out_what_the_caller_may_not_see(team):
    dan, eve, ann = as_(team, DAN), as_(team, EVE), as_(team, ANN)
    cid = dan.organise.create_collection("Moodboard")
    dan.organise.add_to_collection(
        [make(dan, "a public heron"), make(dan, "a private heron", private=True)], cid
    )
    counts = {
        who: {c: n for c, _name, n in s.organise.collections()}[cid]
        for who, s in (("dan", dan), ("eve", eve), ("ann", ann))
    }
    assert counts == {"dan": 2, "eve": 1, "ann": 2}
    dan.organise.share_collection(cid, RITA)
    assert [n for c, _name, n in as_(team, RITA).organise.collections() if c == cid] == [1]


def test_reviewers_do_not_read_the_teams_templates(team):
    template = as_(team, DAN).templates.save("Owl", "an {animal} owl")
    rita = as_(team, RITA)
    for read in (rita.templates.templates, rita.templates.presets, lambda: rita.templates.get(template.id)):
        with pytest.raises(NotAllowed, match="Reviewers see only the collections shared with them"):
            read()
    assert [t.name for t in as_(team, EVE).templates.templates()] == ["Owl"]


def test_only_a_runs_author_or_an_admin_cancels_it(team):
    dan, eve, ann = as_(team, DAN), as_(team, EVE), as_(team, ANN)
    run_id = dan.runs.start(RunSpec(prompts=["a slow owl", "a slower owl", "the slowest owl"]), concurrency=1)
    with pytest.raises(NotAllowed, match=f"Only the person who started run #{run_id} or an admin"):
        eve.runs.cancel(run_id)
    ann.runs.cancel(run_id)  # an admin may (whether or not the feeder was still running)
    assert runs.wait(dan, run_id, timeout=30)
    other = dan.runs.start(RunSpec(prompts=["an owl"]), concurrency=1)
    dan.runs.cancel(other)  # the author may
    assert runs.wait(dan, other, timeout=30)


def test_a_designers_capped_count_is_over_the_cap_when_what_they_see_is(team):
    dan, eve = as_(team, DAN), as_(team, EVE)
    for n in range(3):
        make(dan, f"a public crane {n}")
    for n in range(2):
        make(dan, f"a private crane {n}", private=True)
    store = team.studio._store.gallery
    vis = eve.access.visibility()
    assert eve.gallery.count() == 3
    for cap in (1, 2, 5):
        got = store.count(GalleryFilter(visibility=vis), cap=cap)
        assert got == min(3, cap + 1) or (got >= cap + 1 and got <= 3), (cap, got)


# -- private work stays private when it is reused ---------------------------------------------------


def _one(ids: list[int]) -> int:
    [gen_id] = ids
    return gen_id


def test_edits_variations_and_retries_of_private_work_are_private(team):
    dan, eve, ann = as_(team, DAN), as_(team, EVE), as_(team, ANN)
    secret = make(dan, "a secret lighthouse", private=True)
    made = {
        "retry": _one(dan.retry(secret)),
        "vary": _one(dan.vary(secret)),
        "continue": _one(dan.editing.continue_(secret, "paint it teal")),
        "start from": _one(dan.editing.start("paint it red", from_generation=secret)),
    }
    dan.wait(list(made.values()), timeout=30)
    for how, gen_id in made.items():
        record = dan.get(gen_id)
        assert record is not None and record.private, how
        assert eve.get(gen_id) is None, how  # another designer sees none of them
        assert ann.get(gen_id) is not None, how  # an admin sees every one
    public = make(dan, "a public lighthouse")
    assert not dan.get(_one(dan.retry(public))).private  # public work stays public


def test_the_conversation_sent_stops_at_a_turn_the_caller_may_not_see(team):
    dan, eve = as_(team, DAN), as_(team, EVE)
    first = make(dan, "a hidden first turn of a fox", private=True)
    second = _one(dan.editing.continue_(first, "give the fox a scarf"))
    dan.wait([second], timeout=30)
    dan.organise.set_private([second], False)  # the author shows the second turn, not the first
    sent = len(team.emulator.requests)
    third = _one(eve.editing.continue_(second, "now a hat"))
    eve.wait([third], timeout=30)
    bodies = [str(r.get("body")) for r in list(team.emulator.requests)[sent:]]
    assert bodies and all("a hidden first turn of a fox" not in b for b in bodies)
    assert any("give the fox a scarf" in b for b in bodies)
    assert not eve.get(third).private


# -- no service acts as the local admin by default ----------------------------------------------------


def test_services_and_run_reads_need_the_callers_access(team):
    from studio.services.drafts import DraftService
    from studio.services.gallery import GalleryService
    from studio.services.organise import OrganiseService
    from studio.services.templates import TemplateService

    dan = as_(team, DAN)
    make(dan, "a private owl of dan's", private=True)
    store = team.studio._store
    for build in (GalleryService, OrganiseService, TemplateService):
        with pytest.raises(TypeError, match="access"):
            build(store)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="access"):
        DraftService(store, dan.request_for)  # type: ignore[call-arg]
    run_id = dan.runs.start(RunSpec(prompts=["a run owl"]), concurrency=1)
    assert runs.wait(dan, run_id, timeout=30)
    with pytest.raises(TypeError, match="visibility"):
        runs.grid(store, run_id)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="visibility"):
        runs.export_zip(store, run_id)  # type: ignore[call-arg]


def test_a_session_keeps_the_job_pool_to_itself(team):
    dan, eve = as_(team, DAN), as_(team, EVE)
    assert not hasattr(dan, "jobs")  # a page cannot reach jobs.cancel past the author check
    [gen_id] = dan.submit(GenerationRequest(prompt="[[latency:5]] a slow private owl", model=MODEL))
    with pytest.raises(NotAllowed, match=f"Only the person who asked for generation #{gen_id}"):
        eve.cancel(gen_id)
    assert dan.cancel(gen_id) in (True, False)
    dan.wait([gen_id], timeout=30)
