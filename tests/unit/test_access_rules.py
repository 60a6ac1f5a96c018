"""``services.access.Access`` on its own: the rules per role, the sentences, the 30-second re-read (a clock
and a people table passed in; the two-backend tests in tests/service/test_access*.py use the real ones)."""

from __future__ import annotations

import pytest

from studio.domain.errors import NotAllowed, NotSignedIn
from studio.domain.people import Actor, Person
from studio.services.access import RECHECK_S, Access
from studio.storage import Visibility

PEOPLE = {
    "ann@x.com": Person("ann@x.com", "admin"),
    "dan@x.com": Person("dan@x.com", "designer"),
    "rita@x.com": Person("rita@x.com", "reviewer"),
    "off@x.com": Person("off@x.com", "designer", disabled=True),
}
CHECKS = ("require_member", "require_generate", "require_organise", "require_team", "require_admin")


def access(email: str | None, people: dict[str, Person] = PEOPLE, clock=lambda: 0.0) -> Access:
    actor = Actor.signed_out() if email is None else Actor(email, "admin")  # the claimed role is ignored
    return Access(actor, people.get, clock)


@pytest.mark.parametrize(
    ("email", "allowed"),
    [
        ("ann@x.com", set(CHECKS)),
        ("dan@x.com", {"require_member", "require_generate", "require_organise", "require_team"}),
        ("rita@x.com", {"require_member"}),
        ("off@x.com", set()),
        ("who@x.com", set()),
    ],
)
def test_each_role_passes_exactly_its_checks(email, allowed):
    a = access(email)
    for check in CHECKS:
        if check in allowed:
            assert getattr(a, check)().email == email
        else:
            with pytest.raises(NotAllowed) as caught:
                getattr(a, check)()
            assert caught.value.message.endswith(".")


def test_sentences_a_person_can_act_on():
    with pytest.raises(NotSignedIn, match=r"^You are signed out\. Sign in to see the studio's work\.$"):
        access(None).require_member()
    with pytest.raises(
        NotAllowed, match=r"^Reviewers cannot generate images; ask an admin for the designer role\.$"
    ):
        access("rita@x.com").require_generate()
    with pytest.raises(
        NotAllowed, match=r"who@x\.com is not a member of this studio\. Ask an admin to add you\."
    ):
        access("who@x.com").require_member()
    with pytest.raises(NotAllowed, match=r"off@x\.com.*disabled.*Ask an admin"):
        access("off@x.com").require_member()


def test_visibility_per_role():
    assert access("ann@x.com").visibility() == Visibility("ann@x.com", everything=True)
    assert access("dan@x.com").visibility() == Visibility("dan@x.com")
    assert access("rita@x.com").visibility() == Visibility("rita@x.com", shared_only=True)
    assert Access.local().visibility().everything
    with pytest.raises(NotSignedIn):
        access(None).visibility()


def test_the_row_is_read_again_after_thirty_seconds_and_not_before():
    now, reads = [0.0], []
    people = dict(PEOPLE)

    def lookup(email: str) -> Person | None:
        reads.append(email)
        return people.get(email)

    a = Access(Actor("dan@x.com", "designer"), lookup, lambda: now[0])
    for _ in range(5):
        a.require_generate()
    assert reads == ["dan@x.com"]  # one read for many checks
    people["dan@x.com"] = Person("dan@x.com", "designer", disabled=True)
    now[0] = RECHECK_S - 0.001
    a.require_generate()
    now[0] = RECHECK_S
    with pytest.raises(NotAllowed, match="disabled"):
        a.require_generate()
    assert len(reads) == 2 and RECHECK_S <= 30
