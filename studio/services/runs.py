"""Matrix runs: vary prompts, template values, models, ratios, sizes, seeds, reference sets and repeats.

``plan`` expands a ``RunSpec`` into cells (each with a stable ``cell_key``, a hash of its settings) and a
list-price estimate, before anything is paid for. ``start`` stores the run and feeds its cells to the
studio's job pool with at most N in flight, from a thread owned by the process (a Streamlit rerun
does not stop it). ``resume``/``extend`` re-plan and submit only cells without a succeeded (or still
running) generation, so nothing is paid for twice. A batch file is a run whose cells are its rows.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.domain import catalogue, prompts
from studio.domain.errors import InputError, NoKey, NotAllowed, StudioError
from studio.domain.grid import Grid as Grid  # re-exported: the Experiment page names runs.Grid
from studio.domain.grid import GridCell as GridCell
from studio.domain.requests import ACTIVE_STATUSES, SUCCEEDED, GenerationRequest, Reference
from studio.imaging import contact_sheet, images, metadata
from studio.services import lifecycle
from studio.storage import GenerationRecord, Store, Visibility, files
from studio.storage.run_repo import RunRecord

if TYPE_CHECKING:
    from studio.services.session import StudioSession
    from studio.services.studio import Studio

log = logging.getLogger(__name__)

#: Settings a spec may fix for every cell (passed to GenerationRequest as they are).
EXTRA_SETTINGS = (
    "system_instruction",
    "temperature",
    "top_p",
    "thinking_level",
    "include_thoughts",
    "google_search",
    "safety_settings",
)
DEFAULT_CONCURRENCY = 4
POLL_S = 0.05
WAITING = "waiting"  # a cell with no generation yet


@dataclass
class RunSpec:
    """What a run varies. Empty lists mean "the default"; ``rows`` (a batch) replaces the product."""

    name: str = ""
    template: str = ""
    variables: dict[str, list[str]] = field(default_factory=dict)
    prompts: list[str] = field(default_factory=list)
    presets: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=lambda: [catalogue.DEFAULT_MODEL])
    ratios: list[str] = field(default_factory=list)
    sizes: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    #: [{"label": "A", "paths": ["/abs/a.png", ...]}, ...]
    reference_sets: list[dict[str, Any]] = field(default_factory=list)
    repeats: int = 1
    modalities: list[str] = field(default_factory=lambda: ["IMAGE"])
    settings: dict[str, Any] = field(default_factory=dict)
    #: explicit cells (``studio batch``): {"prompt", "model", "aspect", "size", "seed", "variants", "text",
    #: "refs", "vars", "line"}
    rows: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunSpec:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class Cell:
    key: str
    values: dict[str, Any]  # axis -> value, for labels and the grid
    settings: dict[str, Any]  # what the key hashes: prompt, model, ratio, size, seed, refs, repeat, ...

    @property
    def prompt(self) -> str:
        prompt: str = self.settings["prompt"]
        return prompt

    def request(
        self, run_id: int | None = None, read: Callable[[str], bytes] | None = None
    ) -> GenerationRequest:
        """``read``: how to read a stashed reference kept in object storage (an ``s3://`` path)."""
        return replace(
            _draft(self.settings),
            references=load_references(self.settings.get("refs") or (), read),
            run_id=run_id,
            cell_key=self.key,
            composition={"run_id": run_id, "cell": _jsonable(self.values)},
        )


def _draft(s: Mapping[str, Any], variants: int = 1) -> GenerationRequest:
    """A cell's request without its reference images (they are loaded only when the cell is sent)."""
    extra = {k: s[k] for k in EXTRA_SETTINGS if s.get(k) is not None}
    if "safety_settings" in extra:
        extra["safety_settings"] = tuple(extra["safety_settings"])
    return GenerationRequest(
        prompt=s["prompt"],
        model=s["model"],
        aspect_ratio=s.get("aspect_ratio"),
        image_size=s.get("image_size"),
        modalities=tuple(s.get("modalities") or ("IMAGE",)),
        seed=s.get("seed"),
        variants=variants,
        **extra,
    )


@dataclass(frozen=True)
class PlanEstimate:
    cells: int
    images: int
    usd: float
    by_model: dict[str, int]


def cell_key(settings: Mapping[str, Any]) -> str:
    """A stable identity for a cell: the same settings always give the same key."""
    canonical = json.dumps(settings, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:24]


def _jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(values, default=str))
    return out


