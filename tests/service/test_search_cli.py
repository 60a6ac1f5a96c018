"""`studio history --search` speaks the History search box's language (stems, exclusions, dates)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from studio import cli


def test_history_search_stems_excludes_and_names_the_days(studio_env, capsys):
    assert cli.main(["generate", "a ceramic teapot"]) == 0
    assert cli.main(["generate", "a bakery with a teapot"]) == 0
    capsys.readouterr()
    assert cli.main(["history", "--search", "teapots", "--json"]) == 0
    found = [json.loads(line)["prompt"] for line in capsys.readouterr().out.splitlines()]
    assert found == ["a bakery with a teapot", "a ceramic teapot"]
    assert cli.main(["history", "--search", "teapots -bakery", "--json"]) == 0
    found = [json.loads(line)["prompt"] for line in capsys.readouterr().out.splitlines()]
    assert found == ["a ceramic teapot"]
    assert cli.main(["history", "--search", "teapot today", "--json"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert cli.main(["history", "--search", "teapot yesterday"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("No generations match “teapot yesterday” (matching teapot · yesterday (")


def _studio(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed command line, in a process of its own (argparse included)."""
    return subprocess.run(
        [sys.executable, "-m", "studio", *args], capture_output=True, text=True, timeout=120, env=os.environ
    )


def test_a_search_of_exclusions_only_through_the_real_command_line(studio_env):
    assert cli.main(["generate", "a ceramic teapot"]) == 0
    assert cli.main(["generate", "a bakery at dawn"]) == 0
    for args in (
        ["history", "--search=-bakery", "--json"],
        ["history", "--json", "--", "-bakery"],
        ["history", "--json", "teapot -bakery"],
        ["history", "--json", "teapot", "--search", "ceramic"],  # QUERY and --search together
    ):
        out = _studio(*args)
        assert out.returncode == 0, (args, out.stderr)
        assert [json.loads(line)["prompt"] for line in out.stdout.splitlines()] == ["a ceramic teapot"], args
    out = _studio("history", "--search", "teapots", "--json")  # the public --search still works
    assert out.returncode == 0 and len(out.stdout.splitlines()) == 1
    helptext = _studio("history", "--help")
    assert helptext.returncode == 0
    assert "--search=-bakery" in " ".join(helptext.stdout.split())
