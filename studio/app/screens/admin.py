"""Admin: the people of the studio (add, role, budget, disable), what the studio spent (by person, model and
day, for a chosen period, as charts and CSV), and the activity log. Admins only: the services refuse anyone
else (``session.people`` and ``session.spend`` check), the page only says so."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import altair as alt
import streamlit as st

from studio.app import resources
from studio.app.widgets import components
from studio.domain.errors import NotAllowed, StudioError
from studio.domain.people import ROLES, Person

studio = resources.session_or_stop()
components.page_header(
    "Admin", "People, budgets, spend and the activity log of this studio.", demo=studio.is_demo
)

NO_AUTHOR = "before accounts"  # generations made before sign-in existed have no author
EDITOR = "adm_people_editor"
EDITOR_ROUND = "adm_people_round"  # bumped after a save: the editor starts again from the stored rows
FLASH = "adm_flash"


def _money(usd: float | None) -> str:
    return "no cap" if usd is None else f"${usd:,.2f}"


def _today() -> date:
    return datetime.now(UTC).date()


def _month_start(day: date) -> date:
    return day.replace(day=1)


spend = studio.spend

try:
    people = studio.people.list()
except NotAllowed as exc:
    st.error(components.escape_md(str(exc)), icon=":material/lock:")
    st.stop()
except StudioError as exc:
    st.error(components.escape_md(str(exc)), icon=":material/error:")
    st.stop()

flash = st.session_state.pop(FLASH, None)
if flash:
    kind, text = flash
    (st.success if kind == "ok" else st.error)(components.escape_md(text), icon=None)

people_tab, spend_tab, log_tab = st.tabs(["People", "Spend", "Activity"])


# -- people --------------------------------------------------------------------------------------------


def _month_used() -> dict[str, float]:
    """This month's spend per person (the dashboard's rows, summed)."""
    today = _today()
    used: dict[str, float] = defaultdict(float)
    try:
        for row in spend.report(_month_start(today), today):
            used[row.person] += row.spend_usd
    except StudioError:
        pass
    return used


def _people_rows(persons: list[Person]) -> list[dict[str, Any]]:
    used = _month_used()
    return [
        {
            "Email": p.email,
            "Role": p.role,
            "Budget / month": p.budget_usd,
            "Used this month": round(used.get(p.email, 0.0), 2),
            "Enabled": not p.disabled,
            "Joined": {"domain": "by email domain", "admin": "added here", "cli": "studio users"}.get(
                p.joined, p.joined
            ),
        }
        for p in persons
    ]


def _save_people(before: list[dict[str, Any]]) -> None:
    """Apply the editor's changes, one person at a time; each refusal is said as a sentence."""
    state = st.session_state.get(f"{EDITOR}_{st.session_state.get(EDITOR_ROUND, 0)}") or {}
    edited = state.get("edited_rows") or {}
    done, errors = [], []
    for index, change in sorted(edited.items()):
        row = before[int(index)]
        kwargs: dict[str, Any] = {}
        if "Role" in change and change["Role"] != row["Role"]:
            kwargs["role"] = change["Role"]
        if "Budget / month" in change and change["Budget / month"] != row["Budget / month"]:
            kwargs["budget_usd"] = change["Budget / month"]
        if "Enabled" in change and change["Enabled"] != row["Enabled"]:
            kwargs["disabled"] = not change["Enabled"]
        if not kwargs:
            continue
        try:
            studio.people.set(row["Email"], **kwargs)
            done.append(row["Email"])
        except StudioError as exc:
            errors.append(str(exc))
    st.session_state[EDITOR_ROUND] = st.session_state.get(EDITOR_ROUND, 0) + 1
    if errors:
        saved = f" Saved: {', '.join(done)}." if done else ""
        st.session_state[FLASH] = ("error", " ".join(errors) + saved)
    elif done:
        st.session_state[FLASH] = ("ok", f"Saved: {', '.join(done)}.")


def _add_person() -> None:
    ss = st.session_state
    email = (ss.get("adm_add_email") or "").strip()
    budget = ss.get("adm_add_budget")
    try:
        person = studio.people.add(email, role=ss.get("adm_add_role") or "designer", budget_usd=budget)
    except StudioError as exc:
        ss[FLASH] = ("error", str(exc))
        return
    ss[FLASH] = ("ok", f"{person.email} can now sign in as a {person.role}.")
    ss["adm_add_email"] = ""
    ss["adm_add_budget"] = None
    ss[EDITOR_ROUND] = ss.get(EDITOR_ROUND, 0) + 1