# -- planning -----------------------------------------------------------------------------------


def axes_of(spec: RunSpec) -> dict[str, list[Any]]:
    """The axes of a product run, in order; each a list of values (a single value is a fixed setting)."""
    if spec.rows:
        return {
            "row": [r.get("line", i + 1) for i, r in enumerate(spec.rows)],
            "variant": list(range(max(int(r.get("variants") or 1) for r in spec.rows))),
        }
    texts = [t for t in (spec.prompts or [spec.template]) if t.strip()] or [""]
    axes: dict[str, list[Any]] = {"prompt": texts}
    used = {name for text in texts for name in prompts.variables(text)}
    for name in (n for text in texts for n in prompts.variables(text)):
        if name in used:
            axes[f"var.{name}"] = [v for v in spec.variables.get(name, []) if str(v).strip()]
            used.discard(name)
    axes["model"] = spec.models or [catalogue.DEFAULT_MODEL]
    axes["ratio"] = spec.ratios or [None]
    axes["size"] = spec.sizes or [None]
    axes["seed"] = spec.seeds or [None]
    axes["refs"] = [s.get("label") or f"set {i + 1}" for i, s in enumerate(spec.reference_sets)] or [None]
    axes["repeat"] = list(range(max(1, int(spec.repeats or 1))))
    return axes


def varying_axes(spec: RunSpec) -> list[str]:
    """Axes with more than one value: the ones a grid can lay out."""
    return [name for name, values in axes_of(spec).items() if len(values) > 1]


def plan(spec: RunSpec, *, check: bool = True) -> tuple[list[Cell], PlanEstimate]:
    """Every cell of the run and what it should cost at list prices. Raises InputError for a bad spec.

    ``check`` applies the one rule (``catalogue.validate``) to every cell, and to every batch row as written;
    showing a stored run (progress, grid) skips it, so a run stored before a rule changed still opens."""
    cells = _row_cells(spec) if spec.rows else _product_cells(spec)
    if check:
        for row in spec.rows:  # as written, before a 1K-only model's size is dropped: a size it cannot make
            catalogue.validate(_row_draft(row), reference_roles=["object"] * len(row.get("refs") or []))
        for cell in cells:  # the references are counted here and loaded only when the cell is sent
            catalogue.validate(_draft(cell.settings), reference_roles=["object"] * len(cell.settings["refs"]))
    cells = _unique_keys(cells)
    by_model: dict[str, int] = {}
    usd = 0.0
    for cell in cells:
        s = cell.settings
        usd += catalogue.estimate(
            s["model"],
            size=s.get("image_size"),
            ratio=s.get("aspect_ratio"),
            references=len(s.get("refs") or ()),
            prompt_chars=len(s["prompt"]),
        ).usd
        by_model[s["model"]] = by_model.get(s["model"], 0) + 1
    return cells, PlanEstimate(cells=len(cells), images=len(cells), usd=round(usd, 4), by_model=by_model)


def _product_cells(spec: RunSpec) -> list[Cell]:
    axes = axes_of(spec)
    missing = [name for name, values in axes.items() if name.startswith("var.") and not values]
    if missing:
        raise InputError("Give at least one value for " + ", ".join(f"{{{m[4:]}}}" for m in missing) + ".")
    ref_paths = {
        (s.get("label") or f"set {i + 1}"): list(s.get("paths") or [])
        for i, s in enumerate(spec.reference_sets)
    }
    extra = {k: spec.settings[k] for k in EXTRA_SETTINGS if spec.settings.get(k) is not None}
    cells = []
    for values in prompts.expand(axes):
        variables = {name[4:]: value for name, value in values.items() if name.startswith("var.")}
        prompt = prompts.apply_presets(prompts.fill(values["prompt"], variables), spec.presets)
        settings = _settings(
            prompt,
            values["model"],
            values["ratio"],
            values["size"],
            values["seed"],
            ref_paths.get(values["refs"], []),
            values["repeat"],
            spec.modalities,
            extra,
        )
        cells.append(Cell(cell_key(settings), values, settings))
    return cells


