"""Matrix runs: expansion, cell keys, estimates, and running against the real emulator."""

from __future__ import annotations

import io
import json
import threading
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from studio.domain import catalogue, prompts
from studio.domain.errors import InputError
from studio.domain.settings import load_settings
from studio.emulator import Emulator
from studio.imaging import contact_sheet
from studio.services import runs
from studio.services.studio import Studio
from studio.storage.filter_sql import EVERYTHING

pytestmark = pytest.mark.usefixtures("backend")

WORD = st.text(alphabet="abcdefghij", min_size=1, max_size=6)


@pytest.fixture
def emu():
    """A fresh emulator per test: its request log and its spent ``[[fault:NAME*K]]`` counts are per server, and
    every test runs once per backend with the same prompts (a shared server would have spent the fault)."""
    with Emulator(port=0) as server:
        yield server


@pytest.fixture
def studio(emu, tmp_path):
    s = Studio(
        load_settings(
            {
                "STUDIO_BASE_URL": emu.url,
                "STUDIO_API_KEY": "k",
                "STUDIO_DATA_DIR": str(tmp_path / "d"),
                "STUDIO_WORKERS": "8",
            }
        )
    )
    yield s
    s.close()


def generate_requests(emu: Emulator, marker: str) -> list[dict]:
    return [
        r
        for r in list(emu.requests)
        if r["path"].endswith(":generateContent") and marker in json.dumps(r.get("body") or {})
    ]


# -- expansion -------------------------------------------------------------------------------------


@given(
    st.dictionaries(
        st.sampled_from(["a", "b", "c", "d"]), st.lists(WORD, max_size=3, unique=True), max_size=4
    )
)
def test_expand_is_the_full_product_without_duplicates(axes):
    cells = prompts.expand(axes)
    assert len(cells) == prompts.cell_count(axes)
    assert len({json.dumps(c, sort_keys=True) for c in cells}) == len(cells)
    for cell in cells:
        assert set(cell) == {name for name, values in axes.items() if values}


@settings(max_examples=40)
@given(
    st.lists(WORD, min_size=1, max_size=3, unique=True),
    st.lists(WORD, min_size=1, max_size=3, unique=True),
    st.integers(1, 3),
)
def test_plan_fills_every_variable_value_and_keys_are_stable(animals, styles, repeats):
    spec = runs.RunSpec(
        template="a {animal} in {style} style",
        variables={"animal": animals, "style": styles},
        repeats=repeats,
    )
    cells, estimate = runs.plan(spec)
    assert len(cells) == estimate.cells == len(animals) * len(styles) * repeats
    assert {c.prompt for c in cells} == {f"a {a} in {s} style" for a in animals for s in styles}
    assert len({c.key for c in cells}) == len(cells)
    assert [c.key for c in runs.plan(spec)[0]] == [c.key for c in cells]  # same spec, same keys


def test_cell_key_changes_with_any_setting_and_not_with_order():
    base = {"prompt": "p", "model": "m", "seed": 1}
    assert runs.cell_key(base) == runs.cell_key(dict(reversed(list(base.items()))))
    assert runs.cell_key(base) != runs.cell_key({**base, "seed": 2})
    a = runs.plan(runs.RunSpec(prompts=["x"], seeds=[1, 2]))[0]
    b = runs.plan(runs.RunSpec(prompts=["x"], seeds=[1, 2, 3]))[0]
    assert {c.key for c in a} < {c.key for c in b}  # extending keeps the old cells' identity


def test_plan_estimate_matches_the_catalogue():
    spec = runs.RunSpec(
        prompts=["a fox"],
        models=["gemini-3.1-flash-image", "gemini-2.5-flash-image"],
        sizes=["1K", "4K"],
        ratios=["1:1", "16:9"],
    )
    cells, est = runs.plan(spec)
    expected = sum(
        catalogue.estimate(
            c.settings["model"],
            size=c.settings["image_size"],
            ratio=c.settings["aspect_ratio"],
            prompt_chars=len("a fox"),
        ).usd
        for c in cells
    )
    assert est.cells == 8 and est.usd == pytest.approx(expected, abs=1e-3)
    assert est.by_model == {"gemini-3.1-flash-image": 4, "gemini-2.5-flash-image": 4}
    # the 1K-only model makes its one size: its 1K and 4K cells are the same request, so keys differ only by size
    assert {c.settings["image_size"] for c in cells if c.settings["model"] == "gemini-2.5-flash-image"} == {
        None
    }


