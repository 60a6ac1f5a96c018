"""Who is calling: the people of a team studio, their roles, and the caller a service acts for.

Plain values, no IO. ``services.access`` applies the rules; ``storage.people_repo`` keeps the people.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from studio.domain.errors import InputError

ADMIN, DESIGNER, REVIEWER = "admin", "designer", "reviewer"
ROLES = (ADMIN, DESIGNER, REVIEWER)
LOGIN_MODES = ("none", "oidc", "proxy")
#: The author recorded with ``STUDIO_LOGIN=none``: the one person on this machine.
LOCAL_EMAIL = "local"
#: ``collection_share.email`` for "the whole team".
WHOLE_TEAM = "*"

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def normalise_email(text: str) -> str:
    """``text`` as the one spelling stored and compared (trimmed, lower case); InputError when it is not an
    email address."""
    email = (text or "").strip().lower()
    if not _EMAIL.fullmatch(email):
        raise InputError(f"{text!r} is not an email address (write it as name@example.com).")
    return email


def check_role(role: str) -> str:
    value = (role or "").strip().lower()
    if value not in ROLES:
        raise InputError(f"The role must be one of {', '.join(ROLES)}, not {role!r}.")
    return value


def check_budget(usd: float | None) -> float | None:
    """A monthly budget in US dollars; None means no personal cap."""
    if usd is None:
        return None
    if usd != usd or usd < 0:  # NaN or negative
        raise InputError("A budget is a number of US dollars, zero or more.")
    return round(float(usd), 2)


@dataclass(frozen=True)
class Person:
    """A member of a team studio."""

    email: str
    role: str
    budget_usd: float | None = None  # per calendar month (UTC); None: no personal cap
    disabled: bool = False
    joined: str = "cli"  # how they became a member: "cli", "admin" (the Admin page) or "domain"
    created_at: str = ""


@dataclass(frozen=True)
class Actor:
    """The caller a service acts for. ``email`` None: signed out (sees and does nothing).

    ``local``: ``STUDIO_LOGIN=none``, the one person on this machine, who may do everything."""

    email: str | None
    role: str | None = None
    local: bool = False

    @classmethod
    def signed_out(cls) -> Actor:
        return cls(None, None)

    @classmethod
    def local_person(cls) -> Actor:
        return cls(LOCAL_EMAIL, ADMIN, local=True)

    @classmethod
    def of(cls, person: Person) -> Actor:
        return cls(person.email, person.role)

    @property
    def signed_in(self) -> bool:
        return self.email is not None and self.role in ROLES

    @property
    def is_admin(self) -> bool:
        return self.signed_in and self.role == ADMIN

    @property
    def can_generate(self) -> bool:
        """Admins and designers spend the key; reviewers never do."""
        return self.signed_in and self.role in (ADMIN, DESIGNER)

    @property
    def sees_team(self) -> bool:
        """Admins and designers see the team's generations (not others' private ones, unless admin);
        reviewers see only collections shared with them."""
        return self.signed_in and self.role in (ADMIN, DESIGNER)


class Unset:
    """The type of ``UNSET``: "leave this field as it is" where None is a value (no budget)."""

    _instance: Unset | None = None

    def __new__(cls) -> Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"


UNSET = Unset()


@dataclass(frozen=True)
class ActivityRecord:
    """One line of the audit log: who (``actor``: an email, "local" or "operator") did what (``action``,
    dotted: "users.add", "tags.add", ...) to what (``subject``), when (``at``, UTC ISO text)."""

    id: int
    at: str
    actor: str
    action: str
    subject: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
