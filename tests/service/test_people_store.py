"""The people and the audit log on both backends (``backend``: a real SQLite file, a real PostgreSQL 15):
``store.people`` and ``store.activity``, and ``PeopleService`` / ``sign_in`` over them."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from studio.domain.errors import InputError, NotAllowed, NotSignedIn
from studio.domain.people import Actor, Person
from studio.domain.settings import load_settings
from studio.services.access import Access
from studio.services.accounts import PeopleService, operator_people, sign_in
from studio.storage import Store
from tests.stores import db_execute, open_store


@pytest.fixture
def store(tmp_path: Path, backend: str):
    s = open_store(tmp_path / "data")
    yield s
    s.close()


def test_repository_add_get_list_update_and_their_log(store: Store):
    ann = store.people.add(Person("ann@x.com", "admin"), actor="operator")
    assert ann.email == "ann@x.com" and ann.role == "admin" and not ann.disabled and ann.created_at
    store.people.add(Person("bob@x.com", "designer", budget_usd=20.0), actor="ann@x.com")
    with pytest.raises(InputError, match="already a member"):
        store.people.add(Person("bob@x.com", "reviewer"), actor="operator")
    assert [p.email for p in store.people.list()] == ["ann@x.com", "bob@x.com"]
    assert store.people.get("bob@x.com") == Person(
        "bob@x.com", "designer", 20.0, False, "cli", store.people.get("bob@x.com").created_at
    )
    assert store.people.get("nobody@x.com") is None

    bob = store.people.update("bob@x.com", actor="ann@x.com", budget_usd=None, role="reviewer")
    assert bob is not None and bob.budget_usd is None and bob.role == "reviewer"
    assert store.people.update("nobody@x.com", actor="ann@x.com", role="admin") is None
    same = store.people.update("bob@x.com", actor="ann@x.com", role="reviewer")  # nothing changes: no line
    assert same == bob

    log = store.activity.list()
    assert [(a.actor, a.action, a.subject) for a in log] == [
        ("ann@x.com", "users.set", "bob@x.com"),
        ("ann@x.com", "users.add", "bob@x.com"),
        ("operator", "users.add", "ann@x.com"),
    ]
    assert log[0].detail == {"budget_usd": [20.0, None], "role": ["designer", "reviewer"]}
    assert log[1].detail == {"budget_usd": 20.0, "joined": "cli", "role": "designer"}
    # the stored rows are the ones the log names (no second copy anywhere)
    assert db_execute(store, "SELECT count(*) FROM activity") == [(3,)]


def test_the_last_admin_cannot_be_demoted_or_disabled(store: Store):
    store.people.add(Person("ann@x.com", "admin"), actor="operator")
    with pytest.raises(InputError, match="ann@x.com is the studio's last admin"):
        store.people.update("ann@x.com", actor="operator", role="designer")
    with pytest.raises(InputError, match="last admin"):
        store.people.update("ann@x.com", actor="operator", disabled=True)
    assert store.people.get("ann@x.com").role == "admin"
    assert [a.action for a in store.activity.list()] == ["users.add"]  # the refused change left no line
    store.people.add(Person("cat@x.com", "admin", disabled=True), actor="operator")
    with pytest.raises(InputError, match="last admin"):  # a disabled admin does not count
        store.people.update("ann@x.com", actor="operator", role="designer")
    store.people.update("cat@x.com", actor="operator", disabled=False)
    assert store.people.update("ann@x.com", actor="cat@x.com", role="designer").role == "designer"
    assert store.people.update("ann@x.com", actor="cat@x.com", disabled=True).disabled


def test_two_admins_demoting_each_other_at_once_leave_one(store: Store):
    store.people.add(Person("ann@x.com", "admin"), actor="operator")
    store.people.add(Person("bob@x.com", "admin"), actor="operator")
    results: dict[str, object] = {}
    gate = threading.Barrier(2)

    def demote(email: str, by: str) -> None:
        gate.wait()
        try:
            results[email] = store.people.update(email, actor=by, role="designer")
        except InputError as exc:
            results[email] = exc

    threads = [
        threading.Thread(target=demote, args=("ann@x.com", "bob@x.com")),
        threading.Thread(target=demote, args=("bob@x.com", "ann@x.com")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum(isinstance(r, InputError) for r in results.values()) == 1
    assert store.people.count_admins() == 1


def test_activity_filters(store: Store):
    store.activity.record("ann@x.com", "tags.add", "generation:1", {"tag": "cats"})
    store.activity.record("bob@x.com", "users.add", "cat@x.com", {})
    store.activity.record("ann@x.com", "users.set", "cat@x.com", {"role": ["designer", "admin"]})
    assert [a.action for a in store.activity.list(actor="ann@x.com")] == ["users.set", "tags.add"]
    assert [a.action for a in store.activity.list(action_prefix="users.")] == ["users.set", "users.add"]
    assert [a.action for a in store.activity.list(action_prefix="users%")] == []  # LIKE characters escaped
    assert len(store.activity.list(limit=1)) == 1
    today = datetime.now(UTC).date()
    assert len(store.activity.list(since=today.isoformat())) == 3
    assert store.activity.list(since=(today + timedelta(days=1)).isoformat()) == []
    assert store.activity.list(until=today.isoformat()) == []
    [tagged] = store.activity.list(action_prefix="tags.")
    assert tagged.detail == {"tag": "cats"} and tagged.subject == "generation:1" and tagged.id > 0


def test_operator_service_adds_sets_and_logs_as_operator(backend):
    with operator_people(load_settings()) as people:
        assert people.is_operator
        ann = people.add("  Ann@X.com ", role="admin", budget_usd=25)
        assert (ann.email, ann.role, ann.budget_usd, ann.joined) == ("ann@x.com", "admin", 25.0, "cli")
        with pytest.raises(InputError, match="not an email address"):
            people.add("ann")
        with pytest.raises(InputError, match="role must be one of"):
            people.add("bob@x.com", role="boss")
        with pytest.raises(InputError, match="budget"):
            people.add("bob@x.com", budget_usd=-1)
        with pytest.raises(InputError, match="bob@x.com is not a member"):
            people.set("bob@x.com", role="admin")
        people.add("bob@x.com")
        assert people.set("BOB@x.com", budget_usd=12.5).budget_usd == 12.5
        assert people.set("bob@x.com", disabled=True).disabled
        assert people.get("bob@x.com").disabled and [p.email for p in people.list()] == [
            "ann@x.com",
            "bob@x.com",
        ]
        log = people.activity(since=datetime.now(UTC).date(), until=datetime.now(UTC).date())
        assert {a.actor for a in log} == {"operator"} and len(log) == 4


ADMIN_ONLY = [
    ("list", lambda p: p.list()),
    ("get", lambda p: p.get("ann@x.com")),
    ("activity", lambda p: p.activity()),
    ("spent_this_month", lambda p: p.spent_this_month()),
    ("add", lambda p: p.add("eve@x.com")),
    ("set", lambda p: p.set("ann@x.com", budget_usd=1.0)),
]


def test_every_people_entry_point_refuses_all_but_admins(store: Store):
    """Real ``Access`` (CORE's), reading the person row: the signed-out, designers, reviewers, disabled
    admins and strangers are refused by every method that reads or changes people; ``me`` is any member's."""
    store.people.add(Person("ann@x.com", "admin"), actor="operator")
    store.people.add(Person("bob@x.com", "designer"), actor="operator")
    store.people.add(Person("rey@x.com", "reviewer"), actor="operator")
    store.people.add(Person("old@x.com", "admin", disabled=True), actor="operator")
    public = {n for n in dir(PeopleService) if not n.startswith("_") and callable(getattr(PeopleService, n))}
    assert public - {"close", "me"} == {name for name, _ in ADMIN_ONLY}  # a new method must join the walk
    callers = [
        (Actor.signed_out(), NotSignedIn),
        (Actor("bob@x.com", "designer"), NotAllowed),
        (Actor("rey@x.com", "reviewer"), NotAllowed),
        (Actor("old@x.com", "admin"), NotAllowed),  # disabled since the session began
        (Actor("eve@x.com", "admin"), NotAllowed),  # claims admin, is no member
        (Actor("bob@x.com", "admin"), NotAllowed),  # claims admin, the row says designer
    ]
    before = db_execute(store, "SELECT email, role, budget_usd, disabled FROM person ORDER BY email")
    for actor, refusal in callers:
        people = PeopleService(store, Access(actor, store.people.get))
        for name, call in ADMIN_ONLY:
            with pytest.raises(refusal):
                call(people)
                pytest.fail(f"{actor} reached {name}")
    assert db_execute(store, "SELECT email, role, budget_usd, disabled FROM person ORDER BY email") == before
    assert [a.action for a in store.activity.list()] == ["users.add"] * 4  # nothing else was logged

    admin = PeopleService(store, Access(Actor("ann@x.com", "admin"), store.people.get))
    assert admin.add("eve@x.com").joined == "admin" and store.activity.list()[0].actor == "ann@x.com"
    assert admin.spent_this_month() == {} and len(admin.list()) == 5
    assert (
        PeopleService(store, Access(Actor("rey@x.com", "reviewer"), store.people.get)).me().role == "reviewer"
    )
    with pytest.raises(NotSignedIn):
        PeopleService(store, Access(Actor.signed_out(), store.people.get)).me()
    assert PeopleService(store, Access.local()).me() is None  # STUDIO_LOGIN=none: no person row


def test_sign_in_members_strangers_disabled_and_allowed_domains(store: Store):
    settings = load_settings().with_(login="oidc", allowed_domains=("studio.test",), default_budget=15.0)
    store.people.add(Person("ann@x.com", "admin"), actor="operator")
    store.people.add(Person("dan@x.com", "designer", disabled=True), actor="operator")
    assert sign_in(store, settings, "Ann@X.com") == Actor("ann@x.com", "admin")
    with pytest.raises(NotAllowed) as refused:
        sign_in(store, settings, "dan@x.com")
    assert refused.value.message == "Your account (dan@x.com) is disabled. Ask an admin to enable it."
    with pytest.raises(NotAllowed) as stranger:
        sign_in(store, settings, "eve@y.com")
    assert stranger.value.message == "eve@y.com is not a member of this studio. Ask an admin to add you."
    with pytest.raises(NotSignedIn, match="STUDIO_USER=you@example.com"):
        sign_in(store, settings, "")
    assert store.people.get("eve@y.com") is None

    assert sign_in(store, settings, "zoe@studio.test") == Actor("zoe@studio.test", "designer")
    zoe = store.people.get("zoe@studio.test")
    assert (zoe.role, zoe.budget_usd, zoe.joined) == ("designer", 15.0, "domain")
    [joined] = store.activity.list(action_prefix="users.join")
    assert (joined.actor, joined.subject) == ("zoe@studio.test", "zoe@studio.test")
    sign_in(store, settings, "zoe@studio.test")  # a second sign-in: no second join
    assert len(store.activity.list(action_prefix="users.join")) == 1
    # an allowed domain never re-enables someone an admin disabled
    store.people.update("zoe@studio.test", actor="ann@x.com", disabled=True)
    with pytest.raises(NotAllowed, match="disabled"):
        sign_in(store, settings, "zoe@studio.test")


def test_concurrent_first_sign_ins_make_one_member(store: Store):
    settings = load_settings().with_(login="oidc", allowed_domains=("studio.test",))
    gate = threading.Barrier(8)
    results: list[object] = []

    def first_sign_in() -> None:
        gate.wait()
        try:
            results.append(sign_in(store, settings, "new@studio.test"))
        except Exception as exc:  # noqa: BLE001 - the test reports any failure
            results.append(exc)

    threads = [threading.Thread(target=first_sign_in) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [Actor("new@studio.test", "designer")] * 8
    assert len(store.activity.list(action_prefix="users.join")) == 1
    assert db_execute(store, "SELECT count(*) FROM person") == [(1,)]
