"""`studio users` and STUDIO_USER through the real command line, on a real SQLite file and on a real
PostgreSQL 15 (``backend``), with the real emulator counting what reaches it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from studio import cli
from studio.cli.main import COMMANDS, OPERATOR_COMMANDS, TEAM_COMMANDS
from tests.stores import db_execute, open_store

NO_USER = "studio: Sign-in is on (STUDIO_LOGIN=oidc): set STUDIO_USER=you@example.com to say who you are.\n"
PERSON_KEYS = ["email", "role", "budget_usd", "disabled", "joined", "created_at", "spent_usd"]


def studio(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed command line in a process of its own, with ``env`` added to this test's environment."""
    return subprocess.run(
        [sys.executable, "-m", "studio", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def count(sql: str) -> int:
    store = open_store(Path(os.environ["STUDIO_DATA_DIR"]))
    try:
        return int(db_execute(store, sql)[0][0])  # type: ignore[arg-type]
    finally:
        store.close()


def activity() -> list[tuple[object, ...]]:
    store = open_store(Path(os.environ["STUDIO_DATA_DIR"]))
    try:
        return [(a.actor, a.action, a.subject) for a in reversed(store.activity.list())]
    finally:
        store.close()


def test_users_add_set_list_as_the_operator(backend):
    out = studio("users", "add", "Ann@Example.com", "--role", "admin", "--budget", "25")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "Added ann@example.com: admin, budget $25.00 a month.\n"
    assert studio("users", "add", "bob@example.com").returncode == 0

    again = studio("users", "add", "bob@example.com", "--role", "reviewer")
    assert again.returncode == 2
    assert again.stderr.startswith("studio: bob@example.com is already a member")
    nothing = studio("users", "set", "bob@example.com")
    assert nothing.returncode == 2 and "Say what to change" in nothing.stderr
    stranger = studio("users", "set", "eve@example.com", "--role", "admin")
    assert stranger.returncode == 2 and "eve@example.com is not a member" in stranger.stderr
    bad = studio("users", "add", "not-an-email")
    assert bad.returncode == 2 and "is not an email address" in bad.stderr

    changed = studio("users", "set", "bob@example.com", "--budget", "12.5", "--role", "reviewer", "--disable")
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout == "Changed bob@example.com: reviewer, budget $12.50 a month, disabled.\n"
    assert studio("users", "set", "bob@example.com", "--budget", "none", "--enable").returncode == 0

    last = studio("users", "set", "ann@example.com", "--role", "designer")
    assert last.returncode == 2
    assert "ann@example.com is the studio's last admin" in last.stderr
    assert studio("users", "set", "ann@example.com", "--disable").returncode == 2

    listed = studio("users", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    people = json.loads(listed.stdout)
    assert [list(p) for p in people] == [PERSON_KEYS, PERSON_KEYS]
    assert [p["spent_usd"] for p in people] == [0.0, 0.0]
    assert [(p["email"], p["role"], p["budget_usd"], p["disabled"], p["joined"]) for p in people] == [
        ("ann@example.com", "admin", 25.0, False, "cli"),
        ("bob@example.com", "reviewer", None, False, "cli"),
    ]
    text = studio("users", "list", STUDIO_LOGIN="oidc")
    assert text.returncode == 0 and text.stderr == ""  # the operator needs no STUDIO_USER, even in team mode
    assert text.stdout.splitlines() == [
        "ann@example.com  admin     enabled   $0.00 of $25.00 this month",
        "bob@example.com  reviewer  enabled   $0.00 this month, no cap",
    ]

    log = studio("users", "log", "--json", "--action", "users.set")
    assert log.returncode == 0, log.stderr
    assert [(a["actor"], a["action"], a["subject"], a["detail"]) for a in json.loads(log.stdout)] == [
        ("operator", "users.set", "bob@example.com", {"budget_usd": [12.5, None], "disabled": [True, False]}),
        (
            "operator",
            "users.set",
            "bob@example.com",
            {"budget_usd": [None, 12.5], "disabled": [False, True], "role": ["designer", "reviewer"]},
        ),
    ]
    lines = studio("users", "log", "--actor", "operator", "--limit", "1").stdout.splitlines()
    assert len(lines) == 1 and lines[0].endswith(
        "operator  users.set  bob@example.com  (budget_usd 12.5 → None, disabled True → False)"
    )
    assert activity() == [
        ("operator", "users.add", "ann@example.com"),
        ("operator", "users.add", "bob@example.com"),
        ("operator", "users.set", "bob@example.com"),
        ("operator", "users.set", "bob@example.com"),
    ]


@pytest.fixture
def team(monkeypatch, backend, studio_env):
    """A team studio (STUDIO_LOGIN=oidc) pointed at the emulator, with an admin and a disabled designer."""
    assert studio("users", "add", "ann@example.com", "--role", "admin").returncode == 0
    assert studio("users", "add", "dan@example.com").returncode == 0
    assert studio("users", "set", "dan@example.com", "--disable").returncode == 0
    monkeypatch.setenv("STUDIO_LOGIN", "oidc")
    return studio_env


REFUSED = [
    (None, NO_USER),
    (
        "eve@elsewhere.test",
        "studio: eve@elsewhere.test is not a member of this studio. Ask an admin to add you.\n",
    ),
    ("dan@example.com", "studio: Your account (dan@example.com) is disabled. Ask an admin to enable it.\n"),
]


@pytest.mark.parametrize(("user", "sentence"), REFUSED, ids=["no-user", "stranger", "disabled"])
def test_team_commands_refuse_before_writing_or_sending(team, monkeypatch, tmp_path, capsys, user, sentence):
    if user:
        monkeypatch.setenv("STUDIO_USER", user)
    batch = tmp_path / "jobs.csv"
    batch.write_text("prompt\na red kite\n")
    before = len(list(team.requests))
    people = count("SELECT count(*) FROM person")
    commands = [
        ["generate", "a lighthouse", "--json"],
        ["batch", str(batch), "--json"],
        ["history", "--json"],
        ["export", "--out", str(tmp_path / "out.zip")],
        ["import", str(tmp_path / "missing.zip")],  # the sign-in sentence, not "no such file": checked first
    ]
    for argv in commands:
        capsys.readouterr()
        assert cli.main(argv) == 1, argv
        captured = capsys.readouterr()
        assert (captured.out, captured.err) == ("", sentence), argv
    # the real process too: exit 1, the sentence, nothing else
    out = studio("generate", "a lighthouse", "--json")
    assert (out.returncode, out.stdout, out.stderr) == (1, "", sentence)

    assert len(list(team.requests)) == before  # nothing reached the endpoint
    assert count("SELECT count(*) FROM generation") == 0
    assert count("SELECT count(*) FROM run") == 0
    assert count("SELECT count(*) FROM person") == people
    assert not (tmp_path / "out.zip").exists()


def test_a_member_generates_and_the_json_says_who(team, monkeypatch, capsys):
    monkeypatch.setenv("STUDIO_USER", "Ann@Example.com")
    assert cli.main(["generate", "a lighthouse", "--json"]) == 0
    [row] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["status"] == "succeeded" and row["author"] == "ann@example.com" and row["private"] is False
    assert cli.main(["history"]) == 0  # the line for people names who made it
    assert f"#{row['id']} succeeded" in (line := capsys.readouterr().out) and "by ann@example.com" in line
    # the operator's list says what each person spent this month
    spent = {p["email"]: p["spent_usd"] for p in json.loads(studio("users", "list", "--json").stdout)}
    assert row["cost_usd"] > 0 and spent == {
        "ann@example.com": pytest.approx(row["cost_usd"]),
        "dan@example.com": 0.0,
    }
    # another member sees the team's work, with its author
    assert studio("users", "add", "bea@example.com").returncode == 0
    listed = studio("history", "--json", STUDIO_USER="bea@example.com")
    assert listed.returncode == 0, listed.stderr
    [seen] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (seen["id"], seen["author"], seen["private"]) == (row["id"], "ann@example.com", False)


def test_without_sign_in_the_author_is_local_and_no_user_is_needed(studio_env, capsys):
    assert cli.main(["generate", "a lighthouse", "--json"]) == 0
    [row] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (row["status"], row["author"], row["private"]) == ("succeeded", "local", False)
    assert cli.main(["history"]) == 0
    assert " by " not in capsys.readouterr().out  # one person's studio names nobody


def test_an_allowed_domain_joins_as_a_designer_with_the_default_budget(team, monkeypatch):
    monkeypatch.setenv("STUDIO_ALLOWED_DOMAINS", "studio.test, example.org")
    monkeypatch.setenv("STUDIO_DEFAULT_BUDGET", "15")
    out = studio("history", STUDIO_USER="Zoe@Studio.test")
    assert out.returncode == 0, out.stderr
    listed = json.loads(studio("users", "list", "--json").stdout)
    assert {p["email"]: (p["role"], p["budget_usd"], p["joined"]) for p in listed}["zoe@studio.test"] == (
        "designer",
        15.0,
        "domain",
    )
    assert ("zoe@studio.test", "users.join", "zoe@studio.test") in activity()
    # a disabled person of an allowed domain stays out
    assert studio("users", "set", "zoe@studio.test", "--disable").returncode == 0
    refused = studio("history", STUDIO_USER="zoe@studio.test")
    assert refused.returncode == 1 and "disabled" in refused.stderr


def test_concurrent_first_sign_ins_from_processes_make_one_member(team, monkeypatch):
    monkeypatch.setenv("STUDIO_ALLOWED_DOMAINS", "studio.test")
    with ThreadPoolExecutor(6) as pool:
        runs = list(pool.map(lambda _: studio("history", STUDIO_USER="new@studio.test"), range(6)))
    assert [r.returncode for r in runs] == [0] * 6, [r.stderr for r in runs]
    assert count("SELECT count(*) FROM person WHERE email = 'new@studio.test'") == 1
    assert [a for a in activity() if a[1] == "users.join"] == [
        ("new@studio.test", "users.join", "new@studio.test")
    ]


def test_a_generation_over_budget_is_a_refused_record_and_exit_one(team, tmp_path):
    assert studio("users", "set", "ann@example.com", "--budget", "0.01").returncode == 0
    before = len(list(team.requests))
    out = studio("generate", "a lighthouse", "--json", STUDIO_USER="ann@example.com")
    assert out.returncode == 1 and out.stderr == ""
    [row] = [json.loads(line) for line in out.stdout.splitlines()]
    assert (row["status"], row["error"]["kind"], row["author"], row["images"]) == (
        "refused",
        "budget",
        "ann@example.com",
        [],
    )
    assert (
        row["error"]["message"].startswith("This needs about $")
        and "of your $0.01 budget" in row["error"]["message"]
    )
    text = studio("generate", "a lighthouse", STUDIO_USER="ann@example.com")
    assert text.returncode == 1 and " refused " in text.stdout and "Ask an admin to raise it." in text.stdout
    jobs = tmp_path / "jobs.csv"
    jobs.write_text("prompt\na red kite\na blue kite\n")
    batch = studio("batch", str(jobs), "--json", STUDIO_USER="ann@example.com")
    assert batch.returncode == 1, batch.stderr
    rows = [json.loads(line) for line in batch.stdout.splitlines()]
    assert sorted((r["prompt"], r["status"], r["error"]["kind"]) for r in rows) == [
        ("a blue kite", "refused", "budget"),
        ("a red kite", "refused", "budget"),
    ]
    assert len(list(team.requests)) == before  # nothing was sent


def test_every_command_is_a_members_or_the_operators(team, capsys):
    """users, doctor (--repair too), copy-to and emulate are the operator's: they say so in --help, and in a
    team studio they run without STUDIO_USER (the database's credentials are the permission)."""
    assert set(COMMANDS) == TEAM_COMMANDS & set(COMMANDS) | OPERATOR_COMMANDS | {"run"}
    assert not TEAM_COMMANDS & OPERATOR_COMMANDS
    for name in sorted(OPERATOR_COMMANDS):
        helped = studio(name, "--help")
        assert helped.returncode == 0 and "An operator's command" in " ".join(helped.stdout.split()), name
    assert "the operator's commands" in " ".join(studio("--help").stdout.split())
    repaired = studio("doctor", "--repair", "--json")  # no STUDIO_USER in a team studio
    assert repaired.returncode == 0, repaired.stderr
    assert "STUDIO_USER" not in repaired.stderr
