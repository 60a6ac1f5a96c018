"""What the team spends: the monthly sums a budget is checked against, and the spend report (Admin).

A budget needs no ledger that could drift from the history: a generation reserves its list-price estimate
(``generation.estimate_usd``) while it is active (pending or running), and counts its ``cost_usd`` once it is
final: the list price of what came back (a reply without an image: its reported tokens,
``catalogue.reply_usd``); the estimate for a call that may have been billed without an answer saying so
(interrupted after it was sent, timed out, cancelled while waiting: ``StudioError.may_have_billed``); 0 when
nothing was charged (refused, or cancelled or interrupted before sending). So "used this month" is one sum over
the month's rows (imported rows left out: ``exchange_repo.IMPORTED_OWNER``) plus the rows emptied from the
trash (``removed_spend``, written in the transaction that deletes them), read with the ``(author,
created_at)`` and ``created_at`` indexes of both tables.

The check and the insert it allows happen in one write transaction holding the budget lock
(``lock_budget``): PostgreSQL's ``pg_advisory_xact_lock`` on a fixed key, released at commit; SQLite's write
transaction (``BEGIN IMMEDIATE``) is already one writer at a time. Two submissions can therefore never both
see the same room under the cap, whichever process or machine they come from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Float, case, func, literal, union_all
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from studio.domain.requests import ACTIVE_STATUSES, CANCELLED, FINAL_STATUSES, SUCCEEDED
from studio.storage.database import Database
from studio.storage.exchange_repo import IMPORTED_OWNER
from studio.storage.tables import Generation, RemovedSpend

#: pg_advisory_xact_lock key of the budget check ("budget" in ASCII); migrations use "studio".
BUDGET_LOCK_KEY = 0x627564676574
#: Final statuses a report counts as failures: everything that did not end with an image, except a
#: cancellation (the designer's own choice). A budget refusal counts: someone was stopped.
FAILURE_STATUSES = tuple(s for s in FINAL_STATUSES if s not in (SUCCEEDED, CANCELLED))


def stamp(moment: datetime) -> str:
    """``moment`` in the text form of ``generation.created_at`` (UTC ISO 8601 with microseconds), so that
    text comparison is time order on both backends."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def month_bounds(now: datetime) -> tuple[str, str]:
    """The calendar month (UTC) holding ``now``: its first instant, and the next month's."""
    now = now.astimezone(UTC)
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    following = datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, tzinfo=UTC)
    return stamp(start), stamp(following)


@dataclass(frozen=True)
class Shortfall:
    """Why a submission does not fit: ``scope`` "person" (the author's budget) or "team" (the team cap)."""

    scope: str
    need_usd: float
    used_usd: float  # final costs plus active reservations this month, before this submission
    limit_usd: float

    @property
    def left_usd(self) -> float:
        return max(0.0, self.limit_usd - self.used_usd)


def plain_sentence(shortfall: Shortfall) -> str:
    """The refusal's sentence when the caller gave none (``services.budgets.refusal_sentence`` words it)."""
    whose = "your" if shortfall.scope == "person" else "the team's"
    return (
        f"This needs about ${shortfall.need_usd:.2f} but only ${shortfall.left_usd:.2f} is left of {whose} "
        f"${shortfall.limit_usd:.2f} budget this month."
    )


@dataclass(frozen=True)
class BudgetLimits:
    """The caps a submission is checked against. ``person_usd``: the author's monthly budget (None: no
    personal cap); ``team_usd``: everyone's together (``STUDIO_TEAM_BUDGET``); ``month_start``: the first
    instant of this month in ``created_at``'s text form (``month_bounds``). ``explain`` words a refusal."""

    person_usd: float | None
    team_usd: float | None
    month_start: str
    explain: Callable[[Shortfall], str] = plain_sentence

    @property
    def has_cap(self) -> bool:
        return self.person_usd is not None or self.team_usd is not None


@dataclass(frozen=True)
class MonthSums:
    """One month's money: ``spent_usd`` (final rows' cost) and ``reserved_usd`` (active rows' estimates)."""

    spent_usd: float = 0.0
    reserved_usd: float = 0.0

    @property
    def used_usd(self) -> float:
        return round(self.spent_usd + self.reserved_usd, 6)


@dataclass(frozen=True)
class SpendRow:
    """One line of the spend report: a day (UTC, ``YYYY-MM-DD``), a person (their email; "" for work made
    before accounts existed) and a model."""

    day: str
    person: str
    model: str
    spend_usd: float
    images: int
    tokens: int
    failures: int
    generations: int


def lock_budget(session: Session) -> None:
    """Take the budget lock for the rest of this write transaction (PostgreSQL; SQLite's IMMEDIATE write
    transaction already excludes every other writer)."""
    if session.get_bind().dialect.name == "postgresql":
        session.exec(select(func.pg_advisory_xact_lock(BUDGET_LOCK_KEY)))


