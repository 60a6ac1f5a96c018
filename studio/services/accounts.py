"""The people of a team studio: who is a member, in which role, with which monthly budget, and who signs in.

``PeopleService`` is what the Admin page and ``studio users`` use. With an ``Access`` (a signed-in session)
every call checks the caller is an admin; without one it is the operator's (``operator_people``: whoever holds
the database's credentials, which is how the first admin is made) and its changes are logged as "operator".
Every change writes an ``activity`` line in the same transaction.

``sign_in`` turns an email (from the provider, the proxy header or ``STUDIO_USER``) into the ``Actor`` a
session acts for: a member, a newcomer from an allowed domain (who joins as a designer), or a sentence.
"""

from __future__ import annotations

import builtins
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from studio.domain.errors import InputError, NotAllowed, NotSignedIn
from studio.domain.people import (
    DESIGNER,
    UNSET,
    ActivityRecord,
    Actor,
    Person,
    Unset,
    check_budget,
    check_role,
    normalise_email,
)
from studio.domain.settings import Settings
from studio.storage import Store

#: The actor the audit log names for ``studio users`` (the operator holds the database's credentials).
OPERATOR = "operator"


class AdminCheck(Protocol):
    """What ``PeopleService`` needs of ``services.access.Access``."""

    actor: Actor

    def require_admin(self) -> Actor: ...

    def require_member(self) -> Actor: ...


def disabled_sentence(email: str) -> str:
    return f"Your account ({email}) is disabled. Ask an admin to enable it."


def stranger_sentence(email: str) -> str:
    return f"{email} is not a member of this studio. Ask an admin to add you."


def no_user_sentence(settings: Settings) -> str:
    return (
        f"Sign-in is on (STUDIO_LOGIN={settings.login}): set STUDIO_USER=you@example.com to say who you are."
    )


def _domain_of(email: str) -> str:
    return email.rsplit("@", 1)[-1]


def sign_in(store: Store, settings: Settings, email: str) -> Actor:
    """The actor ``email`` is in this studio: a member who is enabled; a newcomer whose email domain is in
    ``STUDIO_ALLOWED_DOMAINS`` joins as a designer with ``STUDIO_DEFAULT_BUDGET`` (logged "users.join"; two
    first sign-ins at once make one member, neither fails). Else NotAllowed with a sentence to show."""
    if not (email or "").strip():
        raise NotSignedIn(no_user_sentence(settings))
    try:
        address = normalise_email(email)
    except InputError:
        raise NotAllowed(stranger_sentence(email.strip())) from None
    person = store.people.get(address)
    if person is None and _domain_of(address) in settings.allowed_domains:
        newcomer = Person(
            address, DESIGNER, budget_usd=check_budget(settings.default_budget), joined="domain"
        )
        person, _ = store.people.join(newcomer)
    if person is None:
        raise NotAllowed(stranger_sentence(address))
    if person.disabled:
        raise NotAllowed(disabled_sentence(address))
    return Actor.of(person)


def _day_start(day: date | datetime | str | None) -> str | None:
    if day is None or isinstance(day, str):
        return day or None
    if isinstance(day, datetime):
        return day.isoformat()
    return day.isoformat()  # "2026-11-30" sorts before that day's "2026-11-30T..." times


def _day_after(day: date | datetime | str | None) -> str | None:
    """An inclusive last day as an exclusive bound (the next day's start)."""
    if day is None or isinstance(day, str):
        return day or None
    if isinstance(day, datetime):
        return day.isoformat()
    return (day + timedelta(days=1)).isoformat()