with people_tab:
    rows = _people_rows(people)
    st.caption(
        f"{len(people)} {'person' if len(people) == 1 else 'people'}. Change a role, a monthly budget (empty: no "
        "personal cap) or untick Enabled to stop someone within a minute, then Save changes."
    )
    st.data_editor(
        rows,
        key=f"{EDITOR}_{st.session_state.get(EDITOR_ROUND, 0)}",
        hide_index=True,
        width="stretch",
        num_rows="fixed",
        disabled=["Email", "Used this month", "Joined"],
        column_config={
            "Email": st.column_config.TextColumn("Email", width="medium"),
            "Role": st.column_config.SelectboxColumn(
                "Role", options=list(ROLES), required=True, width="small"
            ),
            "Budget / month": st.column_config.NumberColumn(
                "Budget / month", min_value=0.0, step=1.0, format="$%.2f", width="small"
            ),
            "Used this month": st.column_config.NumberColumn(
                "Used this month", format="$%.2f", width="small"
            ),
            "Enabled": st.column_config.CheckboxColumn("Enabled", width="small"),
            "Joined": st.column_config.TextColumn("Joined", width="small"),
        },
    )
    st.button(
        "Save changes",
        type="primary",
        icon=":material/save:",
        key="adm_save",
        on_click=_save_people,
        args=(rows,),
    )

    st.subheader("Add a person", anchor=False)
    with st.container(horizontal=True, vertical_alignment="bottom", key="adm_add_row"):
        st.text_input("Email", key="adm_add_email", placeholder="name@example.com", width=320)
        st.selectbox("Role", ROLES, index=ROLES.index("designer"), key="adm_add_role", width=160)
        st.number_input(
            "Monthly budget (USD)",
            min_value=0.0,
            step=5.0,
            value=None,
            key="adm_add_budget",
            placeholder="no cap",
            width=200,
        )
        st.button("Add", icon=":material/person_add:", key="adm_add", on_click=_add_person)
    if studio.settings.allowed_domains:
        joining_budget = components.escape_md(_money(studio.settings.default_budget))
        st.caption(
            "People with an email at "
            + ", ".join(f"`{d}`" for d in studio.settings.allowed_domains)
            + f" join as designers when they first sign in (budget {joining_budget})."
        )


# -- spend ---------------------------------------------------------------------------------------------


def _period() -> tuple[date, date] | None:
    today = _today()
    presets = {
        "This month": (_month_start(today), today),
        "Last month": (
            _month_start(_month_start(today) - timedelta(days=1)),
            _month_start(today) - timedelta(days=1),
        ),
        "Last 30 days": (today - timedelta(days=29), today),
        "Last 90 days": (today - timedelta(days=89), today),
    }
    with st.container(horizontal=True, vertical_alignment="bottom", key="adm_period_row"):
        choice = st.segmented_control("Period", [*presets, "Custom"], default="This month", key="adm_period")
        if choice == "Custom":
            picked = st.date_input(
                "From – to", value=presets["This month"], max_value=today, key="adm_range", width=260
            )
            if isinstance(picked, tuple) and len(picked) == 2:
                return picked[0], picked[1]
            return None  # the second day is not picked yet
    return presets.get(choice or "This month", presets["This month"])


def _chart_rows(rows: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "day": r.day,
            "person": r.person or NO_AUTHOR,
            "model": components.model_label(r.model) if r.model else "unknown",
            "spend": round(r.spend_usd, 4),
            "images": r.images,
            "failures": r.failures,
            "tokens": r.tokens,
        }
        for r in rows
    ]


def _day_axis(start: date, end: date, labels: int = 10) -> alt.X:
    """Every day of the period on the axis (a quiet day is a gap, not a missing column), labelled sparsely."""
    days = [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]
    step = max(1, round(len(days) / labels))
    return alt.X(
        "day:O",
        title=None,
        scale=alt.Scale(domain=days, paddingInner=0.25),
        axis=alt.Axis(values=days[::step], labelAngle=0, labelExpr="utcFormat(toDate(datum.value), '%b %d')"),
    )


