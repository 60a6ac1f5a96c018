"""`studio history --search` speaks the History search box's language (stems, exclusions, dates)."""

from __future__ import annotations

import json

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
