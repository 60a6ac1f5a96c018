"""``SpendService``: what a person has used of their budget this month, and the team's spend report.

The report, the CSV and anyone else's month are for admins; a member may read their own month and line
(Generate shows "$3.20 of $20.00 used this month")."""

from __future__ import annotations

import csv as csv_module
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol

from studio.domain.errors import InputError
from studio.domain.people import LOCAL_EMAIL, Actor, normalise_email
from studio.domain.settings import Settings
from studio.services import budgets
from studio.storage import Store
from studio.storage.spend_repo import SpendRepository, SpendRow, month_bounds

#: Longest period one report covers.
MAX_REPORT_DAYS = 366
CSV_COLUMNS = ("day", "person", "model", "spend_usd", "images", "tokens", "failures", "generations")


class Checks(Protocol):
    """What SpendService needs of ``services.access.Access``."""

    @property
    def actor(self) -> Actor: ...

    def require_member(self) -> Actor: ...

    def require_admin(self) -> Actor: ...


@dataclass(frozen=True)
class MonthSpend:
    """A person's month: ``used_usd`` (final costs), ``reserved_usd`` (generations still running),
    their budget (None: no cap), and the team's use and cap."""

    used_usd: float
    reserved_usd: float
    limit_usd: float | None
    team_used_usd: float
    team_limit_usd: float | None

    @property
    def total_usd(self) -> float:
        """What counts against the budget: spent plus reserved."""
        return round(self.used_usd + self.reserved_usd, 6)


class SpendService:
    def __init__(self, store: Store, access: Checks, settings: Settings | None = None) -> None:
        self._repo = SpendRepository(store.db)
        self._people = store.people
        self._access = access
        self._settings = settings

    def _caller_may_read(self, email: str | None) -> str:
        """The stored spelling of whose month to read (trimmed, lower case: ``normalise_email``), so a
        month asked for as typed is the person's, never an empty month of a spelling no row carries."""
        actor = self._access.require_member()
        assert actor.email is not None
        if email is None or email.strip().lower() == actor.email:
            return actor.email
        self._access.require_admin()
        return LOCAL_EMAIL if email.strip().lower() == LOCAL_EMAIL else normalise_email(email)

    def month(self, email: str | None = None, *, now: datetime | None = None) -> MonthSpend:
        """``email``'s month (None: the caller's own). Another person's month is for admins."""
        who = self._caller_may_read(email)
        start, end = month_bounds(now or datetime.now(UTC))
        mine = self._repo.month(since=start, until=end, author=who)
        team = self._repo.month(since=start, until=end)
        limit = self._person_limit(who)
        team_limit = self._settings.team_budget if self._settings is not None else None
        return MonthSpend(mine.spent_usd, mine.reserved_usd, limit, team.used_usd, team_limit)

    def _person_limit(self, email: str) -> float | None:
        if self._settings is not None and not self._settings.team_mode:
            return None
        person = self._people.get(email)
        return person.budget_usd if person is not None else None

    def line(self, email: str | None = None, *, now: datetime | None = None) -> str | None:
        """'$3.20 of $20.00 used this month' for the cap that applies (a personal budget first, else the
        team cap); None when no cap applies."""
        spend = self.month(email, now=now)
        if spend.limit_usd is not None:
            return budgets.line(spend.total_usd, spend.limit_usd)
        if spend.team_limit_usd is not None:
            return budgets.line(spend.team_used_usd, spend.team_limit_usd, team=self._team_mode)
        return None

    @property
    def _team_mode(self) -> bool:
        return self._settings is not None and self._settings.team_mode

    def report(self, start: date, end: date) -> list[SpendRow]:
        """Spend, images, tokens and failures per day, person and model (admins only)."""
        self._access.require_admin()
        if end < start:
            raise InputError("The period ends before it starts; pick an end date on or after the start.")
        if (end - start).days >= MAX_REPORT_DAYS:
            raise InputError(f"Pick a period of at most {MAX_REPORT_DAYS} days.")
        return self._repo.report(start, end)

    def csv(self, rows: Sequence[SpendRow]) -> str:
        """The report as CSV (admins only): one line per day, person and model."""
        self._access.require_admin()
        out = io.StringIO()
        writer = csv_module.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for row in rows:
            writer.writerow(
                [
                    row.day,
                    _cell(row.person),
                    _cell(row.model),
                    f"{row.spend_usd:.4f}",
                    row.images,
                    row.tokens,
                    row.failures,
                    row.generations,
                ]
            )
        return out.getvalue()


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


__all__ = ["CSV_COLUMNS", "MAX_REPORT_DAYS", "MonthSpend", "SpendRow", "SpendService"]