def test_plan_refuses_what_a_model_does_not_accept():
    with pytest.raises(InputError, match="aspect ratio 1:8"):
        runs.plan(runs.RunSpec(prompts=["x"], models=["gemini-2.5-flash-image"], ratios=["1:8"]))
    with pytest.raises(InputError, match=r"\{animal\}"):
        runs.plan(runs.RunSpec(template="a {animal}"))


# -- running ---------------------------------------------------------------------------------------


def _max_overlap(requests: list[dict]) -> int:
    events = sorted([(r["received_at"], 1) for r in requests] + [(r["answered_at"], -1) for r in requests])
    level = peak = 0
    for _, delta in events:
        level += delta
        peak = max(peak, level)
    return peak


def test_run_keeps_at_most_n_in_flight_and_links_cells(studio, emu):
    spec = runs.RunSpec(template="limit {n} [[latency:0.3]]", variables={"n": [str(i) for i in range(6)]})
    run_id = runs.start(studio, spec, concurrency=2)
    assert runs.wait(studio, run_id, timeout=30)
    seen = generate_requests(emu, "limit ")
    assert len(seen) == 6
    assert 1 <= _max_overlap(seen) <= 2
    progress = runs.progress(studio, run_id)
    assert (progress.succeeded, progress.cells, progress.feeding) == (6, 6, False)
    cells, _ = runs.plan(spec)
    assert set(studio._store.runs.cell_statuses(run_id)) == {c.key for c in cells}
    assert studio._store.runs.get(run_id).status == "done"


def test_cancel_stops_feeding_and_cancels_in_flight(studio, emu):
    spec = runs.RunSpec(template="cancel {n} [[latency:1.5]]", variables={"n": [str(i) for i in range(6)]})
    run_id = runs.start(studio, spec, concurrency=2)
    f = runs.feeder(studio, run_id)
    while f.submitted < 2:
        f.cancelled.wait(0.02)
    assert runs.cancel(studio, run_id)
    assert runs.wait(studio, run_id, timeout=30)
    progress = runs.progress(studio, run_id)
    assert progress.succeeded == 0 and progress.active == 0
    assert progress.waiting >= 4  # never submitted: no row, nothing paid
    assert studio._store.runs.get(run_id).status == "cancelled"
    assert {s for rows in studio._store.runs.cell_statuses(run_id).values() for _, s in rows} == {"cancelled"}


def test_resume_and_extend_only_pay_for_missing_cells(studio, emu):
    # one cell fails once (500 is not retried); resume re-runs only that cell
    spec = runs.RunSpec(prompts=["resume ok", "resume flaky [[fault:500*1]]"], seeds=[7])
    run_id = runs.start(studio, spec, concurrency=2)
    runs.wait(studio, run_id, timeout=30)
    assert runs.progress(studio, run_id).failed == 1
    before = len(generate_requests(emu, "resume "))
    assert runs.resume(studio, run_id) == 1
    runs.wait(studio, run_id, timeout=30)
    assert len(generate_requests(emu, "resume ")) == before + 1
    assert runs.progress(studio, run_id).succeeded == 2
    assert runs.extend(studio, run_id, {"seeds": [8]}) == 2  # two new cells, the old four are kept
    runs.wait(studio, run_id, timeout=30)
    assert len(generate_requests(emu, "resume ")) == before + 3
    assert runs.progress(studio, run_id).succeeded == 4
    assert studio._store.runs.get(run_id).spec["seeds"] == [7, 8]


