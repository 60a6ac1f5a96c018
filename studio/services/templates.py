"""The prompt library: templates with ``{variables}``, tags and notes; style presets; past prompts.

A template's body is filled with ``prompts.fill``; presets are snippets appended with
``prompts.apply_presets``. Names are unique per kind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from studio.domain import prompts
from studio.domain.errors import InputError
from studio.domain.people import Actor
from studio.domain.requests import GenerationRequest
from studio.services.access import Access
from studio.storage import Store
from studio.storage.template_repo import KINDS, TemplateRecord

__all__ = [
    "TemplateRecord",
    "TemplateService",
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
    """The Library's templates and presets, on one studio's store. Admins and designers read and change
    them; reviewers, who see only what is shared with them, neither (an ``activity`` row each in a team studio)."""

    def __init__(self, store: Store, access: Access) -> None:
        self._store = store
        self._access = access  # required: a service built without one must not act as the local admin

    def _record(self, actor: Actor, action: str, template_id: int, **detail: object) -> None:
        if not actor.local and actor.email is not None:
            self._store.activity.record(actor.email, action, f"template:{template_id}", detail)

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
        """Create (or, with ``template_id``, update) a template or preset."""
        actor = self._access.require_organise()
        if kind not in KINDS:
            raise InputError(f"Unknown library kind {kind!r}; use one of {', '.join(KINDS)}.")
        name, body = _check(name, body)
        table = self._store.templates
        if template_id is None:
            template_id = table.insert(kind=kind, name=name, body=body, tags=tags, notes=notes.strip())
        else:
            table.update(template_id, name=name, body=body, tags=tags, notes=notes.strip())
        record = table.get(template_id)
        assert record is not None
        self._record(actor, f"{kind}.save", template_id, name=name)
        return record

    def get(self, template_id: int) -> TemplateRecord | None:
        self._access.require_team()  # the team's prompts: not for reviewers
        return self._store.templates.get(template_id)

    def delete(self, template_id: int) -> bool:
        actor = self._access.require_organise()
        gone = self._store.templates.delete(template_id)
        if gone:
            self._record(actor, "template.delete", template_id)
        return gone

    def templates(self, *, search: str = "", tag: str | None = None) -> list[TemplateRecord]:
        self._access.require_team()  # the team's prompts: not for reviewers
        return _filter(self._store.templates.list_all("template"), search, tag)

    def presets(self, *, search: str = "", tag: str | None = None) -> list[TemplateRecord]:
        self._access.require_team()  # the team's prompts: not for reviewers
        return _filter(self._store.templates.list_all("preset"), search, tag)

    def from_generation(
        self, gen_id: int, name: str, *, tags: Iterable[str] = (), notes: str = ""
    ) -> TemplateRecord:
        """Start a template from a past prompt (the designer then turns words into ``{variables}``)."""
        self._access.require_organise()
        vis = self._access.visibility()
        record = self._store.generations.get(gen_id)
        if record is None or not self._store.gallery.visible_ids([gen_id], vis):
            raise InputError(f"Generation {gen_id} is not in the history.")
        return self.save(name, record.prompt, tags=tags, notes=notes or f"From generation #{gen_id}.")


def _filter(rows: list[TemplateRecord], search: str, tag: str | None) -> list[TemplateRecord]:
    needle = search.strip().lower()
    return [
        r
        for r in rows
        if (not needle or needle in r.name.lower() or needle in r.body.lower() or needle in r.notes.lower())
        and (not tag or tag.lower() in (t.lower() for t in r.tags))
    ]
