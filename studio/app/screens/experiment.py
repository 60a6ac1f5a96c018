"""Experiment: build a matrix run, see its count and cost first, run it, and compare the results as a grid."""

from __future__ import annotations

import hashlib
from pathlib import Path

import streamlit as st

from studio.app import resources
from studio.app.widgets import advanced_panel as advanced
from studio.app.widgets import components, guard, references
from studio.app.widgets import gallery_grid as gallery
from studio.domain import advanced_controls as controls
from studio.domain import catalogue
from studio.domain.axes import axis_label, value_label
from studio.domain.errors import StudioError
from studio.imaging import images
from studio.services import runs
from studio.services import templates as library
from studio.services.session import StudioSession

RUN = "exp_run"
MAX_SETS = 3
REF_CACHE = "exp_ref_cache"  # sha256 of the uploaded bytes -> stashed path of its sanitised copy

studio = resources.session_or_stop()
components.page_header(
    "Experiment", "Vary one thing at a time and compare the results side by side.", demo=studio.is_demo
)


def _error(exc: StudioError) -> None:
    st.error(components.escape_md(str(exc)), icon=":material/error:")


def _values(text: str) -> list[str]:
    """One value per line; a single line may also be comma-separated."""
    lines = [v.strip() for v in text.splitlines() if v.strip()]
    if len(lines) == 1 and "," in lines[0]:
        lines = [v.strip() for v in lines[0].split(",") if v.strip()]
    return list(dict.fromkeys(lines))


def _seeds(text: str) -> list[int]:
    out = []
    for value in _values(text):
        if not value.lstrip("-").isdigit():
            raise StudioError(f"Seeds must be whole numbers (got “{value}”).")
        out.append(int(value))
    return out


def _reference_sets(count: int) -> list[dict]:
    sets = []
    for i in range(count):
        label = f"set {chr(65 + i)}"
        files = st.file_uploader(
            f"Reference {label}",
            type=["png", "jpg", "jpeg", "webp"],
            accept_multiple_files=True,
            key=f"exp_refs_{i}",
        )
        references.restore_elsewhere(studio, files or [], key=f"exp_refs_{i}")
        paths = [_stashed(f.getvalue(), f.name) for f in files or []]
        if paths:
            sets.append({"label": label, "paths": paths})
    return sets


def _stashed(data: bytes, name: str) -> str:
    """Sanitise and stash an upload once: every widget change reruns the page with the same files."""
    cache: dict[str, str] = st.session_state.setdefault(REF_CACHE, {})
    digest = hashlib.sha256(data).hexdigest()
    if digest not in cache or not Path(cache[digest]).exists():
        cache[digest] = studio.runs.stash_references([images.sanitize_upload(data, name)])[0]
    return cache[digest]


def _advanced(models: list[str]) -> dict:
    """Controls every chosen model accepts; the others are disabled with the first model's reason."""
    with st.expander("Advanced", icon=":material/tune:", key="exp_adv_box"):
        if len(models) > 1:
            st.caption("Only what every chosen model accepts can be set for the whole run.")
        chosen = advanced.advanced(
            "exp",
            controls.supported_by_all(models),
            controls.common_levels(models),
            skip=(controls.SEED, controls.IMAGE_SEARCH),
        )
    # unset values stay out of the cells' settings, so cell keys of plain runs do not change
    return {
        k: list(v) if isinstance(v, tuple) else v for k, v in chosen.items() if v not in (None, False, ())
    }