def _spend_rows(since: str, until: str | None = None, author: str | None = None) -> Any:
    """The rows a month's money is summed over: the history's (imported rows left out) and the removed
    ones' (``removed_spend``: emptying the trash never gives budget back), each branch filtered on its own
    ``(author, created_at)`` / ``created_at`` index. Columns: created_at, author, model, status, cost_usd,
    estimate_usd, n_images, total_tokens."""
    g, r = Generation, RemovedSpend
    here: Any = sa_select(
        col(g.created_at).label("created_at"),
        col(g.author).label("author"),
        col(g.model).label("model"),
        col(g.status).label("status"),
        col(g.cost_usd).label("cost_usd"),
        col(g.estimate_usd).label("estimate_usd"),
        col(g.n_images).label("n_images"),
        col(g.total_tokens).label("total_tokens"),
    ).where(col(g.created_at) >= since, col(g.owner) != IMPORTED_OWNER)
    gone: Any = sa_select(
        col(r.created_at),
        col(r.author),
        col(r.model),
        col(r.status),
        col(r.cost_usd),
        literal(None, Float).label("estimate_usd"),
        col(r.n_images),
        col(r.total_tokens),
    ).where(col(r.created_at) >= since)
    if until is not None:
        here, gone = here.where(col(g.created_at) < until), gone.where(col(r.created_at) < until)
    if author is not None:
        here, gone = here.where(col(g.author) == author), gone.where(col(r.author) == author)
    return union_all(here, gone).subquery("spend_rows")


def _spent(rows: Any) -> Any:
    """Final rows' cost (an active row counts 0 here: it reserves its estimate instead)."""
    return func.sum(
        case((rows.c.status.in_(ACTIVE_STATUSES), 0.0), else_=func.coalesce(rows.c.cost_usd, 0.0))
    )


def month_sums(
    session: Session, *, since: str, until: str | None = None, author: str | None = None
) -> MonthSums:
    """Spent and reserved since ``since`` (before ``until``), for ``author`` or (None) for everyone."""
    rows = _spend_rows(since, until, author)
    active = rows.c.status.in_(ACTIVE_STATUSES)
    reserved = func.sum(case((active, func.coalesce(rows.c.estimate_usd, 0.0)), else_=0.0))
    row = session.execute(sa_select(func.coalesce(_spent(rows), 0.0), func.coalesce(reserved, 0.0))).one()
    return MonthSums(round(float(row[0] or 0.0), 6), round(float(row[1] or 0.0), 6))


def shortfall(
    session: Session, limits: BudgetLimits, author: str | None, need_usd: float
) -> Shortfall | None:
    """Whether ``need_usd`` more fits this month under ``limits``; the tightest cap it breaks, else None.
    Call it under ``lock_budget``, in the transaction that then inserts the rows."""
    found: list[Shortfall] = []
    if limits.person_usd is not None:
        used = month_sums(session, since=limits.month_start, author=author or "").used_usd
        if used + need_usd > limits.person_usd + 1e-9:
            found.append(Shortfall("person", need_usd, used, limits.person_usd))
    if limits.team_usd is not None:
        used = month_sums(session, since=limits.month_start).used_usd
        if used + need_usd > limits.team_usd + 1e-9:
            found.append(Shortfall("team", need_usd, used, limits.team_usd))
    return min(found, key=lambda s: s.left_usd) if found else None


class SpendRepository:
    """The month sums outside a submission (the budget line) and the Admin page's spend report."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def month(self, *, since: str, until: str | None = None, author: str | None = None) -> MonthSums:
        with self.db.read() as session:
            return month_sums(session, since=since, until=until, author=author)

    def report(self, start: date, end: date) -> list[SpendRow]:
        """Spend, images, tokens and failures per day, person and model, from ``start`` to ``end`` (UTC days,
        both included), oldest day first, then most spent. Imported generations are not this studio's
        spend and are left out."""
        since = stamp(datetime.combine(start, time(), tzinfo=UTC))
        until = stamp(datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC))
        rows = _spend_rows(since, until)
        day = func.substr(rows.c.created_at, 1, 10)
        person = func.coalesce(rows.c.author, literal(""))
        spend = func.coalesce(_spent(rows), 0.0)
        images = func.coalesce(func.sum(rows.c.n_images), 0)
        tokens = func.coalesce(func.sum(func.coalesce(rows.c.total_tokens, 0)), 0)
        failures = func.sum(case((rows.c.status.in_(FAILURE_STATUSES), 1), else_=0))
        query = (
            sa_select(day, person, rows.c.model, spend, images, tokens, failures, func.count())
            .group_by(day, person, rows.c.model)
            .order_by(day, spend.desc(), person, rows.c.model)
        )
        with self.db.read() as session:
            found = session.execute(query).all()
        return [
            SpendRow(
                day=str(d),
                person=str(p),
                model=str(m),
                spend_usd=round(float(s or 0.0), 6),
                images=int(i or 0),
                tokens=int(t or 0),
                failures=int(f or 0),
                generations=int(n or 0),
            )
            for d, p, m, s, i, t, f, n in found
        ]
