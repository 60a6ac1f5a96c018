"""`studio batch FILE`: file reading, exit codes, and resuming after SIGKILL without paying twice."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from studio import cli
from studio.emulator import Emulator
from studio.services import batch

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def emu():
    with Emulator(port=0) as server:
        yield server


@pytest.fixture
def env(emu, monkeypatch):
    monkeypatch.setenv("STUDIO_BASE_URL", emu.url)
    monkeypatch.setenv("STUDIO_API_KEY", "test-key")
    return emu


def generate_prompts(emu: Emulator) -> list[str]:
    return [
        r["body"]["contents"][-1]["parts"][0]["text"]
        for r in list(emu.requests)
        if r["path"].endswith(":generateContent") and r.get("body")
    ]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "name, text, expected",
    [
        ("a.csv", "prompt,colour\nx,red\n", "line 1: unknown column 'colour'"),
        ("c.csv", "prompt,seed\nx,one\n", "line 2: seed must be a whole number"),
        ("d.csv", "prompt,refs\nx,missing.png\n", "line 2: the reference image missing.png does not exist"),
        ("f.csv", "prompt,variants\nx,9\n", "line 2: Ask for between 1 and 8 variants (got 9)"),
        ("f0.csv", "prompt,variants\nx,0\n", "line 2: Ask for between 1 and 8 variants (got 0)"),
        ("g.csv", 'prompt,var.animal\n"a {animal}",\n', "line 2: Fill in the template's variables: {animal}"),
        ("j.jsonl", '{"prompt": "ok", "ratio": "1:1"}\n', "line 1: unknown key 'ratio'"),
        ("k.csv", "prompt\n", "has no rows"),
        (
            "l.csv",
            "prompt,size\nx,4K,extra\n",
            "line 2: this row has more values than the header has columns",
        ),
        ("m.csv", "prompt,model\nx,dall-e-3\n", "line 2: “dall-e-3” is not a model the studio knows"),
    ],
)
def test_bad_files_exit_2_naming_the_line(tmp_path, capsys, name, text, expected):
    """A file no row of which can run is bad usage: nothing is opened or paid for."""
    path = write(tmp_path, name, text)
    assert cli.main(["batch", str(path)]) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert not (tmp_path / "data" / "studio.db").exists()  # nothing opened, nothing paid


@pytest.mark.parametrize(
    "name, text, expected, good",
    [
        ("b.csv", "prompt,aspect\nfine,1:1\nnot fine,7:3\n", "line 3: Nano Banana", ["fine"]),
        (
            "e.csv",
            'prompt,model,size\n"multi\nline",gemini-2.5-flash-image,\nx,gemini-3.1-flash-image,8K\n',
            "line 4: Nano Banana 2",
            ["multi\nline"],
        ),
        (
            "h.jsonl",
            '{"prompt": "ok"}\n\n{"prompt": "x", "text": "maybe"}\n',
            "line 3: text must be yes or no",
            ["ok"],
        ),
        ("i.jsonl", '{"prompt": "ok"}\n{"prompt": \n', "line 2: not valid JSON", ["ok"]),
    ],
)
def test_a_bad_row_is_named_and_the_others_run(env, tmp_path, capsys, name, text, expected, good):
    path = write(tmp_path, name, text)
    assert cli.main(["batch", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{name}, {expected}" in err and "will not run" in err
    assert generate_prompts(env) == good


def test_rows_read_templates_refs_and_variants(tmp_path):
    Image.new("RGB", (20, 20), (1, 2, 3)).save(tmp_path / "ref.png")
    path = write(
        tmp_path,
        "rows.jsonl",
        json.dumps(
            {
                "prompt": "a {animal}",
                "vars": {"animal": "fox"},
                "refs": "ref.png",
                "variants": 2,
                "seed": 5,
                "text": True,
                "aspect": "16:9",
            }
        )
        + "\n",
    )
    rows, sha = batch.read_rows(path)
    assert rows[0]["refs"] == [str((tmp_path / "ref.png").resolve())] and len(sha) == 64
    from studio.services import runs

    cells, _ = runs.plan(runs.RunSpec(rows=rows))
    assert [c.prompt for c in cells] == ["a fox", "a fox"]
    assert [c.settings["seed"] for c in cells] == [5, 6] and cells[0].settings["modalities"] == [
        "TEXT",
        "IMAGE",
    ]


def test_batch_runs_prints_json_and_a_rerun_pays_nothing(env, tmp_path, capsys):
    path = write(
        tmp_path,
        "run.csv",
        'prompt,aspect,var.x\n"batch {x}",1:1,one\n"batch {x}",16:9,two\n"batch {x}",16:9,two\n',
    )
    assert cli.main(["batch", str(path), "--json", "--concurrency", "2"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 3 and {line["status"] for line in lines} == {"succeeded"}
    assert {"id", "status", "images", "settings", "error"} <= set(lines[0])
    assert sorted(generate_prompts(env)) == [
        "batch one",
        "batch two",
        "batch two",
    ]  # a repeated row runs twice
    assert cli.main(["batch", str(path), "--json"]) == 0
    assert len(generate_prompts(env)) == 3
    assert "3 of 3 cells already done" in capsys.readouterr().err


def test_a_failed_cell_exits_1_and_is_retried_by_a_rerun(env, tmp_path, capsys):
    path = write(tmp_path, "flaky.csv", "prompt\nsteady\nflaky [[fault:500*1]]\n")
    assert cli.main(["batch", str(path)]) == 1
    assert cli.main(["batch", str(path)]) == 0
    assert sorted(generate_prompts(env)) == ["flaky [[fault:500*1]]"] * 2 + ["steady"]


def _studio_succeeded(data_dir: Path) -> set[str]:
    from studio.storage import Store

    store = Store(data_dir)
    try:
        return {r.prompt for r in store.gallery.page(limit=100) if r.status == "succeeded"}
    finally:
        store.close()


def test_resume_after_sigkill_pays_only_for_unfinished_cells(emu, tmp_path):
    rows = [f"kill {i} [[latency:0.4]]" for i in range(8)]
    path = write(tmp_path, "kill.csv", "prompt\n" + "".join(f'"{r}"\n' for r in rows))
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env.update(
        STUDIO_BASE_URL=emu.url,
        STUDIO_API_KEY="k",
        STUDIO_DATA_DIR=str(tmp_path / "data"),
        PYTHONPATH=str(ROOT),
    )
    cmd = [sys.executable, "-m", "studio", "batch", str(path), "--json", "--concurrency", "2"]
    proc = subprocess.Popen(
        cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        for _ in range(3):  # three cells finished: kill it while others are in flight
            assert json.loads(proc.stdout.readline())["status"] == "succeeded"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    done = _studio_succeeded(tmp_path / "data")
    assert 3 <= len(done) < len(rows)

    rerun = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 0, rerun.stderr
    # Counted per prompt, not sliced by position: the emulator logs a request's body a moment after the
    # request itself, so a call in flight at the kill can land in the log after the rerun's first calls.
    paid = Counter(generate_prompts(emu))
    assert {row: paid[row] for row in done} == dict.fromkeys(done, 1)  # nothing finished was paid for again
    assert all(paid[row] >= 1 for row in set(rows) - done)
    assert _studio_succeeded(tmp_path / "data") == set(rows)
    # A cell whose paid answer was journaled but not yet saved at the kill is adopted when the rerun opens
    # the studio, so it counts as done too (and was not paid again: checked above for every row).
    resumed = re.search(r"(\d+) of (\d+) cells already done", rerun.stderr)
    assert resumed, rerun.stderr
    assert len(done) <= int(resumed[1]) < len(rows) and int(resumed[2]) == len(rows)
