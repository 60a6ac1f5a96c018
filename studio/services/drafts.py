"""The composer's draft, kept across a browser reload and a restart of the studio (``studio.drafts``).

A draft is plain JSON: the builders' widget values (``gen_*``, ``edit_*``, ``exp_*``), a little page state
(the sketches' notes, the session feed's generation ids) and the reference tray, stored as the hashes of
its images (their bytes are kept once, by hash, beside the database). Loading validates everything: an
unknown key or a value of the wrong shape is dropped, a model no longer in the catalogue falls back to the
default, a tray image that is gone is left out, and a draft that cannot be read at all is ignored with a
log line. One draft per studio for now (``owner`` ''), keyed so that a per-person studio can key it by user.

``from_image`` is the other way a draft fills up: a file the studio made, dropped back in, gives back the
request that made it (from the history when the file is a stored original or names a generation whose
prompt matches, else from the prompt and settings embedded in it).
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from studio.domain import advanced_controls as controls
from studio.domain import catalogue
from studio.domain.errors import StudioError
from studio.domain.mime import sha256_hex
from studio.domain.requests import GenerationRequest, Reference
from studio.imaging import metadata
from studio.services.access import Access
from studio.storage import Store

log = logging.getLogger(__name__)

VERSION = 1
#: the owner suffix a draft that stopped a page is moved to (kept for a person or a fix, never deleted)
SET_ASIDE = ":set-aside"
#: the Generate model picker's "Custom model id…" choice (``prompt_form.CUSTOM``)
CUSTOM_MODEL = "__custom__"
MAX_BODY = 2 * 2**20  # a draft larger than this is not saved (a runaway value), nor read
MAX_TEXT = 100_000
MAX_LIST = 200
MAX_TRAY = 32
MAX_DEPTH = 6
#: a tray image no draft names is removed only once it is this old: another session may have kept it and
#: not yet written the draft that names it (saving and pruning run in one transaction, but the image is
#: written before it)
PRUNE_GRACE_S = 3600.0
_KEY = re.compile(r"(gen|edit|exp)_\w{1,80}")
# Each widget key by its widget's kind: a value of another kind would stop its page on every visit (a text
# area given a number raises), so a value that does not fit its widget is dropped on load and on save.
_ADV = r"(gen|edit|exp)_adv_"
#: text inputs and text areas: str
_TEXT = re.compile(
    r"gen_(prompt|f_\w+|custom_model|prop_\d{1,3})|edit_(first|instruction)|exp_(template|var_\w+|seeds)"
    rf"|{_ADV}system"
)
#: selectboxes and radios: str (None when nothing is chosen)
_CHOICE = re.compile(rf"gen_(mode|model|ratio|size|output)|edit_(source|model)|{_ADV}(thinking|safety_\w+)")
#: multiselects: a list of str
_MULTI = re.compile(r"exp_(models|ratios|sizes)")
#: checkboxes and toggles: bool
_BOOL = re.compile(rf"{_ADV}(include_thoughts|google_search|image_search)")
_SEED_LO, _SEED_HI = controls.SEED_RANGE
#: number inputs: (int only?, lowest, highest); None is an empty optional input
_NUMBERS: dict[str, tuple[bool, float, float]] = {
    "gen_variants": (True, 1, catalogue.MAX_VARIANTS),
    "edit_from_id": (True, 1, 2**63 - 1),
    "exp_repeats": (True, 1, 8),
    "exp_nsets": (True, 0, 3),
    "exp_concurrency": (True, 1, 16),
    "exp_threshold": (False, 0.0, 1e9),
    **{f"{p}_adv_seed": (True, _SEED_LO, _SEED_HI) for p in ("gen", "edit", "exp")},
    **{f"{p}_adv_temperature": (False, *controls.TEMPERATURE_RANGE) for p in ("gen", "edit", "exp")},
    **{f"{p}_adv_top_p": (False, *controls.TOP_P_RANGE) for p in ("gen", "edit", "exp")},
}
_PLAIN = (str, int, float, bool, type(None))
_ROLES = ("object", "character")


@dataclass(frozen=True)
class Draft:
    #: the builders' widget values, by session key (plain values and lists of them)
    values: dict[str, Any] = field(default_factory=dict)
    #: other plain JSON a page keeps in its session (``gen_sketches``, ``gen_feed``...), by session key
    state: dict[str, Any] = field(default_factory=dict)
    tray: tuple[Reference, ...] = ()

    def is_empty(self) -> bool:
        return not (self.values or self.state or self.tray)


@dataclass(frozen=True)
class DraftChanges:
    """What one session changed since it last saved: merged into the stored draft, so a stale tab that
    changed only the variants never writes back its old prompt over another tab's newer one."""

    values: dict[str, Any] = field(default_factory=dict)
    dropped_values: tuple[str, ...] = ()
    state: dict[str, Any] = field(default_factory=dict)
    dropped_state: tuple[str, ...] = ()
    tray: tuple[Reference, ...] | None = None  # None: the tray did not change

    def is_empty(self) -> bool:
        return (
            not (self.values or self.dropped_values or self.state or self.dropped_state) and self.tray is None
        )