def _builder() -> runs.RunSpec | None:
    saved = studio.templates.templates()
    if saved:
        pick = st.selectbox(
            "Start from a library template",
            [None, *[t.id for t in saved]],
            key="exp_pick",
            format_func=lambda i: "—" if i is None else next(t.name for t in saved if t.id == i),
        )
        if pick is not None and st.button("Load template", key="exp_load"):
            st.session_state["exp_template"] = next(t.body for t in saved if t.id == pick)
    template = st.text_area(
        "Prompt or template", key="exp_template", height=90, placeholder="a {animal} in {style} style"
    )
    # a variable name is [A-Za-z0-9_]: escaping it only escapes "_", so the label reads the same
    variables = {
        name: _values(
            st.text_area(
                f"Values for {{{components.escape_md(name)}}} (one per line)",
                key=f"exp_var_{name}",
                height=80,
            )
        )
        for name in library.variables(template)
    }
    models = st.multiselect(
        "Models",
        list(catalogue.MODELS),
        default=[catalogue.DEFAULT_MODEL],
        key="exp_models",
        format_func=components.model_label,
    )
    if not models:  # the run uses the default: say so rather than show an empty list
        default = components.escape_md(components.model_label(catalogue.DEFAULT_MODEL))
        st.caption(f"No model chosen: the run uses **{default}**.")
    specs = [catalogue.lookup(m) for m in models] or [catalogue.lookup(catalogue.DEFAULT_MODEL)]
    ratio_options = [r for r in catalogue.RATIOS_14 if all(r in s.ratios for s in specs)]
    size_options = list(dict.fromkeys(z for s in specs for z in s.sizes))
    # Full width each: in half a column a chosen ratio's chip shrank to a bare "×" (issue 12).
    ratios = st.multiselect(
        "Aspect ratios", ratio_options, key="exp_ratios", placeholder="Default ratio (choose to compare)"
    )
    sizes = st.multiselect(
        "Image sizes",
        size_options,
        key="exp_sizes",
        placeholder="Default size (choose to compare)",
        help="Models with one size make it whatever is chosen here.",
    )
    left, right = st.columns([2, 1])
    seeds_text = left.text_input("Seeds (comma-separated, optional)", key="exp_seeds")
    repeats = right.number_input("Repeats", min_value=1, max_value=8, value=1, key="exp_repeats")
    n_sets = st.number_input(
        "Reference-image sets", min_value=0, max_value=MAX_SETS, value=0, key="exp_nsets"
    )
    extra = _advanced(models or [catalogue.DEFAULT_MODEL])
    try:
        return runs.RunSpec(
            template=template,
            variables=variables,
            models=models or [catalogue.DEFAULT_MODEL],
            ratios=ratios,
            sizes=sizes,
            seeds=_seeds(seeds_text),
            repeats=int(repeats),
            reference_sets=_reference_sets(int(n_sets)),
            settings=extra,
        )
    except StudioError as exc:
        _error(exc)
        return None


def _launch(spec: runs.RunSpec) -> None:
    if not spec.template.strip() and not spec.reference_sets:
        st.caption(
            ":material/info: Write a prompt or a template with `{variables}` to see the cells and their cost."
        )
        return
    try:
        cells, estimate = runs.plan(spec)
    except StudioError as exc:
        _error(exc)
        return
    st.markdown(
        f":material/grid_view: **{estimate.cells} cells** · :material/payments: "
        f"**\\${estimate.usd:.3f}** estimated at list prices"
    )
    left, right = st.columns(2)
    concurrency = left.number_input(
        "Run at most this many at once", min_value=1, max_value=16, value=4, key="exp_concurrency"
    )
    threshold = right.number_input(
        "Ask me to confirm above (USD)", min_value=0.0, value=1.0, step=0.5, key="exp_threshold"
    )
    confirmed = True
    if estimate.usd > threshold:
        confirmed = st.checkbox(
            f"Yes, spend about \\${estimate.usd:.2f} on {estimate.cells} images", key="exp_confirm"
        )
    if st.button(
        "Run",
        type="primary",
        icon=":material/play_arrow:",
        key="exp_start",
        disabled=not confirmed or not studio.settings.has_key or not spec.template.strip(),
    ):
        if not guard.allow("run_start", guard.fingerprint(spec.to_json(), int(concurrency))):
            return
        try:
            st.session_state[RUN] = studio.runs.start(spec, concurrency=int(concurrency))
        except StudioError as exc:
            guard.forget("run_start")
            _error(exc)


def _open(gen_id: int) -> None:
    gallery.select(gen_id)
    st.switch_page("screens/history.py")


def _grid(run_id: int, spec: runs.RunSpec) -> None:
    axes = list(runs.axes_of(spec))
    varying = runs.varying_axes(spec) or axes[:1]
    left, right = st.columns(2)
    rows = left.selectbox("Rows", axes, index=axes.index(varying[0]), key="exp_rows", format_func=axis_label)
    cols = right.selectbox(
        "Columns",
        [None, *axes],
        key="exp_cols",
        index=1 + axes.index(varying[1]) if len(varying) > 1 else 0,
        format_func=axis_label,
    )
    grid = studio.runs.grid(run_id, rows, cols)
    header = st.columns([1] + [2] * len(grid.col_labels))
    if cols:
        header[0].caption(
            f"{components.escape_md(axis_label(rows))} × {components.escape_md(axis_label(cols))}"
        )
    for c, text in enumerate(grid.col_labels):
        header[c + 1].markdown(f"**{components.escape_md(value_label(cols, text) if cols else text)}**")
    for r, text in enumerate(grid.row_labels):
        line = st.columns([1] + [2] * len(grid.col_labels))
        label = value_label(rows, text) if rows else text
        line[0].markdown(f"**{components.escape_md(components.excerpt(label, 60))}**")
        for c in range(len(grid.col_labels)):
            with line[c + 1], st.container(border=True):
                for cell in grid.at(r, c):
                    _cell(cell)