def _row_cells(spec: RunSpec) -> list[Cell]:
    cells = []
    for row in spec.rows:
        asked = _row_draft(row)
        for variant in range(asked.variants):
            seed = asked.seed + variant if asked.seed is not None and variant else asked.seed
            settings = _settings(
                asked.prompt,
                asked.model,
                asked.aspect_ratio,
                asked.image_size,
                seed,
                list(row.get("refs") or []),
                variant,
                asked.modalities,
                {},
            )
            values = {"row": row.get("line"), "variant": variant}
            cells.append(Cell(cell_key(settings), values, settings))
    return cells


def _row_draft(row: Mapping[str, Any]) -> GenerationRequest:
    """A batch row's request as written (all its variants, references not loaded)."""
    variables = row.get("vars") or {}
    prompt = (
        prompts.fill(row.get("prompt", ""), variables)
        if variables or prompts.variables(row.get("prompt", ""))
        else row.get("prompt", "")
    )
    asked = {
        "prompt": prompt,
        "model": row.get("model") or catalogue.DEFAULT_MODEL,
        "aspect_ratio": row.get("aspect"),
        "image_size": row.get("size"),
        "seed": row.get("seed"),
        "modalities": ["TEXT", "IMAGE"] if row.get("text") else ["IMAGE"],
    }
    return _draft(asked, 1 if row.get("variants") is None else int(row["variants"]))


def _settings(
    prompt: str,
    model: str,
    ratio: str | None,
    size: str | None,
    seed: int | None,
    refs: list[str],
    repeat: int,
    modalities: Sequence[str],
    extra: dict[str, Any],
) -> dict[str, Any]:
    spec = catalogue.lookup(model)
    if size is not None and not spec.sizes:
        size = None  # a 1K-only model in a run that varies sizes: it makes its one size
    return {
        "prompt": prompt,
        "model": model,
        "aspect_ratio": ratio,
        "image_size": size,
        "seed": seed,
        "refs": refs,
        "repeat": repeat,
        "modalities": list(modalities),
        **extra,
    }


def _unique_keys(cells: list[Cell]) -> list[Cell]:
    """Identical cells (a batch file may repeat a row) each get their own key: both are wanted."""
    seen: dict[str, int] = {}
    out = []
    for cell in cells:
        n = seen.get(cell.key, 0)
        seen[cell.key] = n + 1
        out.append(cell if n == 0 else replace(cell, key=f"{cell.key}~{n}"))
    return out


# -- references ---------------------------------------------------------------------------------


def load_references(
    paths: Sequence[str], read: Callable[[str], bytes] | None = None
) -> tuple[Reference, ...]:
    refs = []
    for path in paths:
        if str(path).startswith("s3://"):  # stashed in object storage: readable from any machine
            if read is None:
                raise InputError(f"The reference image {path} is in object storage; run it from the studio.")
            refs.append(images.sanitize_upload(read(str(path)), str(path).rsplit("/", 1)[-1]))
            continue
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise InputError(f"Cannot read the reference image {path} ({exc.strerror}).") from None
        refs.append(images.sanitize_upload(data, Path(path).name))
    return tuple(refs)


def stash_references(store: Store, refs: Sequence[Reference]) -> list[str]:
    """Keep uploaded references in the data directory (by content hash) so a run can be re-run later."""
    paths = []
    for ref in refs:
        key = files.image_relpath(ref.sha256, ref.mime_type)
        store.files.put(key, ref.data)  # content-addressed: skipped when already stored
        local = store.files.blobs.local_path(key)
        paths.append(str(local) if local is not None else store.files.locator(key))  # s3:// in object mode
    return paths


# -- running ------------------------------------------------------------------------------------


