"""The studio's use cases, shared by the UI and the CLI: submit, follow, cancel, retry, browse.

Order of work for every paid call (docs/reliability.md, "Paid work"): a ``pending`` row is committed before the
request is sent; the image files are written and fsynced before the row that points at them is
committed. A crash at any step therefore leaves either a pending row (resolved to ``interrupted`` on
the next start, or adopted by ``studio doctor``) or a complete generation, never a lost image.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.domain import catalogue
from studio.domain.crashpoints import crashpoint
from studio.domain.errors import (
    Cancelled,
    GenerationRefused,
    NoKey,
    StoreError,
    StudioError,
)
from studio.domain.people import REVIEWER, Actor, Person
from studio.domain.requests import BLOCKED, CANCELLED, FAILED, NO_IMAGE, GenerationRequest, Outcome
from studio.domain.settings import Secret, Settings, load_settings
from studio.gemini import wire
from studio.gemini.client import GeminiClient
from studio.gemini.error_mapping import redact  # re-exported: the app redacts without importing studio.gemini
from studio.services import budgets, leases, lifecycle
from studio.services.access import Access
from studio.services.drafts import DraftService
from studio.services.editing import EditService
from studio.services.gallery import GalleryService, live_thumbnail
from studio.services.jobs import JobProgress, JobRunner, Work
from studio.services.links import LinkService
from studio.services.organise import OrganiseService
from studio.services.reviews import ReviewService
from studio.services.runs import RunService
from studio.services.session import StudioSession, default_access
from studio.services.templates import TemplateService
from studio.storage import GenerationRecord, Store
from studio.storage.worker_repo import WorkerRepository

if TYPE_CHECKING:
    from studio.emulator import Emulator

log = logging.getLogger(__name__)

#: Owner tokens of the Studio instances alive in this process (rows they own are not orphans).
_LIVE_OWNERS = leases.LIVE_OWNERS
#: How many thumbnail viewers (``signed_thumbnail_file``) are remembered before the memory starts again.
_VIEWERS_KEPT = 256
#: ``close`` waits for calls already sent up to the client's overall deadline plus this, then abandons them.
CLOSE_MARGIN_S = 10.0


def _owner_alive(owner: str) -> bool:
    """Whether ``owner`` is alive, judged from this host alone (its pid); ``leases.Liveness`` adds the
    leases of other hosts."""
    return leases.pid_alive(owner)


class Studio:
    def __init__(self, settings: Settings, *, client: GeminiClient | None = None) -> None:
        self.settings = settings
        self.emulator: Emulator | None = None
        if settings.demo and client is None:
            self.settings = settings = self._start_demo_emulator(settings)
        try:
            self._open(settings, client)
        except BaseException:
            if self.emulator is not None:  # nothing else of a Studio that failed to open stays behind
                self.emulator.stop()
            raise
        # What the app and the CLI call (never ``_store``, which only services use) is one person's
        # ``StudioSession``: ``session(actor)`` for a signed-in person; the Studio's own methods and services
        # (``gallery``, ``organise``, ...) act as ``default_actor``'s session, resolved on first use.
        self._default_session: StudioSession | None = None
        self._default_lock = threading.Lock()
        self._viewers: dict[str, Access] = {}  # thumbnail viewers by email (``signed_thumbnail_file``)
        self._viewers_lock = threading.Lock()

    def _open(self, settings: Settings, client: GeminiClient | None) -> None:
        """The store, the client, the workers and the lease; whatever was opened is closed again, the owner
        forgotten and the lease removed when a step fails (a history that cannot be reached, say)."""
        self._store = Store.for_settings(settings)
        self.owner = leases.new_owner()
        self.adopted_on_start: list[int] = []
        self.interrupted_on_start: list[int] = []
        opened: list[Callable[[], object]] = [self._store.close]  # undone in reverse order on a failure
        try:
            self.lease = leases.Keeper(WorkerRepository(self._store.db), self._store.generations, self.owner)
            self.lease.when_released(self._store.close)  # never under a renewal still in flight
            opened[0] = self.lease.stop  # which forgets the lease, then closes the store
            self.client = client or GeminiClient.from_settings(settings)
            opened.append(self.client.close)
            self.jobs = JobRunner(settings.workers)
            opened.append(lambda: self.jobs.shutdown(wait=False))
            _LIVE_OWNERS.add(self.owner)
            opened.append(lambda: _LIVE_OWNERS.discard(self.owner))
            lifecycle.register(self)
            opened.append(lambda: lifecycle.unregister(self))
            # Several processes share the history: this one registers a heartbeat lease, then resolves what
            # dead owners left (adopted from its journal, else interrupted), and does so again on every beat.
            if not self._store.readonly:  # a history written by a newer Studio is only read
                self.lease.register()
                self.adopted_on_start, self.interrupted_on_start = self._store.generations.claim_orphans(
                    self.lease.liveness
                )
                self.lease.start(self)
        except BaseException:
            for undo in reversed(opened):
                try:
                    undo()
                except Exception:
                    log.exception("unexpected error while undoing a studio that failed to open")
            raise

    def _start_demo_emulator(self, settings: Settings) -> Settings:
        """Demo mode: an in-process emulator on a free loopback port stands in for the endpoint."""
        from studio.emulator import Emulator

        self.emulator = Emulator(port=0).start()
        return settings.with_(
            base_url=self.emulator.url, auth="bearer", api_key=Secret("demo"), key_source="demo"
        )

    @property
    def is_demo(self) -> bool:
        return self.settings.demo

    # -- who is calling ----------------------------------------------------------------------------

    def session(self, actor: Actor, *, clock: Callable[[], float] = time.monotonic) -> StudioSession:
        """One person's studio: every service method checks ``actor`` first. Without sign-in
        (``STUDIO_LOGIN=none``) every caller is the one local person; in a team studio the person's row is
        read again at most every 30 s (``clock``: monotonic seconds), so a disabled person stops within a
        minute."""
        if not self.settings.team_mode:
            return StudioSession(self, Access.local())
        if actor.local:  # "the one person on this machine" means nothing once sign-in is on
            actor = Actor.signed_out()
        return StudioSession(self, Access(actor, self._person, clock))

    def _person(self, email: str) -> Person | None:
        person: Person | None = self._store.people.get(email)
        return person

    def sign_in(self, email: str) -> Actor:
        """The member ``email`` names, as an Actor (a person of an allowed domain joins as a designer);
        NotAllowed with a sentence for anyone else, or a disabled member."""
        from studio.services import accounts

        return accounts.sign_in(self._store, self.settings, email)

    @property
    def default_actor(self) -> Actor:
        """Whom the Studio's own methods act for: the local person without sign-in; in a team studio the
        member ``STUDIO_USER`` names (signed out without one; NotAllowed for an unknown or disabled one)."""
        return self._default().access.require_member()

    def _default(self) -> StudioSession:
        if self._default_session is not None:
            return self._default_session
        with self._default_lock:
            if self._default_session is not None:
                return self._default_session
            access, keep = default_access(
                self._store, self.settings, self.sign_in, people_lookup=self._person
            )
            session = StudioSession(self, access)
            if keep:
                self._default_session = session
            return session

    @property
    def access(self) -> Access:
        return self._default().access

    @property
    def actor(self) -> Actor:
        return self._default().actor

    @property
    def gallery(self) -> GalleryService:
        return self._default().gallery

    def signed_thumbnail_file(self, sha256: str, viewer: str) -> Path | None:
        """A thumbnail asked for at an address a page signed for ``viewer``, whom it let see the image
        (``app/thumb_links``, checked by the route before this): the signature is the permission while the
        viewer is still an enabled member (their row read again at most every 30 s, as a session's is);
        here, that and that it is a live generation's output."""
        try:
            self._viewer_access(viewer).require_member()
        except StudioError:
            return None
        return live_thumbnail(self._store, sha256, None)

    def _viewer_access(self, email: str) -> Access:
        with self._viewers_lock:
            access = self._viewers.get(email)
            if access is None:
                if len(self._viewers) >= _VIEWERS_KEPT:  # a team's people, not a crowd: start again
                    self._viewers.clear()
                # the role is a placeholder: require_member answers with the person's current row
                access = self._viewers[email] = Access(Actor(email, REVIEWER), people_lookup=self._person)
            return access

    @property
    def organise(self) -> OrganiseService:
        return self._default().organise

    @property
    def templates(self) -> TemplateService:
        return self._default().templates

    @property
    def editing(self) -> EditService:
        return self._default().editing

    @property
    def runs(self) -> RunService:
        return self._default().runs

    @property
    def drafts(self) -> DraftService:
        """The composer's draft; a dropped image."""
        return self._default().drafts

    @property
    def review(self) -> ReviewService:
        """Decisions, comments, queues and the review pack (issue 15)."""
        return self._default().review

    @property
    def links(self) -> LinkService:
        """Client links (issue 15)."""
        return self._default().links

    # -- generating -------------------------------------------------------------------------------

    def submit(self, req: GenerationRequest, *, private: bool = False) -> list[int]:
        """Record one pending row per variant, then queue them (as ``default_actor``). Returns the ids."""
        return self._default().submit(req, private=private)

    def _submit(self, actor: Actor, req: GenerationRequest, private: bool) -> list[int]:
        """Record one pending row per variant (author ``actor``), then queue them. Returns the generation
        ids. The caller (``StudioSession.submit``) has checked that ``actor`` may generate.

        Every path (Generate, Edit, Experiment, batch, CLI) comes through here: the one rule
        (``catalogue.validate``) is enforced before a row is written or anything is paid for."""
        model = catalogue.resolve_model(req.model)  # refuses an unknown or empty name before any row
        if model != req.model:  # a display name typed as a custom id: record the id
            req = replace(req, model=model)
        catalogue.validate(req)
        if self.jobs.stopping:
            raise Cancelled("The studio is stopping, so this was not sent; nothing was charged.")
        if not self.settings.has_key:
            raise NoKey()
        self.lease.ensure_fresh()  # a process paused past its lease renews it before it writes new rows
        ids = self._create_rows(actor, req, private)
        for index, gen_id in enumerate(ids):
            self.jobs.submit(gen_id, self._work(gen_id, req, index))
        return ids

    def _create_rows(self, actor: Actor, req: GenerationRequest, private: bool) -> list[int]:
        """The submission's pending rows, one per variant, written in one transaction before anything is sent.

        Each row reserves one call's list-price estimate against the month's budgets (``services.budgets``):
        a submission that does not fit is recorded as one ``refused`` row and raises ``OverBudget`` (its
        sentence says what is left); nothing is sent. A final row counts its actual ``cost_usd`` instead
        (0 when nothing was charged), so the budget settles without another write."""
        estimate = catalogue.estimate(
            req.model,
            size=req.image_size,
            ratio=req.aspect_ratio,
            variants=1,
            references=len(req.references),
            prompt_chars=len(req.prompt),
        ).usd
        person = None
        if self.settings.team_mode and actor.email is not None and not actor.local:
            person = self._person(actor.email)
        limits = budgets.limits_for(self.settings, person)
        return self._store.generations.create_pending_many(
            count=req.variants,
            author=actor.email,
            private=private,
            estimate_usd=estimate,
            limits=limits,
            prompt=req.prompt,
            model=req.model,
            settings=req.settings() | {"reference_roles": [r.role for r in req.references]},
            owner=self.owner,
            composition=req.composition,
            references=req.references,
            parent_id=req.parent_id,
            run_id=req.run_id,
            cell_key=req.cell_key,
        )

    def _work(self, gen_id: int, req: GenerationRequest, index: int) -> Work:
        def work(cancel: threading.Event, report: Callable[[str], None]) -> None:
            self._run_one(gen_id, req, index, cancel, report)

        return work

    def _run_one(
        self,
        gen_id: int,
        req: GenerationRequest,
        index: int,
        cancel: threading.Event,
        report: Callable[[str], None],
    ) -> GenerationRecord | None:
        started = time.monotonic()

        def latency() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            if cancel.is_set():
                raise Cancelled("Cancelled before the request was sent; nothing was charged.")
            self._store.generations.mark_running(gen_id)
            body = wire.build_body(_variant(req, index))
            crashpoint("before_call")
            outcome = self.client.generate(
                req.model,
                body,
                cancel=cancel,
                on_wait=lambda seconds, sentence: self.jobs.retry_wait(gen_id, sentence),
                may_retry=lambda: self.jobs.may_send_again(gen_id),
            )
            crashpoint("after_response")
            refusal = wire.refusal(outcome)
            if refusal is not None:  # no image, but the tokens it reports are billed
                return self._store.generations.save_failure(
                    gen_id,
                    status=refusal.status,
                    error=refusal,
                    outcome=outcome,
                    latency_ms=latency(),
                    cost_usd=_reply_cost(req, outcome),
                )
            report("Saving…")
            self._store.generations.keep_success(
                gen_id, outcome, latency_ms=latency(), cost_usd=_cost(req, outcome)
            )
            return None  # saved: whoever waits reads the row
        except Cancelled as exc:
            return self._record_failure(gen_id, CANCELLED, exc, latency())
        except GenerationRefused as exc:
            return self._record_failure(gen_id, exc.status, exc, latency(), req)
        except StudioError as exc:
            return self._record_failure(gen_id, FAILED, exc, latency())
        except Exception as exc:  # a bug: keep the row honest and the traceback in the log, not the page
            log.exception("generation %s failed unexpectedly", gen_id)
            error = StudioError(
                f"An unexpected error stopped this generation ({type(exc).__name__}). "
                "It is recorded in the terminal log; please report it."
            )
            return self._record_failure(gen_id, FAILED, error, latency())

    def _record_failure(
        self,
        gen_id: int,
        status: str,
        error: StudioError,
        latency_ms: int,
        req: GenerationRequest | None = None,
    ) -> GenerationRecord | None:
        """Finish ``gen_id`` without an image. A refusal that carries the endpoint's reply (``req``
        given) costs what that reply's tokens cost."""
        outcome = getattr(error, "outcome", None)
        cost = _reply_cost(req, outcome) if req is not None and isinstance(outcome, Outcome) else None
        try:
            if self.jobs.abandoned:  # a call given up by a second stop signal: interrupted, not failed
                self._store.generations.interrupt_owned(self.owner)
                return self._store.generations.get(gen_id)
            return self._store.generations.save_failure(
                gen_id, status=status, error=error, outcome=outcome, latency_ms=latency_ms, cost_usd=cost
            )
        except StoreError:
            log.exception("could not record the failure of generation %s", gen_id)
            return None

    def generate(self, req: GenerationRequest, timeout: float | None = None) -> list[GenerationRecord]:
        """Submit and wait: the CLI's path."""
        return self._default().generate(req, timeout)

    def wait(self, ids: Sequence[int], timeout: float | None = None) -> list[GenerationRecord]:
        return self._default().wait(ids, timeout)

    def progress(self, gen_id: int) -> JobProgress | None:
        return self._default().progress(gen_id)

    def is_active(self, gen_id: int) -> bool:
        return self._default().is_active(gen_id)

    def cancel(self, gen_id: int) -> bool:
        return self._default().cancel(gen_id)

    # -- re-use -----------------------------------------------------------------------------------

    def request_for(self, gen_id: int) -> GenerationRequest:
        """The exact request of an earlier generation (references re-read from their stored files)."""
        return self._default().request_for(gen_id)

    def retry(self, gen_id: int) -> list[int]:
        return self._default().retry(gen_id)

    # -- work a stopped studio left unfinished (the notice on Generate and History) ---------------

    def interrupted_work(self) -> list[int]:
        """Generations interrupted when a studio stopped that the designer has neither retried nor dismissed,
        oldest first. Reading this changes nothing."""
        return self._default().interrupted_work()

    def retry_interrupted(self, ids: Sequence[int]) -> list[int]:
        """Resubmit each of ``ids`` still open, exactly as it was asked for (``StudioSession``)."""
        return self._default().retry_interrupted(ids)

    def dismiss_interrupted(self, ids: Sequence[int]) -> int:
        """Stop telling the designer about ``ids``; returns how many were still open."""
        return self._default().dismiss_interrupted(ids)

    # -- browsing ---------------------------------------------------------------------------------

    def get(self, gen_id: int) -> GenerationRecord | None:
        return self._default().get(gen_id)

    def history(self, **filters: Any) -> list[GenerationRecord]:
        return self._default().history(**filters)

    def check_connection(self) -> str:
        return self._default().check_connection()

    def enhance(self, idea: str, n: int = 3) -> list[str]:
        """``n`` prompt proposals from the text model (setting ``STUDIO_TEXT_MODEL``); edits nothing."""
        return self._default().enhance(idea, n)

    # -- stopping ---------------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self.jobs.stopping

    def stop_taking_work(self) -> list[int]:
        """A polite stop: nothing new is sent (queued generations end ``cancelled``, nothing charged);
        returns the ids of the calls already sent, which go on and are saved."""
        return self.jobs.stop()

    def abandon(self) -> list[int]:
        """Give up on the calls still out (a second stop signal): their rows end ``interrupted`` and the
        calls are cancelled. An image already being saved is kept (adopted from its journal), not given up.
        Returns the ids given up."""
        ids = self.jobs.abandon()
        interrupted = set(self._store.generations.interrupt_owned(self.owner))
        return [gen_id for gen_id in ids if gen_id in interrupted]

    def close(self) -> None:
        """Stop politely: queued work is cancelled before it is sent, calls already sent are waited for
        (as long as the client's own deadline allows) and saved; only then is anything closed."""
        self.stop_taking_work()
        if not self.jobs.wait_all(timeout=self.settings.overall_timeout + CLOSE_MARGIN_S):
            self.abandon()
        self.jobs.shutdown(wait=False)
        self.client.close()
        self.lease.stop()  # a clean close: the rows are final, the lease is forgotten; then the store closes
        _LIVE_OWNERS.discard(self.owner)
        lifecycle.unregister(self)
        if self.emulator is not None:
            self.emulator.stop()


def _variant(req: GenerationRequest, index: int) -> GenerationRequest:
    """Variants with a fixed seed would all be the same image; offset the seed per variant."""
    if req.seed is None or index == 0:
        return req
    from dataclasses import replace

    return replace(req, seed=req.seed + index)


def _cost(req: GenerationRequest, outcome: Outcome) -> float:
    """List price of one call: its input once, plus every output image it returned."""
    est = catalogue.estimate(
        req.model,
        size=req.image_size,
        ratio=req.aspect_ratio,
        variants=1,
        references=len(req.references),
        prompt_chars=len(req.prompt),
    )
    extra_images = max(0, len(outcome.images) - 1)
    return round(est.usd + extra_images * catalogue.lookup(req.model).price(req.image_size), 6)


def _reply_cost(req: GenerationRequest, outcome: Outcome) -> float:
    """List price of a reply that brought no image: the tokens it reports (``catalogue.reply_usd``)."""
    return catalogue.reply_usd(
        req.model,
        outcome.usage or {},
        size=req.image_size,
        references=len(req.references),
        prompt_chars=len(req.prompt),
    )


def open_studio(settings: Settings | None = None, *, demo: bool = False) -> Studio:
    """The one way to open a studio (the app, the CLI, batch). ``demo`` is a ``--demo`` flag; the
    ``STUDIO_DEMO`` variable is read by ``load_settings`` alone. The history without a studio around it:
    ``services.archive.open_archive``."""
    settings = settings or load_settings()
    if demo:
        settings = settings.with_(demo=True)
    return Studio(settings)


__all__ = ["Studio", "StudioSession", "open_studio", "redact", "BLOCKED", "NO_IMAGE", "FAILED"]
