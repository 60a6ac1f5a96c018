"""One person's studio: what a page or a command holds (``Studio.session(actor)``).

A ``StudioSession`` carries the caller's ``Access`` into every service it builds (gallery, organise,
templates, editing, runs, drafts), so each public method checks who is calling before it reads, writes or
sends anything, and every gallery query is narrowed to what the caller may see. The ``Studio`` underneath
owns what the process shares (the store, the client, the job pool, the lease); its own public methods act
as its default actor's session (``Studio.default_actor``), so ``STUDIO_LOGIN=none`` works as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from studio.domain.errors import InputError, NotAllowed, StudioError
from studio.domain.people import Actor
from studio.domain.requests import GenerationRequest
from studio.domain.settings import Settings
from studio.services.access import Access
from studio.services.accounts import PeopleService, no_user_sentence
from studio.services.drafts import DraftService
from studio.services.editing import EditService
from studio.services.gallery import GalleryFilter, GalleryService
from studio.services.jobs import JobProgress, JobRunner
from studio.services.links import LinkService
from studio.services.organise import OrganiseService
from studio.services.reviews import ReviewService
from studio.services.runs import RunService
from studio.services.spend import SpendService
from studio.services.templates import TemplateService
from studio.storage import GenerationRecord, Store
from studio.storage.notice_repo import DISMISSED, RETRIED

if TYPE_CHECKING:
    from studio.services.studio import Studio

__all__ = ["StudioSession", "needs_user"]


def needs_user(settings: Settings) -> str:
    """What a team-mode command without ``STUDIO_USER`` is told."""
    return no_user_sentence(settings)


class StudioSession:
    """One person's studio. Every public method (and every method of its services) asks ``access`` first:
    NotSignedIn for a signed-out caller, NotAllowed for an unknown or disabled one, or a role that may not
    do it; nothing is written or sent before that."""

    def __init__(self, studio: Studio, access: Access) -> None:
        self._studio = studio
        self.access = access
        self._store: Store = studio._store
        self.gallery = GalleryService(self._store, access)
        self.organise = OrganiseService(self._store, access)
        self.templates = TemplateService(self._store, access)
        self.editing = EditService(self)
        self.runs = RunService(self)
        #: the composer's draft: one per person in a team studio ('' for the one person without sign-in)
        owner = "" if self.actor.local or not studio.settings.team_mode else f"person:{self.actor.email}"
        self.drafts = DraftService(self._store, self.request_for, owner=owner, access=access)
        #: the members (admins only, but ``people.me()``)
        self.people = PeopleService(self._store, access)
        #: this month's spend against the budgets (the report and anyone else's month: admins only)
        self.spend = SpendService(self._store, access, studio.settings)
        #: gallery review: decisions, pinned comments, queues, the next version, the review pack (issue 15)
        self.review = ReviewService(self._store, access)
        #: client links (making and revoking them asks ``access``; opening one: the token is the capability)
        self.links = LinkService(self._store, access, studio.settings)

    # -- who and where ----------------------------------------------------------------------------

    @property
    def actor(self) -> Actor:
        return self.access.actor

    @property
    def settings(self) -> Settings:
        return self._studio.settings

    @property
    def is_demo(self) -> bool:
        return self._studio.is_demo

    @property
    def owner(self) -> str:
        """The process's owner token (runs key their feeders by it)."""
        return self._studio.owner

    @property
    def _jobs(self) -> JobRunner:
        """The process's job pool: private, so a page cannot cancel a job past ``cancel``'s author check."""
        return self._studio.jobs

    @property
    def stopping(self) -> bool:
        return self._studio.stopping

    # -- generating -------------------------------------------------------------------------------

    def submit(self, req: GenerationRequest, *, private: bool = False) -> list[int]:
        """Record one pending row per variant (author: the caller; ``private``: seen only by them and
        admins), then queue them. Returns the generation ids. Reviewers and signed-out callers are refused
        before anything is written or sent."""
        actor = self.access.require_generate()
        return self._studio._submit(actor, req, private)

    def generate(
        self, req: GenerationRequest, timeout: float | None = None, *, private: bool = False
    ) -> list[GenerationRecord]:
        """Submit and wait: the CLI's path."""
        return self.wait(self.submit(req, private=private), timeout=timeout)

    def wait(self, ids: Sequence[int], timeout: float | None = None) -> list[GenerationRecord]:
        """Wait for ``ids`` to end; their records (those the caller may see)."""
        self.access.require_member()
        self._jobs.wait(ids, timeout=timeout)
        return [record for record in (self.gallery.get(gen_id) for gen_id in ids) if record is not None]

    def wait_any(
        self, ids: Sequence[int], timeout: float, interrupted: Callable[[], bool] | None = None
    ) -> None:
        """Until one of ``ids`` ends, ``timeout`` passes, or ``interrupted()`` (asked every few tens of ms)."""
        self.access.require_member()
        self._jobs.wait_any(ids, timeout, interrupted)

    def progress(self, gen_id: int) -> JobProgress | None:
        self.access.require_member()
        return self._jobs.progress(gen_id)

    def is_active(self, gen_id: int) -> bool:
        self.access.require_member()
        return self._jobs.is_active(gen_id)

    def cancel(self, gen_id: int) -> bool:
        """Cancel a generation still queued or running: the caller's own (an admin: anyone's)."""
        actor = self.access.require_generate()
        if not (actor.local or actor.is_admin):
            record = self._store.generations.get(gen_id)
            if record is not None and record.author != actor.email:
                raise NotAllowed(
                    f"Only the person who asked for generation #{gen_id} or an admin can cancel it."
                )
        return self._jobs.cancel(gen_id)

    # -- re-use -----------------------------------------------------------------------------------

    def request_for(self, gen_id: int) -> GenerationRequest:
        """The exact request of an earlier generation (references re-read from their stored files)."""
        record = self.gallery.get(gen_id)
        if record is None:
            raise InputError(f"Generation {gen_id} is not in the history.")
        s = dict(record.settings)
        roles = s.pop("reference_roles", [])
        refs = tuple(
            image.reference(roles[i] if i < len(roles) else "object")
            for i, image in enumerate(record.references)
        )
        known = set(GenerationRequest.__dataclass_fields__)
        kwargs = {k: v for k, v in s.items() if k in known}
        kwargs["modalities"] = tuple(kwargs.get("modalities") or ("IMAGE",))
        kwargs["safety_settings"] = tuple(kwargs.get("safety_settings") or ())
        kwargs.update(
            prompt=record.prompt,
            model=record.model,
            references=refs,
            variants=1,
            composition=record.composition,
        )
        return GenerationRequest(**kwargs)

    def retry(self, gen_id: int, *, private: bool = False) -> list[int]:
        """The same request again (private when asked, or when the original is private)."""
        self.access.require_generate()
        record = self.gallery.get(gen_id)
        return self.submit(self.request_for(gen_id), private=private or bool(record and record.private))

    def vary(self, gen_id: int) -> list[int]:
        """The same request with a new seed (none: the endpoint picks one); private when the original is."""
        self.access.require_generate()
        record = self.gallery.get(gen_id)
        req = replace(self.request_for(gen_id), seed=None)
        return self.submit(req, private=bool(record and record.private))

    # -- work a stopped studio left unfinished (the notice on Generate and History) ---------------

    def _mine(self, ids: Sequence[int]) -> list[int]:
        """Of ``ids``, the caller's own generations (an admin, and the one local person: every one)."""
        actor = self.access.require_member()
        if actor.local or actor.is_admin:
            return list(ids)
        authors = {r.id: r.author for r in self._store.gallery.records(ids)}
        return [i for i in ids if authors.get(i) == actor.email]

    def interrupted_work(self) -> list[int]:
        """Generations interrupted when a studio stopped that the caller (in a team studio: its author) has
        neither retried nor dismissed, oldest first. Reading this changes nothing."""
        self.access.require_member()
        return self._mine(self._store.notices.open_ids())

    def retry_interrupted(self, ids: Sequence[int]) -> list[int]:
        """Resubmit each of ``ids`` still open, exactly as it was asked for; returns the new generation ids.

        Each is claimed before it is sent, so a second click or another tab sends nothing again. One that
        cannot be sent (no key, a model no longer offered) stays open; its error is raised when none was sent."""
        from studio.services.studio import _variant

        self.access.require_generate()
        notices = self._store.notices
        sent: list[int] = []
        error: StudioError | None = None
        for gen_id in notices.acknowledge(self._mine(ids), RETRIED):
            try:
                record = self._store.generations.get(gen_id)
                req = replace(self.request_for(gen_id), cell_key=notices.cell_key(gen_id))
                private = bool(record and record.private)
                sent += self.submit(_variant(req, record.variant_index if record else 0), private=private)
            except StudioError as exc:
                notices.release([gen_id])
                error = error or exc
        if error is not None and not sent:
            raise error
        return sent

    def dismiss_interrupted(self, ids: Sequence[int]) -> int:
        """Stop telling the caller about ``ids`` (kept in the database, so for every later start too);
        the rows themselves stay in the history as they are. Returns how many were still open."""
        self.access.require_member()
        return len(self._store.notices.acknowledge(self._mine(ids), DISMISSED))

    # -- browsing ---------------------------------------------------------------------------------

    def get(self, gen_id: int) -> GenerationRecord | None:
        """The generation, or None when it is not in the history or the caller may not see it."""
        return self.gallery.get(gen_id)

    def history(self, **filters: Any) -> list[GenerationRecord]:
        """A page of the history (``GalleryRepository.page``'s keywords), narrowed to what the caller sees."""
        vis = self.access.visibility()
        filters["filter"] = replace(filters.get("filter") or GalleryFilter(), visibility=vis)
        return self._store.gallery.page(**filters)

    def check_connection(self) -> str:
        self.access.require_generate()
        return self._studio.client.check()

    def enhance(self, idea: str, n: int = 3) -> list[str]:
        """``n`` prompt proposals from the text model (setting ``STUDIO_TEXT_MODEL``); edits nothing."""
        self.access.require_generate()
        from studio.gemini.enhance import enhance

        return enhance(self._studio.client, self.settings.text_model, idea, n=n)

    # -- budgets ----------------------------------------------------------------------------------

    def budget_line(self) -> str | None:
        """ "$3.20 of $20.00 used this month" for the caller; None when no cap applies (no personal budget
        and no ``STUDIO_TEAM_BUDGET``; without sign-in only the latter)."""
        return self.spend.line()


def default_access(
    store: Store,
    settings: Settings,
    sign_in: Callable[[str], Actor],
    *,
    people_lookup: Callable[[str], Any] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[Access, bool]:
    """The access of whoever a studio or archive acts for without a page: the one local person with
    ``STUDIO_LOGIN=none``; in a team studio ``STUDIO_USER`` (signed in, so an allowed domain may join),
    refused with a sentence when it is missing, unknown or disabled. The flag: whether it may be kept
    (a refusal is asked again next time)."""
    if not settings.team_mode:
        return Access.local(), True
    if not settings.user:
        return Access(Actor.signed_out(), signed_out=needs_user(settings)), True
    try:
        actor = sign_in(settings.user)
    except (NotAllowed, InputError) as exc:
        return Access(Actor.signed_out(), refusal=NotAllowed(exc.message)), False
    return Access(actor, people_lookup, clock), True