class Feeder:
    """Feeds a run's cells to the studio with at most ``concurrency`` in flight; cancel-able."""

    def __init__(
        self,
        studio: Studio | StudioSession,
        run_id: int,
        cells: list[Cell],
        concurrency: int,
        on_done: Callable[[GenerationRecord], None] | None = None,
    ) -> None:
        self.studio, self.run_id, self.cells = studio, run_id, cells
        self.concurrency = max(1, int(concurrency))
        self.on_done = on_done
        self.cancelled = threading.Event()
        self.in_flight: dict[int, str] = {}
        self.submitted = 0
        self.max_in_flight = 0
        self.errors: list[str] = []
        self.stopped = False  # the studio is stopping: cells not sent yet stay unsent (a resume runs them)
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._loop, name=f"studio-run-{run_id}", daemon=True)

    def _loop(self) -> None:
        try:
            for cell in self.cells:
                if not self._wait_for_slot():
                    break
                self._submit(cell)
            self._drain()
        except Exception:  # a bug must not leave the run marked running forever
            log.exception("run %s: the feeder failed", self.run_id)
        finally:
            status = "cancelled" if self.cancelled.is_set() or self.stopped else "done"
            try:
                self.studio._store.runs.update(self.run_id, status=status)
            except StudioError:
                log.exception("run %s: could not record its end", self.run_id)
            with _FEEDERS_LOCK:  # only this feeder's own entry: a resume may have registered a newer one
                if _FEEDERS.get((self.studio.owner, self.run_id)) is self:
                    del _FEEDERS[(self.studio.owner, self.run_id)]

    def _submit(self, cell: Cell) -> None:
        try:
            ids = self.studio.submit(cell.request(self.run_id, self.studio._store.files.read_locator))
        except StudioError as exc:
            if self.studio.stopping:  # the stop came between the slot and the send: nothing was sent
                self.stopped = True
                return
            self.errors.append(f"Cell {cell.key}: {exc}")
            refused = getattr(exc, "generation_id", None)  # OverBudget: the history's one refused row for it
            if refused is not None and self.on_done is not None and (record := self.studio.get(refused)):
                self.on_done(record)
            return
        with self._lock:
            for gen_id in ids:
                self.in_flight[gen_id] = cell.key
            self.submitted += 1
            self.max_in_flight = max(self.max_in_flight, len(self.in_flight))

    def _reap(self) -> None:
        with self._lock:
            done = [gen_id for gen_id in self.in_flight if not self.studio.is_active(gen_id)]
            for gen_id in done:
                del self.in_flight[gen_id]
        if self.on_done is not None:
            for gen_id in done:
                record = self.studio.get(gen_id)
                if record is not None:
                    self.on_done(record)

    def _wait_for_slot(self) -> bool:
        while True:
            self._reap()
            if self.cancelled.is_set():
                return False
            if self.studio.stopping:  # a polite stop: cells in flight finish and are saved (``_drain``)
                self.stopped = True
                return False
            if len(self.in_flight) < self.concurrency:
                return True
            self.cancelled.wait(POLL_S)

    def _drain(self) -> None:
        while True:
            self._reap()
            if not self.in_flight:
                return
            self.cancelled.wait(POLL_S)
            if self.cancelled.is_set():
                self._cancel_in_flight()
                # a session keeps the job pool private (its cancel checks the author); a Studio's is public
                jobs = getattr(self.studio, "_jobs", None) or getattr(self.studio, "jobs")  # noqa: B009 (a session has none)
                jobs.wait(list(self.in_flight), timeout=30)

    def _cancel_in_flight(self) -> None:
        with self._lock:
            ids = list(self.in_flight)
        for gen_id in ids:
            self.studio.cancel(gen_id)

    def cancel(self) -> None:
        self.cancelled.set()
        self._cancel_in_flight()

    @property
    def running(self) -> bool:
        return self.thread.is_alive()


#: Live feeders of this process, by (studio owner, run id).
_FEEDERS: dict[tuple[str, int], Feeder] = {}
#: Checking that a run is idle and registering its feeder is one step: two resumes at once would pay twice.
_FEEDERS_LOCK = threading.RLock()


def feeder(studio: Studio | StudioSession, run_id: int) -> Feeder | None:
    return _FEEDERS.get((studio.owner, run_id))


