"""Which caps apply to a submission, and the sentences a designer reads about them (services.budgets)."""

from __future__ import annotations

from datetime import UTC, datetime

from studio.domain.people import Person
from studio.domain.settings import load_settings
from studio.services import budgets
from studio.storage.spend_repo import Shortfall, month_bounds

ANN = Person("ann@studio.test", "designer", budget_usd=20.0)
NOW = datetime(2026, 11, 30, 23, 59, 59, 999999, tzinfo=UTC)


def settings(**env: str):
    return load_settings(env={"STUDIO_DATA_DIR": "/tmp/unused", **env})


def test_without_sign_in_only_the_team_budget_applies():
    assert budgets.limits_for(settings(), ANN, NOW) is None
    limits = budgets.limits_for(settings(STUDIO_TEAM_BUDGET="50"), ANN, NOW)
    assert (limits.person_usd, limits.team_usd) == (None, 50.0)


def test_in_team_mode_the_person_and_the_team_caps_apply():
    team = {"STUDIO_LOGIN": "proxy", "STUDIO_PROXY_SECRET": "x" * 16}
    limits = budgets.limits_for(settings(**team, STUDIO_TEAM_BUDGET="200"), ANN, NOW)
    assert (limits.person_usd, limits.team_usd) == (20.0, 200.0)
    assert budgets.limits_for(settings(**team), Person("bob@studio.test", "designer"), NOW) is None
    assert budgets.limits_for(settings(**team), ANN, NOW).team_usd is None


def test_the_month_is_the_utc_calendar_month_of_now():
    assert month_bounds(NOW) == ("2026-11-01T00:00:00.000000+00:00", "2026-12-01T00:00:00.000000+00:00")
    assert month_bounds(datetime(2026, 12, 1, tzinfo=UTC))[0] == "2026-12-01T00:00:00.000000+00:00"
    assert month_bounds(datetime(2026, 12, 31, 23, tzinfo=UTC))[1] == "2027-01-01T00:00:00.000000+00:00"
    limits = budgets.limits_for(settings(STUDIO_TEAM_BUDGET="5"), None, datetime(2027, 1, 1, tzinfo=UTC))
    assert limits.month_start == "2027-01-01T00:00:00.000000+00:00"


def test_the_refusal_says_what_it_needs_what_is_left_and_whom_to_ask():
    mine = Shortfall("person", need_usd=0.16, used_usd=19.96, limit_usd=20.0)
    assert budgets.refusal_sentence(mine) == (
        "This needs about $0.16 but only $0.04 is left of your $20.00 budget this month. Ask an admin to raise it."
    )
    team = Shortfall("team", need_usd=1.07, used_usd=250.0, limit_usd=200.0)  # over already: nothing is left
    assert budgets.refusal_sentence(team) == (
        "This needs about $1.07 but only $0.00 is left of the team's $200.00 budget this month. "
        "Ask an admin to raise the team budget (STUDIO_TEAM_BUDGET)."
    )
    assert "this studio's $200.00 budget" in budgets.refusal_sentence(team, team_mode=False)


def test_the_budget_line():
    assert budgets.line(3.2, 20) == "$3.20 of $20.00 used this month"
    assert budgets.line(1234.5, 2000, team=True) == "$1,234.50 of the team's $2,000.00 used this month"
    assert budgets.usd(0.0039) == "$0.004"
    assert budgets.usd(0) == "$0.00"
    assert budgets.usd(0.039) == "$0.04"
    assert budgets.usd(0.039, precise=True) == "$0.039"  # as Generate shows the estimate
    assert budgets.usd(0.16, precise=True) == "$0.16"
    assert budgets.usd(3.237, precise=True) == "$3.24"