# -- validation -------------------------------------------------------------------------------------


def _value(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return len(value) <= MAX_TEXT
    if isinstance(value, list):
        return len(value) <= MAX_LIST and all(not isinstance(v, list) and _value(v) for v in value)
    return isinstance(value, _PLAIN)


def _json(value: Any, depth: int = 0) -> bool:
    """Plain JSON (dicts with string keys, lists, text, numbers, booleans, null), not too deep."""
    if depth > MAX_DEPTH:
        return False
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return all(_json(v, depth + 1) for v in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, _PLAIN)


def _live_models() -> list[str]:
    return [m for m, spec in catalogue.MODELS.items() if spec.stage != "retired"]


def _fits(name: str, value: Any) -> bool:
    """Whether ``value`` is a value the widget of key ``name`` takes (its kind, and a number's range)."""
    if _TEXT.fullmatch(name):
        return isinstance(value, str)
    if _CHOICE.fullmatch(name):
        return isinstance(value, str) or value is None
    if _MULTI.fullmatch(name):
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if _BOOL.fullmatch(name):
        return isinstance(value, bool)
    if name in _NUMBERS:
        whole, lo, hi = _NUMBERS[name]
        if value is None:
            return name != "gen_variants"
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return (isinstance(value, int) or not whole) and lo <= value <= hi
    return False  # no widget of that key: nothing to put back


def clean_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """The values a page may put back: known widget keys, each value of its widget's kind and range,
    models still in the catalogue."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if not isinstance(name, str) or not _KEY.fullmatch(name) or not _value(value):
            continue
        if name == "gen_variants" and isinstance(value, int) and not isinstance(value, bool):
            value = max(1, min(catalogue.MAX_VARIANTS, value))  # the catalogue's maximum may have changed
        if not _fits(name, value):
            continue
        if name == "gen_model" and value not in (*catalogue.MODELS, CUSTOM_MODEL):
            continue  # gone from the catalogue: the picker starts on the default
        if name == "edit_model" and value not in _live_models():
            continue
        if name == "exp_models":
            value = [m for m in value if m in catalogue.MODELS]
        if isinstance(value, int) and not isinstance(value, bool) and not _NUMBERS.get(name, (True,))[0]:
            value = float(value)  # a float input given 1 takes 1.0
        out[name] = value
    return out


def _ints(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)


def _sketch(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and isinstance(item.get("sha256"), str)
        and isinstance(item.get("name"), str)
        and isinstance(item.get("instruction", ""), str)
    )


def _feed_run(run: Any) -> bool:
    """One run of Generate's session feed: its generation ids, prompt excerpt, model and time."""
    return (
        isinstance(run, dict)
        and _ints(run.get("ids"))
        and isinstance(run.get("prompt", ""), str)
        and isinstance(run.get("model", ""), str)
        and isinstance(run.get("at", 0), int | float)
        and not isinstance(run.get("at", 0), bool)
    )


#: the page state a draft keeps, each with its shape (anything else would stop the page that reads it)
_STATE_SHAPES: dict[str, Callable[[Any], bool]] = {
    "gen_feed": lambda v: isinstance(v, list) and all(_feed_run(run) for run in v),
    "gen_ids": _ints,  # the batch in progress
    "gen_sketches": lambda v: isinstance(v, list) and all(_sketch(item) for item in v),
}


def clean_state(state: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in state.items()
        if isinstance(k, str) and k in _STATE_SHAPES and _json(v) and _STATE_SHAPES[k](v)
    }


def _stored(body: str | None) -> dict[str, Any]:
    """The stored draft's JSON object to merge into ({} when there is none or it cannot be read)."""
    if body is None or len(body) > MAX_BODY:
        return {}
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _tray_item(ref: Reference) -> dict[str, Any]:
    return {
        "sha256": ref.sha256,
        "mime_type": ref.mime_type,
        "width": ref.width,
        "height": ref.height,
        "role": ref.role,
        "name": ref.name[:200],
    }


# -- the service ------------------------------------------------------------------------------------


class DraftService:
    """One person's composer draft (``owner``: '' with ``STUDIO_LOGIN=none``, the person's email in a team
    studio, so two people never share one). Every method asks ``access`` first."""

    def __init__(
        self,
        store: Store,
        request_for: Callable[[int], GenerationRequest],
        *,
        owner: str = "",
        access: Access,
    ) -> None:
        self._store = store
        self._request_for = request_for
        self.owner = owner
        self._access = access  # required: never the local admin by default

    def save(self, draft: Draft) -> bool:
        """Store the whole draft, replacing the stored one (its tray images first); False, with a log line,
        when it could not be kept (a read-only or full disk): a draft is a convenience, never stops the page."""
        self._access.require_member()
        return self._write(
            DraftChanges(values=dict(draft.values), state=dict(draft.state), tray=draft.tray), replace=True
        )

    def save_changes(self, changes: DraftChanges) -> bool:
        """Merge one session's changes into the stored draft (read, merge and write in one transaction):
        keys it did not change keep what another session saved. False, with a log line, when not kept."""
        self._access.require_member()
        return changes.is_empty() or self._write(changes, replace=False)

    def _write(self, changes: DraftChanges, *, replace: bool) -> bool:
        repo = self._store.drafts
        tray = None if changes.tray is None else changes.tray[:MAX_TRAY]
        values, state = clean_values(changes.values), clean_state(changes.state)
        too_large = False

        def merge(body: str | None) -> str | None:
            nonlocal too_large
            old = {} if replace else _stored(body)
            new_values = {**_dict(old.get("values")), **values}
            new_state = {**_dict(old.get("state")), **state}
            for name in changes.dropped_values:
                new_values.pop(name, None)
            for name in changes.dropped_state:
                new_state.pop(name, None)
            items = old.get("tray") if tray is None else [_tray_item(ref) for ref in tray]
            text = json.dumps(
                {
                    "version": VERSION,
                    "values": new_values,
                    "state": new_state,
                    "tray": items if isinstance(items, list) else [],
                },
                ensure_ascii=False,
            )
            if len(text) > MAX_BODY:
                too_large = True
                return None
            return text

        try:
            for ref in tray or ():
                repo.keep_image(ref.sha256, ref.mime_type, ref.data)
            repo.update(merge, self.owner, prune_before=time.time() - PRUNE_GRACE_S)
        except StudioError as exc:
            log.warning("The composer's draft was not saved: %s", exc)
            return False
        if too_large:
            log.warning("The composer's draft was not saved: it is larger than %d bytes.", MAX_BODY)
            return False
        return True

    def load(self) -> Draft | None:
        """The stored draft, validated; None when there is none or it cannot be read (logged)."""
        self._access.require_member()
        try:
            body = self._store.drafts.get(self.owner)
        except StudioError as exc:
            log.warning("The saved draft could not be read: %s", exc)
            return None
        if body is None:
            return None
        try:
            if len(body) > MAX_BODY:
                raise ValueError("too large")
            data = json.loads(body)
            if not isinstance(data, dict):
                raise ValueError("not an object")
            values, state, tray = data.get("values") or {}, data.get("state") or {}, data.get("tray") or []
            if not isinstance(values, dict) or not isinstance(state, dict) or not isinstance(tray, list):
                raise ValueError("wrong shape")
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            log.warning("The saved draft was ignored: it is not a draft this studio can read (%s).", exc)
            return None
        return Draft(values=clean_values(values), state=clean_state(state), tray=self._tray(tray))

    def clear(self) -> None:
        """Forget the stored draft ("Start fresh") and the tray images only it named."""
        self._access.require_member()
        try:
            self._store.drafts.delete(self.owner, prune_before=time.time() - PRUNE_GRACE_S)
        except StudioError as exc:
            log.warning("The saved draft could not be cleared: %s", exc)

    def set_aside(self) -> None:
        """Move the stored draft out of the way (to owner ``<owner>:set-aside``): a draft a page could not
        take is kept, not deleted; the next session starts without it."""
        self._access.require_member()
        try:
            self._store.drafts.move(self.owner, self.owner + SET_ASIDE)
        except StudioError as exc:
            log.warning("The saved draft could not be set aside: %s", exc)

    def _tray(self, items: list[Any]) -> tuple[Reference, ...]:
        refs: list[Reference] = []
        for item in items[:MAX_TRAY]:
            try:
                sha, mime = str(item["sha256"]), str(item["mime_type"])
                width, height = int(item["width"]), int(item["height"])
                role = item.get("role") if item.get("role") in _ROLES else "object"
                name = str(item.get("name") or "")[:200]
            except (KeyError, TypeError, ValueError, AttributeError):
                log.warning("A reference of the saved draft was left out: its entry is malformed.")
                continue
            data = self._store.drafts.image(sha, mime)
            if data is None or sha256_hex(data) != sha:
                log.warning(
                    "A reference of the saved draft was left out: its image %s… is missing.", sha[:12]
                )
                continue
            refs.append(Reference(data, mime, sha, width, height, role=role, name=name))
        return tuple(refs)

    # -- a dropped image ------------------------------------------------------------------------

    def from_image(self, data: bytes) -> GenerationRequest | None:
        """The request that made a file the studio made (one the caller may see), or None for any other
        file. Never raises, but for a caller who may not use the studio (NotSignedIn / NotAllowed)."""
        self._access.require_member()
        try:
            return self._from_image(data)
        except Exception:  # noqa: BLE001 - a dropped file is only ever "not one of ours"
            log.warning("A dropped image's settings could not be read.", exc_info=True)
            return None

    def _from_image(self, data: bytes) -> GenerationRequest | None:
        gen_id = self._store.drafts.generation_of(sha256_hex(data))
        if gen_id is not None:  # a stored original, byte for byte
            return self._request_for(gen_id)
        found = metadata.read_embedded(data)
        if found is None:
            return None
        known = found["generation_id"]
        if known is not None:
            record = self._store.generations.get(known)
            if record is not None and record.prompt == found["prompt"] and record.model == found["model"]:
                return self._request_for(known)  # this studio's own download: the references too
        return request_from_settings(found["prompt"], found["model"], found["settings"])


def request_from_settings(prompt: str, model: str, settings: Mapping[str, Any]) -> GenerationRequest:
    """A request from settings read out of a file: each field checked for its type and range, the rest
    left at the defaults (a file can say anything)."""

    def text(name: str) -> str | None:
        value = settings.get(name)
        return value[:MAX_TEXT] if isinstance(value, str) and value else None

    def number(name: str, lo: float, hi: float) -> float | None:
        value = settings.get(name)
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            return None
        return float(value) if lo <= value <= hi else None

    seed = settings.get("seed")
    lo, hi = controls.SEED_RANGE
    modalities = settings.get("modalities")
    safety = [
        {"category": s["category"], "threshold": s["threshold"]}
        for s in settings.get("safety_settings") or []
        if isinstance(s, dict)
        and s.get("category") in controls.HARM_CATEGORIES
        and s.get("threshold") in controls.THRESHOLDS
    ]
    thinking = settings.get("thinking_level")
    variants = settings.get("variants")
    return GenerationRequest(
        prompt=prompt[:MAX_TEXT],
        model=model,
        aspect_ratio=text("aspect_ratio"),
        image_size=text("image_size"),
        modalities=("TEXT", "IMAGE") if isinstance(modalities, list) and "TEXT" in modalities else ("IMAGE",),
        variants=variants if isinstance(variants, int) and 1 <= variants <= catalogue.MAX_VARIANTS else 1,
        system_instruction=text("system_instruction"),
        temperature=number("temperature", *controls.TEMPERATURE_RANGE),
        top_p=number("top_p", *controls.TOP_P_RANGE),
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) and lo <= seed <= hi else None,
        thinking_level=thinking if thinking in controls.ALL_LEVELS else None,
        include_thoughts=settings.get("include_thoughts") is True,
        google_search=settings.get("google_search") is True,
        image_search=settings.get("image_search") is True,
        safety_settings=tuple(safety),
    )