def test_grid_contact_sheet_and_zip(studio):
    spec = runs.RunSpec(
        template="grid {animal}",
        variables={"animal": ["cat", "dog"]},
        ratios=["1:1", "16:9"],
        seeds=[1],
        repeats=2,
    )
    assert runs.varying_axes(spec) == ["var.animal", "ratio", "repeat"]
    run_id = runs.start(studio, spec, concurrency=4)
    runs.wait(studio, run_id, timeout=30)
    grid = runs.grid(studio._store, run_id, rows="var.animal", cols="ratio", visibility=EVERYTHING)
    assert (grid.row_labels, grid.col_labels) == (["cat", "dog"], ["1:1", "16:9"])
    assert all(
        len(grid.at(r, c)) == 2 and {g.status for g in grid.at(r, c)} == {"succeeded"}
        for r in range(2)
        for c in range(2)
    )
    assert grid.at(1, 0)[0].record.prompt == "grid dog" and grid.at(1, 0)[0].values["ratio"] == "1:1"
    with pytest.raises(InputError, match="no axis"):
        runs.grid(studio._store, run_id, rows="colour", visibility=EVERYTHING)

    sheet = Image.open(io.BytesIO(contact_sheet.render(grid, side=128)))
    assert sheet.format == "PNG"
    assert sheet.width == contact_sheet.LABEL_W + 2 * (128 + contact_sheet.PAD) + contact_sheet.PAD
    assert sheet.height == contact_sheet.HEADER_H + 2 * (128 + contact_sheet.PAD) + contact_sheet.PAD
    cell_pixel = sheet.getpixel((contact_sheet.LABEL_W + 64, contact_sheet.HEADER_H + 64))
    assert cell_pixel != contact_sheet.BACKGROUND  # a thumbnail was pasted

    with zipfile.ZipFile(
        io.BytesIO(
            runs.export_zip(studio._store, run_id, rows="var.animal", cols="ratio", visibility=EVERYTHING)
        )
    ) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        names = zf.namelist()
    assert manifest["run"]["id"] == run_id and len(manifest["cells"]) == 8
    assert all(name in names for cell in manifest["cells"] for name in cell["images"])
    assert "contact-sheet.png" in names


def test_reference_sets_are_an_axis(studio, tmp_path):
    paths = []
    for name, colour in (("red.png", (220, 20, 20)), ("blue.png", (20, 20, 220))):
        Image.new("RGB", (40, 30), colour).save(tmp_path / name)
        paths.append(str(tmp_path / name))
    stashed = runs.stash_references(studio._store, runs.load_references(paths[1:]))
    spec = runs.RunSpec(
        prompts=["refs axis"],
        reference_sets=[{"label": "red", "paths": paths[:1]}, {"label": "blue", "paths": stashed}],
    )
    run_id = runs.start(studio, spec, concurrency=2)
    runs.wait(studio, run_id, timeout=30)
    grid = runs.grid(studio._store, run_id, rows="refs", visibility=EVERYTHING)
    assert grid.row_labels == ["red", "blue"]
    red, blue = grid.at(0, 0)[0].record, grid.at(1, 0)[0].record
    assert red.status == blue.status == "succeeded"
    assert len(red.references) == len(blue.references) == 1
    assert red.references[0].sha256 != blue.references[0].sha256


def test_two_resumes_at_once_pay_once(studio, emu):
    spec = runs.RunSpec(prompts=["twice a [[fault:500*1]]", "twice b [[fault:500*1]]"], seeds=[3])
    run_id = runs.start(studio, spec, concurrency=2)
    runs.wait(studio, run_id, timeout=30)
    assert runs.progress(studio, run_id).failed == 2
    before = len(generate_requests(emu, "twice "))
    outcomes: list[object] = []

    def resume() -> None:
        try:
            outcomes.append(runs.resume(studio, run_id))
        except InputError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=resume) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    runs.wait(studio, run_id, timeout=30)
    # one resume fed both cells; the others found it running (or, if it had already ended, nothing left)
    assert [o for o in outcomes if isinstance(o, int) and o > 0] == [2]
    assert all(isinstance(o, InputError) or o in (0, 2) for o in outcomes) and len(outcomes) == 4
    assert len(generate_requests(emu, "twice ")) == before + 2