def _cell(cell: runs.GridCell) -> None:
    record = cell.record
    if record is not None and record.images:
        components.thumbnail(record.images[0])
    components.status_badge(cell.status if cell.status != runs.WAITING else "pending")
    if record is not None:
        if studio.is_active(record.id):
            st.button(
                "Cancel",
                key=f"exp_cancel_{record.id}",
                icon=":material/stop:",
                on_click=_cancel,
                args=(studio, record.id),
            )
        else:
            st.button(f"Open #{record.id}", key=f"exp_open_{cell.key}", on_click=_open, args=(record.id,))


def _cancel(studio: StudioSession, gen_id: int) -> None:  # a button callback returns nothing
    studio.cancel(gen_id)


def _cancel_run(studio: StudioSession, run_id: int) -> None:
    studio.runs.cancel(run_id)


def _panel(run_id: int) -> None:
    run = studio.runs.get(run_id)
    if run is None:
        st.session_state.pop(RUN, None)
        return
    spec = runs.RunSpec.from_json(run.spec)
    progress = studio.runs.progress(run_id)
    st.subheader(f"Run #{run.id} · {components.escape_md(run.name)}", anchor=False)
    st.progress(
        progress.finished / max(1, progress.cells),
        text=f"{progress.succeeded} done · {progress.failed} failed · {progress.active} running · "
        f"{progress.waiting} waiting",
    )
    if progress.feeding:
        st.button(
            "Cancel run",
            key="exp_cancel_run",
            icon=":material/stop_circle:",
            on_click=_cancel_run,
            args=(studio, run_id),
        )
    _grid(run_id, spec)
    if not progress.feeding:
        _after(run_id, progress)


@st.fragment(run_every=1.0)
@resources.rerun_when_refused
def _live(run_id: int) -> None:
    if not studio.runs.is_running(run_id) and not studio.runs.progress(run_id).active:
        st.rerun()
    _panel(run_id)


def _after(run_id: int, progress: runs.RunProgress) -> None:
    rows, cols = st.session_state.get("exp_rows"), st.session_state.get("exp_cols")
    a, b, c = st.columns(3)
    a.download_button(
        "Contact sheet (PNG)",
        key="exp_sheet",
        icon=":material/grid_on:",
        on_click="ignore",
        data=lambda: studio.runs.contact_sheet(run_id, rows, cols),
        file_name=f"studio-run-{run_id}.png",
        mime="image/png",
    )
    b.download_button(
        "All images (ZIP)",
        key="exp_zip",
        icon=":material/folder_zip:",
        on_click="ignore",
        data=lambda: studio.runs.contact_sheet_zip(run_id, rows, cols),
        file_name=f"studio-run-{run_id}.zip",
        mime="application/zip",
    )
    if progress.waiting or progress.failed:
        if c.button(
            f"Run the {progress.waiting + progress.failed} missing cells",
            key="exp_resume",
            icon=":material/replay:",
        ):
            _guarded("run_resume", guard.fingerprint(run_id), studio.runs.resume, run_id)
    run = studio.runs.get(run_id)
    if run is None:  # deleted since the panel read it
        return
    with st.expander("Extend this run", icon=":material/add_box:"):
        more = st.text_input("More seeds (comma-separated)", key="exp_more_seeds")
        repeats = st.number_input(
            "Repeats",
            min_value=1,
            max_value=8,
            key="exp_more_repeats",
            value=int(runs.RunSpec.from_json(run.spec).repeats),
        )
        if st.button("Extend", key="exp_extend"):
            try:
                change = {"seeds": _seeds(more), "repeats": int(repeats)}
            except StudioError as exc:
                _error(exc)
                return
            _guarded("run_extend", guard.fingerprint(run_id, change), studio.runs.extend, run_id, change)


def _guarded(action: str, print_: str, fn, *args) -> None:
    """A paid run action, once per intent (a double click within seconds is refused)."""
    if not guard.allow(action, print_):
        return
    try:
        fn(*args)
    except StudioError as exc:
        guard.forget(action)
        _error(exc)
        return
    st.rerun()


def _past_runs() -> None:
    past = studio.runs.recent(limit=30)
    if not past:
        return
    choice = st.selectbox(
        "Reopen a past run",
        [None, *[r.id for r in past]],
        key="exp_past",
        format_func=lambda i: (
            "—" if i is None else next(f"#{r.id} {r.kind} · {r.name} ({r.status})" for r in past if r.id == i)
        ),
    )
    if choice is not None and st.button("Open run", key="exp_reopen"):
        st.session_state[RUN] = choice
        st.rerun()


build, results = st.columns([4, 7], gap="large")
with build:
    with st.container(border=True):
        spec_ = _builder()
        if spec_ is not None:
            _launch(spec_)
    _past_runs()
with results:
    current = st.session_state.get(RUN)
    if current is None:
        st.caption("Build a run on the left. Its cells appear here as a grid.")
    elif studio.runs.is_running(current):
        _live(current)
    else:
        _panel(current)