def _spend_charts(data: list[dict[str, Any]], start: date, end: date) -> None:
    source = alt.Data(values=data)
    by_day = (
        alt.Chart(source, title="Spend by day", height=300)
        .mark_bar()
        .encode(
            x=_day_axis(start, end),
            y=alt.Y("sum(spend):Q", title="USD", axis=alt.Axis(format="$,.2f")),
            color=alt.Color("person:N", title="Person", legend=alt.Legend(orient="right")),
            tooltip=[
                alt.Tooltip("day:N", title="Day"),
                alt.Tooltip("person:N", title="Person"),
                alt.Tooltip("sum(spend):Q", title="Spend", format="$,.2f"),
            ],
        )
    )
    st.altair_chart(by_day, width="stretch")
    left, right = st.columns(2, gap="medium")
    with left:
        by_model = (
            alt.Chart(source, title="Spend by model", height=260)
            .mark_bar()
            .encode(
                y=alt.Y("model:N", title=None, sort="-x", axis=alt.Axis(labelLimit=240)),
                x=alt.X("sum(spend):Q", title="USD", axis=alt.Axis(format="$,.2f")),
                tooltip=[
                    alt.Tooltip("model:N", title="Model"),
                    alt.Tooltip("sum(spend):Q", title="Spend", format="$,.2f"),
                ],
            )
        )
        st.altair_chart(by_model, width="stretch")
    with right:
        outcomes = (
            alt.Chart(source, title="Images and failures by day", height=260)
            .transform_fold(["images", "failures"], as_=["what", "count"])
            .mark_bar()
            .encode(
                x=_day_axis(start, end, labels=5),
                y=alt.Y("sum(count):Q", title="Count"),
                color=alt.Color(
                    "what:N",
                    title=None,
                    scale=alt.Scale(domain=["images", "failures"], range=["#5b4bdb", "#d1495b"]),
                    legend=alt.Legend(orient="top"),
                ),
                tooltip=[
                    alt.Tooltip("day:N", title="Day"),
                    alt.Tooltip("what:N", title="What"),
                    alt.Tooltip("sum(count):Q", title="Count"),
                ],
            )
        )
        st.altair_chart(outcomes, width="stretch")


def _per_person(data: list[dict[str, Any]]) -> list[dict[str, Any]]:
    totals: dict[str, dict[str, Any]] = {}
    for row in data:
        t = totals.setdefault(
            row["person"], {"Person": row["person"], "Spend": 0.0, "Images": 0, "Tokens": 0, "Failures": 0}
        )
        t["Spend"] += row["spend"]
        t["Images"] += row["images"]
        t["Tokens"] += row["tokens"]
        t["Failures"] += row["failures"]
    return sorted(totals.values(), key=lambda t: -t["Spend"])


with spend_tab:
    period = _period()
    if period is None:
        st.caption("Pick the last day of the period.")
    else:
        start, end = period
        try:
            report: list[Any] | None = spend.report(start, end)
        except StudioError as exc:
            st.error(components.escape_md(str(exc)), icon=":material/error:")
            report = None
        if report is not None:
            data = _chart_rows(report)
            spent = sum(r["spend"] for r in data)
            with st.container(horizontal=True, key="adm_metrics"):
                st.metric("Spend", f"${spent:,.2f}", border=True)
                st.metric("Images", f"{sum(r['images'] for r in data):,}", border=True)
                st.metric("Failures", f"{sum(r['failures'] for r in data):,}", border=True)
                st.metric("People", f"{len({r['person'] for r in data})}", border=True)
                if studio.settings.team_budget is not None:
                    st.metric("Team cap (month)", _money(studio.settings.team_budget), border=True)
            if not data:
                st.info(
                    f"Nothing was generated from {start:%d %b %Y} to {end:%d %b %Y}.",
                    icon=":material/query_stats:",
                )
            else:
                _spend_charts(data, start, end)
                st.dataframe(
                    _per_person(data),
                    hide_index=True,
                    width="stretch",
                    column_config={
                        "Spend": st.column_config.NumberColumn(format="$%.2f"),
                        "Tokens": st.column_config.NumberColumn(format="localized"),
                    },
                )
            st.download_button(
                "Download CSV",
                data=spend.csv(report),
                file_name=f"studio-spend-{start:%Y-%m-%d}-to-{end:%Y-%m-%d}.csv",
                mime="text/csv",
                icon=":material/download:",
                key="adm_csv",
                on_click="ignore",
            )


# -- activity ------------------------------------------------------------------------------------------

with log_tab:
    since = st.date_input(
        "Since", value=_today() - timedelta(days=30), max_value=_today(), key="adm_log_since", width=200
    )
    try:
        records = studio.people.activity(since=since, limit=500)
    except StudioError as exc:
        st.error(components.escape_md(str(exc)), icon=":material/error:")
        records = []
    if not records:
        st.caption("No activity in this period.")
    else:
        st.dataframe(
            [
                {
                    "When (UTC)": r.at[:19].replace("T", " "),
                    "Who": r.actor,
                    "Action": r.action,
                    "Subject": r.subject,
                    "Detail": json.dumps(r.detail, ensure_ascii=False, sort_keys=True) if r.detail else "",
                }
                for r in records
            ],
            hide_index=True,
            width="stretch",
        )
        if len(records) == 500:
            st.caption("The newest 500 lines of this period.")