def is_running(studio: Studio | StudioSession, run_id: int) -> bool:
    f = feeder(studio, run_id)
    return f is not None and f.running


def start(
    studio: Studio | StudioSession,
    spec: RunSpec,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    kind: str = "matrix",
    source_sha: str | None = None,
    on_done: Callable[[GenerationRecord], None] | None = None,
) -> int:
    """Store the run, then feed its cells in the background. Returns the run id (author: the caller,
    who must be allowed to generate)."""
    actor = studio.access.require_generate()
    cells, _ = plan(spec)
    _require_key(studio)
    run_id = studio._store.runs.create(
        kind=kind,
        name=spec.name or _default_name(spec),
        spec=spec.to_json(),
        source_sha=source_sha,
        author=actor.email,
    )
    _feed(studio, run_id, cells, concurrency, on_done)
    return run_id


def resume(
    studio: Studio | StudioSession,
    run_id: int,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_done: Callable[[GenerationRecord], None] | None = None,
) -> int:
    """Submit the run's cells that have no succeeded or running generation; returns how many."""
    studio.access.require_generate()
    run = _get(studio._store, run_id)
    _require_key(studio)
    with _FEEDERS_LOCK:
        if is_running(studio, run_id):
            raise InputError(f"Run {run_id} is still running; wait for it or cancel it first.")
        cells, _ = plan(RunSpec.from_json(run.spec))
        settled = studio._store.runs.settled_cells(run_id)
        todo = [cell for cell in cells if cell.key not in settled]
        _feed(studio, run_id, todo, concurrency, on_done)
    return len(todo)


