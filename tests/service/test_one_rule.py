"""One rule on every path (issue 10, item 3): the same request the model does not accept is refused on the
CLI, in a batch, in an Experiment run, in Edit and at ``Studio.submit``, before a row is written or a request
reaches the (real) emulator. Model names are typed as the UI shows them; ``studio export`` names ids it could
not find; ``studio history`` says when nothing matches; ``studio batch --help`` lists its columns."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from studio import cli
from studio.domain import catalogue
from studio.domain.errors import InputError
from studio.domain.requests import GenerationRequest
from studio.domain.settings import load_settings
from studio.imaging import images
from studio.services import batch, editing, runs
from studio.storage import Store
from studio.storage.filter_sql import EVERYTHING
from tests.factories import make_image

FLASH25, PRO = "gemini-2.5-flash-image", "gemini-3-pro-image"


def marker() -> str:
    return f"rule-{uuid.uuid4().hex[:10]}"


def sent(emulator, mark: str) -> list[str]:
    """Prompts of the generate requests carrying ``mark`` that reached the emulator."""
    return [
        r["body"]["contents"][-1]["parts"][0].get("text", "")
        for r in list(emulator.requests)
        if r["path"].endswith(":generateContent") and mark in json.dumps(r.get("body") or {})
    ]


def rows_written(data_dir: Path | None = None) -> int:
    path = data_dir or load_settings().data_dir
    if not (path / "studio.db").exists():
        return 0
    store = Store(path)
    try:
        return len(store.gallery.page(limit=500, include_deleted=True))
    finally:
        store.close()


def ref_files(tmp_path: Path, n: int) -> list[Path]:
    paths = []
    for i in range(n):
        path = tmp_path / f"ref{i}.png"
        path.write_bytes(make_image(32 + i, 24, color=(10 * i, 90, 160)))
        paths.append(path)
    return paths


def refs(tmp_path: Path, n: int):
    return tuple(images.sanitize_upload(p.read_bytes(), p.name) for p in ref_files(tmp_path, n))


#: (what, request fields, the words of the refusal). Seven object references exceed Nano Banana Pro's six
#: (its 11 are 6 objects + 5 characters); 2.5 Flash Image makes 1K only and takes 3 references.
CASES = [
    ("1K-only model at 4K", {"model": FLASH25, "image_size": "4K"}, "image size 4K"),
    ("too many references", {"model": FLASH25, "refs": 4}, "at most 3 reference"),
    ("too many objects on Pro", {"model": PRO, "refs": 7}, "at most 6 object"),
    ("bad ratio", {"model": FLASH25, "aspect_ratio": "1:8"}, "aspect ratio 1:8"),
    ("nine variants", {"model": FLASH25, "variants": 9}, "between 1 and 8"),
]


def request(tmp_path: Path, mark: str, fields: dict) -> GenerationRequest:
    fields = dict(fields)
    n = fields.pop("refs", 0)
    return GenerationRequest(prompt=f"a lantern {mark}", references=refs(tmp_path, n) if n else (), **fields)


# -- Studio.submit: the funnel every path goes through -------------------------------------------------------


def test_studio_submit_refuses_before_a_row_or_a_request(studio, emulator, tmp_path):
    mark = marker()
    for what, fields, words in CASES:
        with pytest.raises(InputError, match=words):
            studio.submit(request(tmp_path, mark, fields))
        assert rows_written(studio._store.data_dir) == 0, what
    modalities = GenerationRequest(prompt=f"text only {mark}", model=PRO, modalities=("TEXT",))
    with pytest.raises(InputError, match="Ask for an image"):
        studio.submit(modalities)
    thinking = GenerationRequest(prompt=f"thinking {mark}", model=FLASH25, thinking_level="HIGH")
    with pytest.raises(InputError, match="no thinking level"):
        studio.submit(thinking)
    assert rows_written(studio._store.data_dir) == 0 and sent(emulator, mark) == []


def test_studio_submit_records_the_catalogue_id_for_a_display_name(studio, emulator):
    mark = marker()
    [record] = studio.generate(
        GenerationRequest(prompt=f"a kite {mark}", model="Nano Banana Pro"), timeout=60
    )
    assert record.model == PRO and record.status == "succeeded"


@pytest.mark.parametrize("typed", ["gemini-2.5-flash", "", "  "])
def test_studio_submit_refuses_a_model_the_cli_refuses(studio, emulator, typed):
    """Generate's "Custom model id" goes through submit: a text model or an empty id is refused there as
    on the command line, before a row is written or a request sent."""
    mark = marker()
    with pytest.raises(InputError, match="not a model the studio knows|No model was named"):
        studio.submit(GenerationRequest(prompt=f"a kite {mark}", model=typed))
    assert rows_written(studio._store.data_dir) == 0 and sent(emulator, mark) == []


# -- studio generate -------------------------------------------------------------------------------------


def _cli_args(tmp_path: Path, mark: str, fields: dict) -> list[str]:
    argv = ["generate", f"a lantern {mark}", "--model", fields["model"]]
    for path in ref_files(tmp_path, fields.get("refs", 0)):
        argv += ["--ref", str(path)]
    for flag, key in (("--size", "image_size"), ("--aspect", "aspect_ratio"), ("--variants", "variants")):
        if key in fields:
            argv += [flag, str(fields[key])]
    return argv


def test_cli_generate_refuses_with_exit_2_before_a_row_or_a_request(studio_env, capsys, tmp_path):
    mark = marker()
    for what, fields, words in CASES:
        assert cli.main(_cli_args(tmp_path, mark, fields)) == 2, what
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err, what
    assert rows_written() == 0 and sent(studio_env, mark) == []


@pytest.mark.parametrize("typed", ["Nano Banana Pro", "nano-banana-pro", "NANO BANANA PRO"])
def test_cli_model_accepts_display_names_and_aliases(studio_env, capsys, typed):
    mark = marker()
    assert cli.main(["generate", f"a kite {mark}", "--model", typed, "--size", "2K", "--json"]) == 0
    [row] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["model"] == PRO and row["settings"]["image_size"] == "2K"
    [request] = [r for r in list(studio_env.requests) if mark in json.dumps(r.get("body") or {})]
    assert f"/models/{PRO}:generateContent" in request["path"]


def test_cli_unknown_model_is_refused_before_a_row(studio_env, capsys):
    mark = marker()
    assert cli.main(["generate", f"a kite {mark}", "--model", "Nano Banana 9"]) == 2
    err = capsys.readouterr().err
    assert "“Nano Banana 9” is not a model the studio knows" in err
    for model in catalogue.MODELS:
        assert model in err
    assert rows_written() == 0 and sent(studio_env, mark) == []


# -- studio batch -----------------------------------------------------------------------------------------


def _batch_row(tmp_path: Path, mark: str, fields: dict) -> dict:
    row = {"prompt": f"bad {mark}", "model": fields["model"]}
    if fields.get("refs"):
        row["refs"] = ";".join(p.name for p in ref_files(tmp_path, fields["refs"]))
    for column, key in (("size", "image_size"), ("aspect", "aspect_ratio"), ("variants", "variants")):
        if key in fields:
            row[column] = fields[key]
    return row


def test_batch_reports_bad_rows_by_line_and_runs_the_good_ones(studio_env, capsys, tmp_path):
    mark = marker()
    lines = [{"prompt": f"good one {mark}"}]
    lines += [_batch_row(tmp_path, mark, fields) for _, fields, _ in CASES]
    lines += [
        {"prompt": f"unknown model {mark}", "model": "Nano Banana 9"},
        {"prompt": f"good two {mark}", "model": "Nano Banana Pro", "size": "2K"},
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")

    assert cli.main(["batch", str(path), "--json"]) == 1
    out, err = capsys.readouterr()
    generations = [
        json.loads(line) for line in out.splitlines()
    ]  # stdout: one generation per line, as before
    assert sorted(g["prompt"] for g in generations) == [f"good one {mark}", f"good two {mark}"]
    assert {g["status"] for g in generations} == {"succeeded"}
    assert {g["prompt"]: g["model"] for g in generations}[f"good two {mark}"] == PRO
    for line, (_, _, words) in enumerate(CASES, start=2):
        assert (
            f"mixed.jsonl, line {line}: " in err and words in err.split(f"line {line}: ")[1].splitlines()[0]
        )
    assert "line 7: “Nano Banana 9” is not a model the studio knows" in err
    assert "Traceback" not in err
    assert sorted(sent(studio_env, mark)) == [f"good one {mark}", f"good two {mark}"]


def test_batch_one_bad_csv_row_among_good_rows(studio_env, capsys, tmp_path):
    mark = marker()
    path = tmp_path / "sizes.csv"
    path.write_text(
        f"prompt,model,size\nfirst {mark},,\nbig {mark},gemini-2.5-flash-image,4K\nlast {mark},,\n",
        encoding="utf-8",
    )
    assert cli.main(["batch", str(path)]) == 1
    err = capsys.readouterr().err
    assert "sizes.csv, line 3: Nano Banana" in err and "does not accept the image size 4K" in err
    assert "2 of 2 cells produced an image" in err
    assert sorted(sent(studio_env, mark)) == [f"first {mark}", f"last {mark}"]  # the 4K row was never sent


def test_batch_help_lists_its_columns(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["batch", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    listed = {line.split()[0] for line in out.splitlines() if line.startswith("  ") and line.split()}
    assert {*batch.COLUMNS, "var.NAME"} <= listed
    assert "Exit status" in out


# -- Experiment (runs) -----------------------------------------------------------------------------------


def test_experiment_runs_refuse_at_plan_and_start(studio, emulator, tmp_path):
    mark = marker()
    seven = [str(p) for p in ref_files(tmp_path, 7)]
    specs = [
        (
            runs.RunSpec(
                prompts=[f"a {mark}"], models=[PRO], reference_sets=[{"label": "A", "paths": seven}]
            ),
            "at most 6 object",
        ),
        (
            runs.RunSpec(
                prompts=[f"a {mark}"], models=[FLASH25], reference_sets=[{"label": "A", "paths": seven[:4]}]
            ),
            "at most 3 reference",
        ),
        (runs.RunSpec(prompts=[f"a {mark}"], models=[FLASH25], ratios=["1:8"]), "aspect ratio 1:8"),
        (runs.RunSpec(prompts=[f"a {mark}"], models=[PRO], modalities=["TEXT"]), "Ask for an image"),
        (
            runs.RunSpec(prompts=[f"a {mark}"], models=[FLASH25], settings={"thinking_level": "HIGH"}),
            "no thinking level",
        ),
        (runs.RunSpec(rows=[{"prompt": f"a {mark}", "model": FLASH25, "size": "4K"}]), "image size 4K"),
        (runs.RunSpec(rows=[{"prompt": f"a {mark}", "model": FLASH25, "variants": 9}]), "between 1 and 8"),
    ]
    for spec, words in specs:
        with pytest.raises(InputError, match=words):
            runs.plan(spec)
        with pytest.raises(InputError, match=words):
            runs.start(studio, spec)
    assert studio._store.runs.list_runs() == []
    assert rows_written(studio._store.data_dir) == 0 and sent(emulator, mark) == []


def test_a_stored_run_the_rule_now_refuses_still_opens_but_is_not_resumed(studio, emulator):
    mark = marker()
    spec = runs.RunSpec(
        name="old.csv", rows=[{"prompt": f"old {mark}", "model": FLASH25, "size": "4K", "line": 2}]
    )
    run_id = studio._store.runs.create(kind="batch", name="old.csv", spec=spec.to_json())
    assert runs.progress(studio, run_id).waiting == 1  # History and Experiment can still show it
    assert runs.grid(studio._store, run_id, rows="row", visibility=EVERYTHING).row_labels == ["2"]
    with pytest.raises(InputError, match="image size 4K"):
        runs.resume(studio, run_id)
    assert rows_written(studio._store.data_dir) == 0 and sent(emulator, mark) == []


# -- Edit (conversation) ---------------------------------------------------------------------------------


def test_edit_refuses_before_a_row_or_a_request(studio, emulator, tmp_path):
    mark = marker()
    for what, fields, words in CASES:
        if "variants" in fields:
            continue  # an edit turn is one image
        req = request(tmp_path, mark, fields)
        with pytest.raises(InputError, match=words):
            editing.start_edit(
                studio,
                req.prompt,
                model=req.model,
                references=req.references,
                aspect_ratio=req.aspect_ratio,
                image_size=req.image_size,
            )
        assert rows_written(studio._store.data_dir) == 0, what
    [parent] = studio.generate(GenerationRequest(prompt=f"parent {mark}", model=PRO), timeout=60)
    assert parent.status == "succeeded"
    with pytest.raises(InputError, match="at most 6 object"):
        editing.continue_edit(studio, parent.id, f"add more {mark}", refs(tmp_path, 7))
    with pytest.raises(InputError, match="aspect ratio 1:8"):
        editing.continue_edit(studio, parent.id, f"taller {mark}", aspect_ratio="1:8")
    assert rows_written(studio._store.data_dir) == 1
    assert sent(emulator, mark) == [f"parent {mark}"]


# -- studio export / studio history -----------------------------------------------------------------------


def test_export_names_the_ids_it_could_not_find(studio_env, capsys, tmp_path):
    assert cli.main(["generate", f"to export {marker()}"]) == 0
    capsys.readouterr()
    out = tmp_path / "out.zip"
    assert cli.main(["export", "--out", str(out), "1", "999"]) == 2
    assert "Generation 999 is not in the history; nothing was exported." in capsys.readouterr().err
    assert cli.main(["export", "--out", str(out), "998", "999"]) == 2
    assert "Generations 998, 999 are not in the history" in capsys.readouterr().err
    assert not out.exists()
    assert cli.main(["export", "--out", str(out), "1"]) == 0 and out.exists()


def test_history_says_when_nothing_matches(studio_env, capsys):
    assert cli.main(["history"]) == 0
    assert capsys.readouterr().out.strip() == "The history is empty."
    assert cli.main(["history", "--json"]) == 0
    assert capsys.readouterr().out == ""  # --json: one object per generation, so nothing
    assert cli.main(["generate", "a lighthouse"]) == 0
    capsys.readouterr()
    assert cli.main(["history", "--search", "zebra"]) == 0
    assert capsys.readouterr().out.strip() == "No generations match “zebra”."
    assert cli.main(["history", "--search", "zebra", "--json"]) == 0
    assert capsys.readouterr().out == ""
