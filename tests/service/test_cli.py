"""The `studio` command's public contract: JSON shape, exit codes, messages (real HTTP to the emulator)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from studio import cli
from studio.domain.requests import GenerationRequest
from tests.factories import make_image

JSON_KEYS = {"id", "status", "model", "prompt", "finish_reason", "text", "images", "usage", "error"}


def _lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def test_generate_json_shape_and_exit_zero(studio_env, capsys, tmp_path):
    ref = tmp_path / "ref.jpg"
    ref.write_bytes(make_image(fmt="JPEG"))
    code = cli.main(
        [
            "generate",
            "a lighthouse",
            "--model",
            "gemini-3.1-flash-image",
            "--aspect",
            "4:1",
            "--size",
            "512",
            "--variants",
            "2",
            "--text",
            "--ref",
            str(ref),
            "--json",
        ]
    )
    rows = _lines(capsys)
    assert code == 0 and len(rows) == 2
    for row in rows:
        assert JSON_KEYS <= set(row) and row["status"] == "succeeded" and row["error"] is None
        [image] = row["images"]
        assert set(image) == {"path", "sha256", "mime_type", "width", "height"}
        assert (image["width"], image["height"]) == (1024, 256) and image["mime_type"] == "image/jpeg"
        assert image["path"].startswith("/") and row["usage"]["totalTokenCount"] > 0
        assert row["text"]  # --text asked for text and image


def test_generate_failure_exits_one_with_error_kind(studio_env, capsys):
    assert cli.main(["generate", "nope [[fault:no_image]]", "--json"]) == 1
    [row] = _lines(capsys)
    assert row["status"] == "no_image" and row["error"]["kind"] == "no_image" and row["images"] == []


@pytest.mark.parametrize(
    "argv",
    [
        ["generate", "x", "--variants", "9"],
        ["generate", "x", "--aspect", "7:3"],
        ["generate", "x", "--ref", "/nonexistent.png"],
        ["history", "--limit", "0"],
        ["frobnicate"],
    ],
)
def test_bad_usage_exits_two_with_a_sentence(studio_env, capsys, argv):
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    assert code == 2
    assert capsys.readouterr().err.strip()


def test_no_key_explains_how_to_set_one(capsys):
    assert cli.main(["generate", "a fox"]) == 1
    err = capsys.readouterr().err
    assert "STUDIO_API_KEY" in err and "--demo" in err and "Traceback" not in err


def test_history_lists_newest_first_and_searches(studio_env, capsys):
    for prompt in ("alpha lighthouse", "beta teapot"):
        assert cli.main(["generate", prompt]) == 0
    capsys.readouterr()
    assert cli.main(["history", "--json"]) == 0
    assert [r["prompt"] for r in _lines(capsys)] == ["beta teapot", "alpha lighthouse"]
    assert cli.main(["history", "--search", "lighthouse", "--json"]) == 0
    assert [r["prompt"] for r in _lines(capsys)] == ["alpha lighthouse"]


def test_history_json_carries_each_generations_composition(studio, capsys):
    """Provenance can be checked from outside: a composed generation says how; a typed one says null."""
    composed = {
        "mode": "text",
        "template": {"id": 1, "name": "Animal", "values": {"animal": "fox"}},
        "presets": ["Warm"],
    }
    ids = studio.submit(
        GenerationRequest(prompt="a fox reading", model="gemini-2.5-flash-image", composition=composed)
    )
    ids += studio.submit(GenerationRequest(prompt="a plain teapot", model="gemini-2.5-flash-image"))
    studio.wait(ids, timeout=30)
    assert cli.main(["history", "--json"]) == 0
    rows = {row["id"]: row for row in _lines(capsys)}
    assert rows[ids[0]]["composition"] == composed
    assert rows[ids[1]]["composition"] is None
    assert JSON_KEYS <= set(rows[ids[0]])  # extended, nothing renamed


def test_installed_entry_point_and_emulator_help():
    out = subprocess.run(
        [sys.executable, "-m", "studio", "emulate", "--help"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0
    for fault in ("429", "blocked", "no_image", "stall", "relay_error_200"):
        assert fault in out.stdout