def extend(
    studio: Studio | StudioSession,
    run_id: int,
    more: Mapping[str, Any],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> int:
    """Add values to the run's axes (lists are appended, scalars replaced), then run the new cells."""
    studio.access.require_generate()
    run = _get(studio._store, run_id)
    data = dict(run.spec)
    for name, value in more.items():
        if name not in RunSpec.__dataclass_fields__ or name in ("rows", "name"):
            raise InputError(f"A run cannot be extended along {name!r}.")
        if isinstance(value, dict) and isinstance(data.get(name), dict):
            merged = {**data[name]}
            for var, values in value.items():
                merged[var] = list(dict.fromkeys([*merged.get(var, []), *values]))
            data[name] = merged
        elif isinstance(value, list) and isinstance(data.get(name), list):
            data[name] = [*data[name], *(v for v in value if v not in data[name])]
        else:
            data[name] = value
    plan(RunSpec.from_json(data))  # refuse a bad extension before storing it
    studio._store.runs.update(run_id, spec=data)
    return resume(studio, run_id, concurrency=concurrency)


def cancel(studio: Studio | StudioSession, run_id: int) -> bool:
    f = feeder(studio, run_id)
    if f is None or not f.running:
        return False
    f.cancel()
    return True


def wait(studio: Studio | StudioSession, run_id: int, timeout: float | None = None) -> bool:
    """Block until the run's feeder has finished; True when it has."""
    f = feeder(studio, run_id)
    if f is not None:
        f.thread.join(timeout)
        return not f.thread.is_alive()
    return True


def _feed(
    studio: Studio | StudioSession,
    run_id: int,
    cells: list[Cell],
    concurrency: int,
    on_done: Callable[[GenerationRecord], None] | None,
) -> Feeder:
    f = Feeder(studio, run_id, cells, concurrency, on_done)
    with _FEEDERS_LOCK:
        _FEEDERS[(studio.owner, run_id)] = f
    studio._store.runs.update(run_id, status="running")
    f.thread.start()
    lifecycle.track(f.thread)  # a polite stop lets it record how the run ended
    return f


def _require_key(studio: Studio | StudioSession) -> None:
    if not studio.settings.has_key:
        raise NoKey()


def _get(store: Store, run_id: int) -> RunRecord:
    run = store.runs.get(run_id)
    if run is None:
        raise InputError(f"Run {run_id} is not in the history.")
    return run


def _default_name(spec: RunSpec) -> str:
    text = (spec.prompts[0] if spec.prompts else spec.template) or "run"
    return " ".join(text.split())[:60]


# -- progress and grid --------------------------------------------------------------------------


@dataclass(frozen=True)
class RunProgress:
    cells: int
    succeeded: int
    failed: int
    active: int
    waiting: int
    feeding: bool

    @property
    def finished(self) -> int:
        return self.succeeded + self.failed


def progress(studio: Studio | StudioSession, run_id: int) -> RunProgress:
    run = _get(studio._store, run_id)
    cells, _ = plan(RunSpec.from_json(run.spec), check=False)
    statuses = studio._store.runs.cell_statuses(run_id)
    counts = {"succeeded": 0, "failed": 0, "active": 0, "waiting": 0}
    for cell in cells:
        counts[_bucket(_latest_status(statuses.get(cell.key, [])))] += 1
    return RunProgress(cells=len(cells), feeding=is_running(studio, run_id), **counts)


def _latest_status(rows: list[tuple[int, str]]) -> str:
    if any(status == SUCCEEDED for _, status in rows):
        return SUCCEEDED
    return rows[-1][1] if rows else WAITING


def _bucket(status: str) -> str:
    if status == SUCCEEDED:
        return "succeeded"
    if status in ACTIVE_STATUSES:
        return "active"
    return "waiting" if status == WAITING else "failed"


def label(value: Any) -> str:
    return "—" if value is None else " ".join(str(value).split())


def grid(
    store: Store,
    run_id: int,
    rows: str | None = None,
    cols: str | None = None,
    *,
    visibility: Visibility,
) -> Grid:
    """The run's cells laid out by two axes; other axes stack inside a grid cell (a generation
    ``visibility`` hides, another's private one, shows as a cell without its record)."""
    run = _get(store, run_id)
    spec = RunSpec.from_json(run.spec)
    cells, _ = plan(spec, check=False)
    axes = axes_of(spec)
    for axis in (rows, cols):
        if axis is not None and axis not in axes:
            raise InputError(f"The run has no axis {axis!r}; choose one of {', '.join(axes)}.")
    row_labels = [label(v) for v in axes[rows]] if rows else [""]
    col_labels = [label(v) for v in axes[cols]] if cols else [""]
    best = _best_records(store, run_id, visibility)
    out: dict[tuple[int, int], list[GridCell]] = {}
    for cell in cells:
        r = row_labels.index(label(cell.values.get(rows))) if rows else 0
        c = col_labels.index(label(cell.values.get(cols))) if cols else 0
        record = best.get(cell.key)
        status = record.status if record is not None else WAITING
        out.setdefault((r, c), []).append(GridCell(cell.key, cell.values, status, record))
    return Grid(rows, cols, row_labels, col_labels, out)


def _best_records(store: Store, run_id: int, visibility: Visibility) -> dict[str, GenerationRecord]:
    """Per cell: its latest succeeded generation, else its latest one (of those ``visibility`` shows)."""
    key_of = {gen_id: key for key, rows in store.runs.cell_statuses(run_id).items() for gen_id, _ in rows}
    best: dict[str, GenerationRecord] = {}
    records = store.runs.generations(run_id)
    seen = set(store.gallery.visible_ids([r.id for r in records], visibility))
    for record in records:
        key = key_of.get(record.id)
        if key is None or record.id not in seen:
            continue
        current = best.get(key)
        if current is None or record.status == SUCCEEDED or current.status != SUCCEEDED:
            best[key] = record
    return best


_ZIP_EXT = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


def export_zip(
    store: Store,
    run_id: int,
    *,
    rows: str | None = None,
    cols: str | None = None,
    visibility: Visibility,
) -> bytes:
    """manifest.json (run, spec, every cell and its generation), the images, and contact-sheet.png."""
    run = store.runs.get(run_id)
    if run is None:
        raise InputError(f"Run {run_id} is not in the history.")
    grid_ = grid(store, run_id, rows, cols, visibility=visibility)
    buf = io.BytesIO()
    manifest_cells = []
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for cell in (c for cells in grid_.cells.values() for c in cells):
            entry: dict[str, Any] = {
                "cell_key": cell.key,
                "values": cell.values,
                "status": cell.status,
                "generation": None,
                "images": [],
            }
            if cell.record is not None:
                entry["generation"] = cell.record.id
                entry["prompt"] = cell.record.prompt
                entry["settings"] = cell.record.settings
                for image in cell.record.images:
                    name = (
                        f"images/{cell.record.id}-{image.sha256[:12]}.{_ZIP_EXT.get(image.mime_type, 'bin')}"
                    )
                    data, _, _ = metadata.embed(cell.record, image)  # the prompt and settings travel along
                    zf.writestr(name, data, compress_type=zipfile.ZIP_STORED)  # already compressed
                    entry["images"].append(name)
            manifest_cells.append(entry)
        manifest = {
            "run": {
                "id": run.id,
                "kind": run.kind,
                "name": run.name,
                "status": run.status,
                "created_at": run.created_at.isoformat(),
                "spec": run.spec,
            },
            "cells": manifest_cells,
        }
        zf.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2, default=str))
        zf.writestr("contact-sheet.png", contact_sheet.render(grid_, side=192))
    return buf.getvalue()