class PeopleService:
    """The members: add, change, list, and the audit log. ``access`` None: the operator (no checks)."""

    def __init__(self, store: Store, access: AdminCheck | None = None, *, owns_store: bool = False) -> None:
        self._store = store
        self._access = access
        self._owns_store = owns_store

    # -- who is acting --------------------------------------------------------------------------------

    def _admin(self) -> str:
        """The actor's email for the audit log, after checking they are an admin."""
        if self._access is None:
            return OPERATOR
        actor = self._access.require_admin()
        return actor.email or OPERATOR

    @property
    def is_operator(self) -> bool:
        return self._access is None

    # -- reads ----------------------------------------------------------------------------------------

    def list(self) -> list[Person]:
        self._admin()
        return self._store.people.list()

    def get(self, email: str) -> Person | None:
        self._admin()
        return self._store.people.get(normalise_email(email))

    def me(self) -> Person | None:
        """The signed-in person's own row (any member; None for the operator or ``STUDIO_LOGIN=none``)."""
        if self._access is None:
            return None
        actor = self._access.require_member()
        if actor.local or not actor.email:
            return None
        return self._store.people.get(actor.email)

    def activity(
        self,
        *,
        since: date | datetime | str | None = None,
        until: date | datetime | str | None = None,
        actor: str | None = None,
        action_prefix: str | None = None,
        limit: int = 500,
    ) -> builtins.list[ActivityRecord]:
        """The audit log, newest first; ``since`` and ``until`` are days (both included) or ISO times."""
        self._admin()
        return self._store.activity.list(
            since=_day_start(since),
            until=_day_after(until),
            actor=actor.strip().lower() if actor else None,
            action_prefix=action_prefix,
            limit=limit,
        )

    def spent_this_month(self, *, now: datetime | None = None) -> dict[str, float]:
        """Each person's spend this calendar month (UTC; final costs, not what is still running), by email
        (admins and the operator)."""
        self._admin()
        from studio.services.access import Access  # access imports this module
        from studio.services.spend import SpendService

        today = (now or datetime.now(UTC)).date()
        report = SpendService(self._store, self._access or Access.local()).report(today.replace(day=1), today)
        totals: dict[str, float] = {}
        for row in report:
            totals[row.person] = totals.get(row.person, 0.0) + row.spend_usd
        return {email: round(usd, 6) for email, usd in totals.items()}

    # -- changes --------------------------------------------------------------------------------------

    def add(self, email: str, *, role: str = DESIGNER, budget_usd: float | None = None) -> Person:
        """A new member; InputError when the email is not an address or already a member."""
        by = self._admin()
        person = Person(
            normalise_email(email),
            check_role(role),
            budget_usd=check_budget(budget_usd),
            joined="cli" if self._access is None else "admin",
        )
        return self._store.people.add(person, actor=by)

    def set(
        self,
        email: str,
        *,
        role: str | None = None,
        budget_usd: float | None | Unset = UNSET,
        disabled: bool | None = None,
    ) -> Person:
        """Change a member's role, budget (None: no cap) or disabled flag; InputError for a stranger, and for
        a change that would leave the studio with no enabled admin."""
        by = self._admin()
        address = normalise_email(email)
        changed = self._store.people.update(
            address,
            actor=by,
            role=check_role(role) if role is not None else None,
            budget_usd=budget_usd if isinstance(budget_usd, Unset) else check_budget(budget_usd),
            disabled=disabled,
        )
        if changed is None:
            raise InputError(f"{address} is not a member; add them with `studio users add {address}`.")
        return changed

    def close(self) -> None:
        if self._owns_store:
            self._store.close()

    def __enter__(self) -> PeopleService:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def operator_people(settings: Settings) -> PeopleService:
    """``studio users``: the people service of whoever holds the database's credentials (no sign-in; its
    changes are logged as "operator"). Close it (or use it as a context manager)."""
    return PeopleService(Store.for_settings(settings), None, owns_store=True)


def command_actor(settings: Settings) -> Actor:
    """Whom a command that makes, reads or changes the team's work acts for (``studio generate``, ``batch``,
    ``history``, ``export``, ``import``): without sign-in, the one local person; in team mode ``STUDIO_USER``,
    who must be an enabled member (or join from an allowed domain). Raises NotSignedIn / NotAllowed with the
    sentence to print, before the command writes or sends anything."""
    if not settings.team_mode:
        return Actor.local_person()
    if not settings.user:
        raise NotSignedIn(no_user_sentence(settings))
    store = Store.for_settings(settings)
    try:
        return sign_in(store, settings, settings.user)
    finally:
        store.close()
