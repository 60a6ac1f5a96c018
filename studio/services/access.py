"""Who may do what: the one place the team rules (PLAN14, "The rules") are applied.

An ``Access`` belongs to one ``StudioSession``: every public service method asks it first
(``require_member`` to read, ``require_generate`` to spend the key, ``require_organise`` to change the
library, ``require_admin`` for people and spend), and the gallery asks it what the caller may see
(``visibility``). Pages only hide buttons; the refusal is here.

The person's row is read again at most every ``RECHECK_S`` seconds, so a person an admin disables (or
whose role changes) is stopped within a minute in a session that is already open.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from studio.domain.errors import NotAllowed, NotSignedIn, StudioError
from studio.domain.people import ADMIN, DESIGNER, REVIEWER, Actor, Person
from studio.services.accounts import disabled_sentence, stranger_sentence
from studio.storage.filter_sql import Visibility

__all__ = ["RECHECK_S", "SIGNED_OUT", "Access", "Visibility"]

#: How long a person's row is trusted before it is read again (a disabled person stops within a minute).
RECHECK_S = 30.0

SIGNED_OUT = "You are signed out. Sign in to see the studio's work."
CANNOT_GENERATE = "Reviewers cannot generate images; ask an admin for the designer role."
CANNOT_ORGANISE = (
    "Reviewers cannot change favourites, ratings, tags, collections, templates or the trash; "
    "ask an admin for the designer role."
)
REVIEWERS_SEE_SHARED = (
    "Reviewers see only the collections shared with them; ask an admin for the designer role to see the "
    "team's runs and conversations."
)
ADMINS_ONLY = "Only an admin can do this (people, budgets, spend and the activity log); ask an admin."


def not_member(email: str) -> str:
    return stranger_sentence(email)


def disabled(email: str) -> str:
    return disabled_sentence(email)


def not_author(what: str) -> str:
    return f"Only the person who made {what} or an admin can change whether it is private."


class Access:
    """The caller's permissions. ``people_lookup(email)`` reads a person's row (None: not a member);
    ``clock`` is monotonic seconds (tests inject one). A local actor (``STUDIO_LOGIN=none``) may do
    everything and reads no row; a signed-out actor may do nothing. ``refusal``: the error every check
    raises instead (a team-mode command whose ``STUDIO_USER`` is missing or not a member)."""

    def __init__(
        self,
        actor: Actor,
        people_lookup: Callable[[str], Person | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        *,
        refusal: StudioError | None = None,
        signed_out: str = SIGNED_OUT,
        recheck_s: float = RECHECK_S,
    ) -> None:
        self.actor = actor
        self._lookup = people_lookup
        self._clock = clock
        self._refusal = refusal
        self._signed_out = signed_out
        self._recheck_s = recheck_s
        self._checked_at: float | None = None
        self._person: Person | None = None
        self._lock = threading.Lock()

    @classmethod
    def local(cls) -> Access:
        """``STUDIO_LOGIN=none``: the one person on this machine."""
        return cls(Actor.local_person())

    # -- the checks -------------------------------------------------------------------------------

    def require_member(self) -> Actor:
        """The caller as a signed-in, enabled member (their current role from the people table); raises
        NotSignedIn or NotAllowed with a sentence they can act on."""
        if self._refusal is not None:
            raise self._refusal
        actor = self.actor
        if actor.local:
            return actor
        if actor.email is None or not actor.signed_in:
            raise NotSignedIn(self._signed_out)
        if self._lookup is None:  # a caller vouched for by whoever built this Access (no people table)
            return actor
        person = self._person_row(actor.email)
        if person is None:
            raise NotAllowed(not_member(actor.email))
        if person.disabled:
            raise NotAllowed(disabled(actor.email))
        return Actor.of(person)

    def _person_row(self, email: str) -> Person | None:
        assert self._lookup is not None
        with self._lock:
            now = self._clock()
            if self._checked_at is None or now - self._checked_at >= self._recheck_s:
                self._person = self._lookup(email)
                self._checked_at = now
            return self._person

    def require_generate(self) -> Actor:
        """A member who may spend the key: an admin or a designer."""
        actor = self.require_member()
        if actor.role not in (ADMIN, DESIGNER):
            raise NotAllowed(CANNOT_GENERATE)
        return actor

    def require_organise(self) -> Actor:
        """A member who may change the library (favourites, tags, collections, trash, templates)."""
        actor = self.require_member()
        if actor.role not in (ADMIN, DESIGNER):
            raise NotAllowed(CANNOT_ORGANISE)
        return actor

    def require_team(self) -> Actor:
        """A member who sees the team's work beyond shared collections (runs, the Experiment page)."""
        actor = self.require_member()
        if actor.role not in (ADMIN, DESIGNER):
            raise NotAllowed(REVIEWERS_SEE_SHARED)
        return actor

    def require_admin(self) -> Actor:
        actor = self.require_member()
        if actor.role != ADMIN:
            raise NotAllowed(ADMINS_ONLY)
        return actor

    def visibility(self) -> Visibility:
        """What the gallery may show the caller: admins (and the local person) everything; designers every
        generation but others' private ones; reviewers only what is in collections shared with them."""
        actor = self.require_member()
        if actor.role == ADMIN:
            return Visibility(actor.email, everything=True, shared_only=False)
        if actor.role == REVIEWER:
            return Visibility(actor.email, everything=False, shared_only=True)
        return Visibility(actor.email, everything=False, shared_only=False)
