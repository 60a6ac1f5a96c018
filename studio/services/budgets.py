"""Monthly budgets: which caps apply to a submission, and the sentences a designer reads about them.

- A person's budget (``person.budget_usd``, set by an admin; people who join through an allowed domain get
  ``STUDIO_DEFAULT_BUDGET``) caps what they spend per calendar month (UTC). None: no personal cap.
- ``STUDIO_TEAM_BUDGET`` caps everyone together. With ``STUDIO_LOGIN=none`` (one person, no accounts) it is
  the only cap: a monthly ceiling on what this studio spends with its key.

Each submission reserves its list-price estimate before anything is sent (``create_pending_many``: the check
and the rows in one transaction under the budget lock) and counts its actual cost once final, so spend
passes a cap by at most one generation's estimate-to-actual difference. What counts once final:

- an image: its list price; a reply without one (blocked, filtered, text only): the tokens it reports,
  priced by ``catalogue.reply_usd`` (the endpoint bills them although no image came back);
- a call interrupted after it was sent (a stop or a crash while it was out): its estimate, since the
  endpoint may have billed it and cannot be asked; one interrupted before sending: nothing;
- imported generations: nothing here (their costs were another studio's, and a ZIP may state anything).

Prompt enhancement (``StudioSession.enhance``: "Enhance" on Generate) is deliberately not metered: it is
one short call to the text model (``STUDIO_TEXT_MODEL``) that a designer makes by hand: a few thousand
tokens at most, under a cent with the default gemini-2.5-flash ($0.30 / $2.50 per million tokens in / out).
It needs the generate role and is never part of a batch or a run. Reserving it would write a history row
per click for a fraction of a cent; the trade-off is that these cents show on the key's bill and not in
the spend report, and a cap is never enforced against them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from studio.domain.people import Person
from studio.domain.settings import Settings
from studio.storage.spend_repo import BudgetLimits, Shortfall, month_bounds


def usd(amount: float, *, precise: bool = False) -> str:
    """Dollars as a designer reads them: cents, or a tenth of a cent below one cent. ``precise``: amounts
    under a dollar keep their tenth of a cent, as Generate's estimate shows them ("$0.039 estimated")."""
    if 0 < abs(amount) < 0.01 or (precise and abs(amount) < 1 and round(amount, 3) != round(amount, 2)):
        return f"${amount:.3f}"
    return f"${amount:,.2f}"


def limits_for(settings: Settings, person: Person | None, now: datetime | None = None) -> BudgetLimits | None:
    """The caps on ``person``'s submissions this month (``now``, UTC), or None when none applies.

    Team mode: the person's own budget and the team cap. ``STUDIO_LOGIN=none``: the team cap only (there are
    no people to give budgets to)."""
    person_usd = person.budget_usd if settings.team_mode and person is not None else None
    team_usd = settings.team_budget
    if person_usd is None and team_usd is None:
        return None
    start, _ = month_bounds(now or datetime.now(UTC))
    return BudgetLimits(
        person_usd=person_usd,
        team_usd=team_usd,
        month_start=start,
        explain=lambda short: refusal_sentence(short, team_mode=settings.team_mode),
    )


def refusal_sentence(short: Shortfall, *, team_mode: bool = True) -> str:
    """What a refused submission says: what it needs, what is left, and whom to ask."""
    need, left, limit = (
        usd(short.need_usd, precise=True),
        usd(short.left_usd, precise=True),
        usd(short.limit_usd),
    )
    if short.scope == "person":
        return (
            f"This needs about {need} but only {left} is left of your {limit} budget this month. "
            "Ask an admin to raise it."
        )
    if team_mode:
        return (
            f"This needs about {need} but only {left} is left of the team's {limit} budget this month. "
            "Ask an admin to raise the team budget (STUDIO_TEAM_BUDGET)."
        )
    return (
        f"This needs about {need} but only {left} is left of this studio's {limit} budget this month "
        "(STUDIO_TEAM_BUDGET). Raise it to generate more."
    )


def line(used_usd: float, limit_usd: float, *, team: bool = False) -> str:
    """'$3.20 of $20.00 used this month' (the team's cap: "of the team's $200.00")."""
    whose = "the team's " if team else ""
    return f"{usd(used_usd)} of {whose}{usd(limit_usd)} used this month"
