"""The prompt library: templates with ``{variables}``, tags and notes; style presets; past prompts.

A template's body is filled with ``prompts.fill``; presets are snippets appended with
``prompts.apply_presets``. Names are unique per kind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from studio.domain import prompts
from studio.domain.errors import InputError
from studio.domain.requests import GenerationRequest
from studio.storage import Store
from studio.storage import template_repo as table
from studio.storage.template_repo import TemplateRecord

__all__ = [
    "TemplateRecord",
    "TemplateService",
    "save",
    "get",
    "delete",
    "templates",
    "presets",
    "from_generation",
    "render",
    "request_from",
    "variables",
]

MAX_NAME = 120
MAX_BODY = 20_000


def _check(name: str, body: str) -> tuple[str, str]:
    name, body = " ".join(name.split()), body.strip()
    if not name:
        raise InputError("Give the template a name.")
    if len(name) > MAX_NAME:
        raise InputError(f"Keep the name under {MAX_NAME} characters.")
    if not body:
        raise InputError("The template's text is empty; write the prompt it should produce.")
    if len(body) > MAX_BODY:
        raise InputError(f"Keep the text under {MAX_BODY:,} characters.")
    return name, body


def save(
    store: Store,
    name: str,
    body: str,
    *,
    tags: Iterable[str] = (),
    notes: str = "",
    kind: str = "template",
    template_id: int | None = None,
) -> TemplateRecord:
    """Create (or, with ``template_id``, update) a template or preset."""
    if kind not in table.KINDS:
        raise InputError(f"Unknown library kind {kind!r}; use one of {', '.join(table.KINDS)}.")
    name, body = _check(name, body)
    if template_id is None:
        template_id = table.insert(store, kind=kind, name=name, body=body, tags=tags, notes=notes.strip())
    else:
        table.update(store, template_id, name=name, body=body, tags=tags, notes=notes.strip())
    record = table.get(store, template_id)
    assert record is not None
    return record


def get(store: Store, template_id: int) -> TemplateRecord | None:
    return table.get(store, template_id)


def delete(store: Store, template_id: int) -> bool:
    return table.delete(store, template_id)


def templates(store: Store, *, search: str = "", tag: str | None = None) -> list[TemplateRecord]:
    return _filter(table.list_all(store, "template"), search, tag)


def presets(store: Store, *, search: str = "", tag: str | None = None) -> list[TemplateRecord]:
    return _filter(table.list_all(store, "preset"), search, tag)


def _filter(rows: list[TemplateRecord], search: str, tag: str | None) -> list[TemplateRecord]:
    needle = search.strip().lower()
    return [
        r
        for r in rows
        if (not needle or needle in r.name.lower() or needle in r.body.lower() or needle in r.notes.lower())
        and (not tag or tag.lower() in (t.lower() for t in r.tags))
    ]


def from_generation(
    store: Store, gen_id: int, name: str, *, tags: Iterable[str] = (), notes: str = ""
) -> TemplateRecord:
    """Start a template from a past prompt (the designer then turns words into ``{variables}``)."""
    record = store.get(gen_id)
    if record is None:
        raise InputError(f"Generation {gen_id} is not in the history.")
    return save(store, name, record.prompt, tags=tags, notes=notes or f"From generation #{gen_id}.")


def variables(body: str) -> list[str]:
    return prompts.variables(body)


def render(body: str, values: Mapping[str, str], presets: Sequence[str] = ()) -> str:
    """The filled prompt with the chosen preset snippets appended."""
    return prompts.apply_presets(prompts.fill(body, values), presets)


def request_from(
    template: TemplateRecord, values: Mapping[str, str], model: str, presets: Sequence[TemplateRecord] = ()
) -> GenerationRequest:
    """A request for the Generate form (``st.session_state['remix']``) with the template's provenance."""
    prompt = render(template.body, values, [p.body for p in presets])
    composition = {
        "template": {"id": template.id, "name": template.name, "values": dict(values)},
        "presets": [p.name for p in presets],
    }
    return GenerationRequest(prompt=prompt, model=model, composition=composition)


class TemplateService:
    """The Library's templates and presets for the app: the functions above, bound to one studio's store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def save(
        self,
        name: str,
        body: str,
        *,
        tags: Iterable[str] = (),
        notes: str = "",
        kind: str = "template",
        template_id: int | None = None,
    ) -> TemplateRecord:
        return save(self._store, name, body, tags=tags, notes=notes, kind=kind, template_id=template_id)

    def get(self, template_id: int) -> TemplateRecord | None:
        return get(self._store, template_id)

    def delete(self, template_id: int) -> bool:
        return delete(self._store, template_id)

    def templates(self, *, search: str = "", tag: str | None = None) -> list[TemplateRecord]:
        return templates(self._store, search=search, tag=tag)

    def presets(self, *, search: str = "", tag: str | None = None) -> list[TemplateRecord]:
        return presets(self._store, search=search, tag=tag)

    def from_generation(
        self, gen_id: int, name: str, *, tags: Iterable[str] = (), notes: str = ""
    ) -> TemplateRecord:
        return from_generation(self._store, gen_id, name, tags=tags, notes=notes)