# -- the app's entry point ------------------------------------------------------------------------


class RunService:
    """Runs for the app, bound to one studio: the functions above, and the run table read for the page."""

    def __init__(self, studio: Studio | StudioSession) -> None:
        self._studio = studio

    def start(self, spec: RunSpec, *, concurrency: int = DEFAULT_CONCURRENCY) -> int:
        return start(self._studio, spec, concurrency=concurrency)

    def resume(self, run_id: int, *, concurrency: int = DEFAULT_CONCURRENCY) -> int:
        return resume(self._studio, run_id, concurrency=concurrency)

    def extend(self, run_id: int, more: Mapping[str, Any], *, concurrency: int = DEFAULT_CONCURRENCY) -> int:
        return extend(self._studio, run_id, more, concurrency=concurrency)

    def cancel(self, run_id: int) -> bool:
        """Stop feeding a run: the caller's own (an admin: anyone's)."""
        actor = self._studio.access.require_generate()
        if not (actor.local or actor.is_admin):
            run = self._studio._store.runs.get(run_id)
            if run is not None and run.author != actor.email:
                raise NotAllowed(f"Only the person who started run #{run_id} or an admin can cancel it.")
        return cancel(self._studio, run_id)

    def is_running(self, run_id: int) -> bool:
        self._studio.access.require_team()
        return is_running(self._studio, run_id)

    def progress(self, run_id: int) -> RunProgress:
        self._studio.access.require_team()
        return progress(self._studio, run_id)

    def get(self, run_id: int) -> RunRecord | None:
        self._studio.access.require_team()
        return self._studio._store.runs.get(run_id)

    def spec(self, run_id: int) -> RunSpec:
        """The run's stored spec; InputError when the run is not in the history."""
        self._studio.access.require_team()
        return RunSpec.from_json(_get(self._studio._store, run_id).spec)

    def recent(self, *, kind: str | None = None, limit: int = 50) -> list[RunRecord]:
        self._studio.access.require_team()
        return self._studio._store.runs.list_runs(kind=kind, limit=limit)

    def grid(self, run_id: int, rows: str | None = None, cols: str | None = None) -> Grid:
        self._studio.access.require_team()
        return grid(self._studio._store, run_id, rows, cols, visibility=self._studio.access.visibility())

    def stash_references(self, refs: Sequence[Reference]) -> list[str]:
        self._studio.access.require_generate()
        return stash_references(self._studio._store, refs)

    def contact_sheet(self, run_id: int, rows: str | None = None, cols: str | None = None) -> bytes:
        """The grid as one PNG."""
        return contact_sheet.render(self.grid(run_id, rows, cols))

    def contact_sheet_zip(self, run_id: int, rows: str | None = None, cols: str | None = None) -> bytes:
        """manifest.json, the images and contact-sheet.png of the run."""
        self._studio.access.require_team()
        vis = self._studio.access.visibility()
        return export_zip(self._studio._store, run_id, rows=rows, cols=cols, visibility=vis)
