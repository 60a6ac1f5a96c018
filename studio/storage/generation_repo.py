"""``GenerationRepository``: generations on SQLite plus the image files they point at.

Persist protocol: files first (written atomically, named by content hash), then one short IMMEDIATE
transaction that records them. A crash in between leaves an unreferenced file, never a row that
points at a missing or partial file.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import case, exists, func, inspect, update
from sqlmodel import Session, col, select

from studio.domain.crashpoints import crashpoint
from studio.domain.errors import BadResponse, DiskFull, ImageRejected, OverBudget, StoreError, StudioError
from studio.domain.records import GenerationRecord, ImageRecord
from studio.domain.requests import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    INTERRUPTED,
    PENDING,
    REFUSED,
    RUNNING,
    SUCCEEDED,
    ImagePart,
    Outcome,
    Reference,
)
from studio.imaging import images
from studio.storage import files, journal, spend_repo, turns
from studio.storage.blob_files import StoredFiles
from studio.storage.blobs import LocalBlobs
from studio.storage.database import Database, lock_files, rowcount, upsert
from studio.storage.spend_repo import BudgetLimits
from studio.storage.tables import (
    Asset,
    Generation,
    GenerationAsset,
    Worker,
    records,
    select_generations,
    utc_now,
)
from studio.storage.worker_repo import db_now, stamp

STATUSES = ACTIVE_STATUSES + FINAL_STATUSES
INTERRUPTED_MESSAGE = (
    "The studio stopped while this was generating; if the endpoint charged for it, the image was not "
    "received. Retry it from History."
)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


#: Waits before retrying the commit of a saved image when the database is busy (each try also waits
#: busy_timeout, 5 s).
COMMIT_RETRY_DELAYS = (0.5, 1.0, 2.0)
#: Error kinds of a row that failed after its files were saved, because the history could not be written.
STORE_FAILURES = ("store", "disk_full")
#: Error kinds of a final row that an adoptable journal may still finish as succeeded: the store failures,
#: and a stop that gave up on the row (only a stop sets ``interrupted``) while its image was being saved.
ADOPTABLE_KINDS = (*STORE_FAILURES, "interrupted")
#: Longest side of an on-screen preview. At most Streamlit's widest image (MAXIMUM_CONTENT_WIDTH, 1460 px),
#: or st.image decodes and re-encodes the file on every rerun.
PREVIEW_SIDE = 1440
_THUMBNAILER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="studio-thumb")


def _alongside(work: Callable[..., object], *args: Any) -> Callable[[], object]:
    """``work(*args)`` on the shared pool while the caller writes an original; the returned callable waits
    for it (and raises what it raised). Once the interpreter is shutting down (a stop while a paid call was
    out) the pool refuses new work: the paid image is still saved, the work done in this thread."""
    try:
        return _THUMBNAILER.submit(work, *args).result
    except RuntimeError:  # "cannot schedule new futures after (interpreter) shutdown"
        return functools.partial(work, *args)


@dataclass(frozen=True)
class _Stored:
    sha256: str
    mime_type: str
    width: int
    height: int
    size: int
    path: str
    thumb_path: str | None
    name: str = ""
    #: The bytes, when the save found the image already stored (another row has or had it): a concurrent
    #: ``empty_trash`` may be removing it, so the commit checks it is still there (``_keep_files``).
    reused: bytes | None = field(default=None, repr=False)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _outcome_fields(outcome: Outcome) -> dict[str, Any]:
    usage = outcome.usage or {}
    return {
        "text": outcome.text or "",
        "thoughts_text": outcome.thoughts_text or "",
        "finish_reason": outcome.finish_reason,
        "block_reason": outcome.block_reason,
        "usage_json": _json(usage),
        "prompt_tokens": _int(usage.get("promptTokenCount")),
        "output_tokens": _int(usage.get("candidatesTokenCount")),
        "total_tokens": _int(usage.get("totalTokenCount")),
        "grounding_json": _json(outcome.grounding) if outcome.grounding else None,
    }


def _interrupted_cost() -> Any:
    """The cost an interrupted row keeps (an UPDATE's column expression). A ``running`` row's request had
    been sent (``mark_running`` comes just before the call): the endpoint may have generated and billed
    the image although none came back, and there is no way to ask, so the row counts its list-price
    estimate (``estimate_usd``) against the month's budgets and in the spend report, rather than nothing.
    A ``pending`` row was never sent and counts nothing. Retrying it is a new call with its own estimate."""
    return case(
        (
            col(Generation.status) == RUNNING,
            func.coalesce(col(Generation.cost_usd), col(Generation.estimate_usd)),
        ),
        else_=col(Generation.cost_usd),
    )


class GenerationRepository:
    """Generations from the pending row before the paid call to the saved result, and their recovery."""

    def __init__(self, db: Database, data_dir: Path, stored: StoredFiles | None = None) -> None:
        self.db = db
        self.data_dir = data_dir
        self.stored = stored or StoredFiles(LocalBlobs(data_dir), data_dir)
        self.journals = self.stored.journals

    def _save_image(self, data: bytes, name: str = "") -> _Stored | None:
        """Write an original (as received) and its thumbnail; None if the bytes are not an image."""
        sha = images.sha256_hex(data)
        mime = images.sniff(data)
        if mime is None:  # keep paid-for bytes for inspection, but never under images/
            files.write_atomic(files.contained(self.data_dir, "quarantine", f"{sha}.bin"), data)  # local
            return None
        try:
            mime, width, height = images.probe(data)
        except ImageRejected:
            width = height = 0
        rel = files.image_relpath(sha, mime)
        thumb_rel = files.thumb_relpath(sha)
        thumb: str | None = thumb_rel
        # Decoding a 4K PNG for its thumbnail takes ~0.2 s and Pillow releases the GIL while it decodes,
        # so the thumbnail is made and stored while the original is written (and fsynced, or uploaded).
        new = not self.stored.exists(thumb_rel)
        pending = _alongside(self._store_thumbnail, thumb_rel, data) if new else None
        in_bucket = self.stored.mode == "s3"
        # a bucket's local cache gets a copy too (the page about to show the image reads it), written meanwhile
        kept = _alongside(self.stored.remember, rel, data) if in_bucket else None
        # Same name means same bytes: an original already stored is not written again. In a bucket, a new
        # image (no thumbnail yet) is put without asking first: a re-put of the same bytes is harmless.
        wrote = self.stored.put(rel, data, replace=new and in_bucket)
        if kept is not None:
            kept()
        if pending is not None:
            try:
                pending()
            except ImageRejected:
                thumb = None
        reused = data if not (new and wrote) else None
        return _Stored(sha, mime, width, height, len(data), rel, thumb, name, reused)

    def _keep_files(self, session: Session, saved: Sequence[_Stored]) -> None:
        """In the transaction that commits rows naming ``saved``: an image this save found already stored
        (so did not write) may have been removed by an ``empty_trash`` since, whose rows no longer named it;
        it is written again. Holding the files lock, no removal runs between this check and the commit, and
        after the commit the row names the file, so no later one removes it."""
        reused = [s for s in saved if s.reused is not None]
        if not reused:
            return
        lock_files(session, shared=True)
        for s in reused:
            assert s.reused is not None
            if not self.stored.exists(s.path):
                self.stored.put(s.path, s.reused, replace=True)
            if s.thumb_path is not None and not self.stored.exists(s.thumb_path):
                self._store_thumbnail(s.thumb_path, s.reused)

    def _store_thumbnail(self, key: str, data: bytes) -> None:
        self.stored.put(key, images.make_thumbnail(data), replace=True)  # known absent: no question first

    def _save_images(self, parts: Sequence[ImagePart]) -> list[_Stored]:
        return [s for s in (self._save_image(p.data) for p in parts) if s is not None]

    def _save_turn(
        self,
        content: dict[str, Any] | None,
        outputs: Sequence[_Stored] = (),
        thoughts: Sequence[_Stored] = (),
    ) -> str | None:
        if content is None:
            return None
        content = turns.slim(content, [s.sha256 for s in outputs], [s.sha256 for s in thoughts])
        data = _json(content).encode("utf-8")
        sha = images.sha256_hex(data)
        # Content-addressed and small: in a bucket one PUT costs what asking first would.
        self.stored.put(files.turn_relpath(sha), data, replace=self.stored.mode == "s3")
        return sha

    # -- rows ------------------------------------------------------------------------------

    def _link(self, session: Session, gen_id: int, role: str, stored: Sequence[_Stored]) -> None:
        for position, s in enumerate(stored):
            session.exec(
                upsert(session, Asset)
                .values(
                    sha256=s.sha256,
                    mime_type=s.mime_type,
                    width=s.width,
                    height=s.height,
                    bytes=s.size,
                    path=s.path,
                    thumb_path=s.thumb_path,
                    created_at=utc_now(),
                )
                .on_conflict_do_nothing(index_elements=["sha256"])
            )
            asset_id = session.exec(select(Asset.id).where(Asset.sha256 == s.sha256)).one()
            session.exec(
                upsert(session, GenerationAsset)
                .values(
                    generation_id=gen_id,
                    role=role,
                    position=position,
                    asset_id=asset_id,
                    name=s.name,
                )
                .on_conflict_do_nothing()
            )

    def _update(self, session: Session, gen_id: int, *conditions: Any, **values: Any) -> int:
        stmt = update(Generation).where(col(Generation.id) == gen_id, *conditions)
        return rowcount(session.exec(stmt.values(updated_at=utc_now(), **values)))

    def _require(self, session: Session, gen_id: int, *conditions: Any, **values: Any) -> None:
        if not self._update(session, gen_id, *conditions, **values):
            raise StoreError(f"Generation {gen_id} is not in the history.")

    # -- public API ------------------------------------------------------------------------

    def create_pending(
        self,
        *,
        prompt: str,
        model: str,
        settings: dict[str, Any],
        owner: str,
        composition: dict[str, Any] | None = None,
        references: Sequence[Reference] = (),
        parent_id: int | None = None,
        run_id: int | None = None,
        variant_index: int = 0,
        cell_key: str | None = None,
        author: str | None = None,
        private: bool = False,
    ) -> int:
        """One row before its paid call, with no estimate and no budget check (``create_pending_many`` with
        one variant). ``author``: who asked for it (``local`` without sign-in); ``private``: seen only by
        them and admins."""
        [gen_id] = self.create_pending_many(
            count=1,
            author=author,
            private=private,
            estimate_usd=None,
            limits=None,
            prompt=prompt,
            model=model,
            settings=settings,
            owner=owner,
            composition=composition,
            references=references,
            parent_id=parent_id,
            run_id=run_id,
            cell_key=cell_key,
            first_variant=variant_index,
        )
        return gen_id

    def create_pending_many(
        self,
        *,
        count: int,
        author: str | None,
        private: bool,
        estimate_usd: float | None,
        limits: BudgetLimits | None,
        prompt: str,
        model: str,
        settings: dict[str, Any],
        owner: str,
        composition: dict[str, Any] | None = None,
        references: Sequence[Reference] = (),
        parent_id: int | None = None,
        run_id: int | None = None,
        cell_key: str | None = None,
        first_variant: int = 0,
    ) -> list[int]:
        """Record the ``count`` variants of one submission before any paid call, in one write transaction
        (reference files are written once, first). Each row reserves ``estimate_usd`` (one call's list price)
        while it is active; once final it counts its ``cost_usd``.

        With ``limits``, the transaction takes the budget lock and checks this month's use (final costs plus
        active reservations, the author's and, with a team cap, everyone's) before inserting: a submission
        that does not fit records ONE ``refused`` row (error kind ``budget``, the sentence) and raises
        ``OverBudget`` with its ``generation_id``. Nothing is ever sent from here."""
        if count < 1:
            raise ValueError("a submission has at least one variant")
        self.db.check_writable()
        stored = [s for s in (self._save_image(r.data, r.name) for r in references) if s is not None]
        refused: str | None = None
        ids: list[int] = []
        with self.db.write() as session:
            self._keep_files(session, stored)
            if limits is not None and limits.has_cap:
                spend_repo.lock_budget(session)
                need = round(count * (estimate_usd or 0.0), 6)
                short = spend_repo.shortfall(session, limits, author, need)
                if short is not None:
                    refused = limits.explain(short)
            now = utc_now()
            for index in range(1 if refused is not None else count):
                row = Generation(
                    created_at=now,
                    updated_at=now,
                    status=REFUSED if refused is not None else PENDING,
                    prompt=prompt,
                    model=model,
                    settings_json=_json(settings),
                    composition_json=_json(composition) if composition is not None else None,
                    parent_id=parent_id,
                    run_id=run_id,
                    variant_index=first_variant + index,
                    owner=owner,
                    cell_key=cell_key,
                    author=author,
                    private=private,
                    estimate_usd=(
                        None
                        if estimate_usd is None
                        else round(count * estimate_usd if refused is not None else estimate_usd, 6)
                    ),
                    error_kind=OverBudget.kind if refused is not None else None,
                    error_message=refused,
                )
                session.add(row)
                session.flush()
                assert row.id is not None
                self._link(session, row.id, "reference", stored)
                ids.append(row.id)
        if refused is not None:
            error = OverBudget(refused)
            error.generation_id = ids[0]
            raise error
        return ids

    def mark_running(self, gen_id: int) -> None:
        """pending -> running; a row already cancelled or finished is left alone."""
        with self.db.write() as session:
            self._update(session, gen_id, col(Generation.status) == PENDING, status=RUNNING)

    def save_success(
        self, gen_id: int, outcome: Outcome, *, latency_ms: int, cost_usd: float | None
    ) -> GenerationRecord:
        self.keep_success(gen_id, outcome, latency_ms=latency_ms, cost_usd=cost_usd)
        return self._get_existing(gen_id)

    def keep_success(self, gen_id: int, outcome: Outcome, *, latency_ms: int, cost_usd: float | None) -> None:
        """``save_success`` without reading the row back: a worker's, whose callers read it when they ask
        (reading back a row with its images, tags and collections cost 2.3 ms of CPU per generation)."""
        self.db.check_writable()
        outputs = self._save_images(outcome.images)
        thoughts = self._save_images(outcome.thought_images)
        if not outputs:
            error = BadResponse(
                "The endpoint's image data could not be read, so no image was saved "
                "(the raw bytes are kept in the quarantine folder). Try again."
            )
            self.save_failure(  # the image was paid for: its cost counts against the budget
                gen_id,
                status="failed",
                error=error,
                outcome=outcome,
                latency_ms=latency_ms,
                cost_usd=cost_usd,
            )
            return
        # Parts map to saved files by position only when nothing was dropped; otherwise keep the turn verbatim.
        complete = len(outputs) == len(outcome.images) and len(thoughts) == len(outcome.thought_images)
        turn = self._save_turn(outcome.model_content, *((outputs, thoughts) if complete else ((), ())))
        crashpoint("after_files")
        values = dict(
            latency_ms=latency_ms, cost_usd=cost_usd, model_content_sha=turn, **_outcome_fields(outcome)
        )
        journal.write(self.journals, gen_id, values, outputs, thoughts)  # lets a restart adopt the files
        crashpoint("after_journal")
        self._commit_with_retries(gen_id, values, outputs, thoughts)
        crashpoint("after_commit")
        journal.remove(self.journals, gen_id)

    def _commit_with_retries(
        self, gen_id: int, values: dict[str, Any], outputs: Sequence[_Stored], thoughts: Sequence[_Stored]
    ) -> None:
        """The files of a paid image are on disk: a busy database is waited out rather than failed. If the
        row still cannot be written, the journal stays and the next start adopts it (``_drop_stale_journals``)."""
        for delay in (*COMMIT_RETRY_DELAYS, None):
            try:
                self._commit_success(gen_id, values, outputs, thoughts)
                return
            except DiskFull:
                raise
            except StoreError:
                if delay is None:
                    raise
                time.sleep(delay)

    def _commit_success(
        self,
        gen_id: int,
        values: dict[str, Any],
        outputs: Sequence[_Stored],
        thoughts: Sequence[_Stored],
        *conditions: Any,
    ) -> bool:
        with self.db.write() as session:
            self._keep_files(session, [*outputs, *thoughts])
            if not self._update(
                session, gen_id, *conditions, status=SUCCEEDED, error_kind=None, error_message=None, **values
            ):
                if conditions:
                    return False
                raise StoreError(f"Generation {gen_id} is not in the history.")
            self._link(session, gen_id, "output", outputs)
            self._link(session, gen_id, "thought", thoughts)
        return True

    def save_failure(
        self,
        gen_id: int,
        *,
        status: str,
        error: StudioError,
        outcome: Outcome | None = None,
        latency_ms: int | None = None,
        cost_usd: float | None = None,
    ) -> GenerationRecord:
        """Finish a generation without an image, keeping any text and usage that came back (and its cost,
        when the call was charged although no image could be kept). A call that may have been billed
        (``error.may_have_billed``) and has no known cost counts its estimate."""
        if status not in FINAL_STATUSES or status == SUCCEEDED:
            raise ValueError(f"not a failure status: {status!r}")
        values: dict[str, Any] = {"status": status, "error_kind": error.kind, "error_message": error.message}
        if outcome is not None:
            values.update(_outcome_fields(outcome))
        if latency_ms is not None:
            values["latency_ms"] = latency_ms
        if cost_usd is not None:
            values["cost_usd"] = cost_usd
        elif error.may_have_billed:
            values["cost_usd"] = func.coalesce(col(Generation.cost_usd), col(Generation.estimate_usd))
        with self.db.write() as session:
            self._require(session, gen_id, **values)
        return self._get_existing(gen_id)

    def set_status(self, gen_id: int, status: str, *, error: StudioError | None = None) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown status: {status!r}")
        values: dict[str, Any] = {"status": status}
        if error is not None:
            values.update(error_kind=error.kind, error_message=error.message)
        with self.db.write() as session:
            self._require(session, gen_id, **values)

    def interrupt_orphans(self, is_alive: Callable[[str], bool]) -> list[int]:
        """Resolve pending/running rows whose owning process is gone; returns the ids now interrupted.

        A row whose adoption journal names complete files is adopted (finished as succeeded) first.
        """
        return self.claim_orphans(is_alive)[1]

    def claim_orphans(self, is_alive: Callable[[str], bool]) -> tuple[list[int], list[int]]:
        """Claim and resolve every active row of a dead owner: adopted (succeeded) when its journal names
        complete files, else ``interrupted``. Returns (adopted, interrupted). Safe to run in several processes
        at once: each row is claimed by one of them (``_claim``), and the others leave it alone."""
        is_alive = functools.cache(is_alive)  # each owner is asked once
        adopted, interrupted = self._claim(is_alive, adopt=True, interrupt=True)
        self._drop_stale_journals()
        return adopted, interrupted

    def _dead_ids(self, is_alive: Callable[[str], bool]) -> list[int]:
        """Active rows whose owner ``is_alive`` says is gone, oldest first (each owner asked once)."""
        with self.db.read() as session:
            rows = session.exec(
                select(Generation.id, Generation.owner)
                .where(col(Generation.status).in_(ACTIVE_STATUSES))
                .order_by(col(Generation.id))
            ).all()
        alive = {owner: bool(is_alive(owner)) for owner in {owner for _, owner in rows}}
        return [gen_id for gen_id, owner in rows if gen_id is not None and not alive[owner]]

    def _claim(
        self, is_alive: Callable[[str], bool], *, adopt: bool, interrupt: bool, recheck: bool = True
    ) -> tuple[list[int], list[int]]:
        """The claim itself. Liveness and journals are read first, outside any lock (a journal's files are
        hashed); then one write transaction locks the rows still active with ``FOR UPDATE SKIP LOCKED``
        (PostgreSQL: a row another process is claiming is skipped, not waited for; SQLite renders no clause,
        its IMMEDIATE transaction already serialises the claimers) and resolves exactly the rows it locked.

        With ``recheck``, the transaction also leaves the rows of every owner that renewed or registered its
        lease after liveness was judged (by the database's clock): a process paused just past its lease that
        beats again keeps its rows. Without it (``interrupt_owned``: a live owner giving up its own rows)
        only the status is rechecked."""
        judged = stamp(self._clock())
        dead = self._dead_ids(is_alive)
        if not dead:
            return [], []
        entries = {
            gen_id: journal.adoptable(self.journals, gen_id, self.stored.blobs) if adopt else None
            for gen_id in dead
        }
        wanted = [gen_id for gen_id, entry in entries.items() if entry is not None or interrupt]
        if not wanted:
            return [], []
        adopted: list[int] = []
        interrupted: list[int] = []
        with self.db.write() as session:
            query = select(Generation.id).where(
                col(Generation.id).in_(wanted), col(Generation.status).in_(ACTIVE_STATUSES)
            )
            if recheck and self._leases_kept():
                renewed = exists().where(
                    col(Worker.owner) == col(Generation.owner), col(Worker.heartbeat_at) > judged
                )
                query = query.where(~renewed)
            claimed = session.exec(query.order_by(col(Generation.id)).with_for_update(skip_locked=True)).all()
            for gen_id in claimed:
                assert gen_id is not None  # a primary key read back from its table
                entry = entries[gen_id]
                if entry is not None:
                    self._update(
                        session, gen_id, status=SUCCEEDED, error_kind=None, error_message=None, **entry.values
                    )
                    self._link(session, gen_id, "output", [_Stored(**o) for o in entry.outputs])
                    self._link(session, gen_id, "thought", [_Stored(**t) for t in entry.thoughts])
                    adopted.append(gen_id)
                else:
                    self._update(
                        session,
                        gen_id,
                        status=INTERRUPTED,
                        error_kind="interrupted",
                        error_message=INTERRUPTED_MESSAGE,
                        cost_usd=_interrupted_cost(),
                    )
                    interrupted.append(gen_id)
        return adopted, interrupted

    def _leases_kept(self) -> bool:
        """Whether the history has the worker table (schema 8 on; a history opened read-only by doctor
        before its upgrade has no leases to recheck)."""
        if not getattr(self, "_has_workers", False):
            with self.db.read() as session:
                self._has_workers = inspect(session.connection()).has_table(Worker.__tablename__)
        return self._has_workers

    def _clock(self) -> datetime:
        """The database's clock (the one leases are written with)."""
        with self.db.read() as session:
            return db_now(session)

    def _interrupt_dead(self, is_alive: Callable[[str], bool]) -> list[int]:
        return self._claim(is_alive, adopt=False, interrupt=True)[1]

    def interrupt_owned(self, owner: str) -> list[int]:
        """Resolve the pending/running rows of one live owner that gave up on them (a stop abandoned its
        calls): they end ``interrupted`` with the sentence a restart would give them. A row whose image is
        already saved with its journal (its worker was committing it) is adopted instead, as succeeded."""

        def gave_up(other: str) -> bool:
            return other != owner

        adopted, interrupted = self._claim(gave_up, adopt=True, interrupt=True, recheck=False)
        for gen_id in adopted:
            journal.remove(self.journals, gen_id)  # the row now records it
        return interrupted

    def orphans(self, is_alive: Callable[[str], bool]) -> list[tuple[int, journal.Entry | None]]:
        """Active rows of dead owners, each with its adoptable journal entry (None: would be interrupted)."""
        return [
            (gen_id, journal.adoptable(self.journals, gen_id, self.stored.blobs))
            for gen_id in self._dead_ids(is_alive)
        ]

    def adopt_orphans(self, is_alive: Callable[[str], bool]) -> list[int]:
        """Finish (as succeeded) the orphans whose journal proves a complete save; returns their ids."""
        return self._claim(is_alive, adopt=True, interrupt=False)[0]

    def _drop_stale_journals(self) -> None:
        """A journal whose row is final (committed, or resolved by a restart) only says what the row says,
        except for a row that failed only because the history could not be written after its files were
        saved, or that a stop marked interrupted while its files were being saved: that row is adopted from
        its journal, so the paid image is not lost."""
        found = journal.listing(self.journals)
        if not found:
            return
        with self.db.read() as session:
            final = session.exec(
                select(Generation.id, Generation.status, Generation.error_kind).where(
                    col(Generation.id).in_(list(found)), col(Generation.status).in_(FINAL_STATUSES)
                )
            ).all()
        for gen_id, status, error_kind in final:
            assert gen_id is not None  # a primary key read back from its table
            entry = (
                journal.adoptable(self.journals, gen_id, self.stored.blobs)
                if error_kind in ADOPTABLE_KINDS
                else None
            )
            if entry is not None:
                self._commit_success(
                    gen_id,
                    entry.values,
                    [_Stored(**o) for o in entry.outputs],
                    [_Stored(**t) for t in entry.thoughts],
                    col(Generation.status) == status,
                )
            journal.remove(self.journals, gen_id)

    def get(self, gen_id: int) -> GenerationRecord | None:
        with self.db.read() as session:
            row = session.exec(select_generations().where(col(Generation.id) == gen_id)).first()
            found = records(session, [row], self.stored.root) if row is not None else []
        return self.stored.materialise(found)[0] if found else None

    def _get_existing(self, gen_id: int) -> GenerationRecord:
        record = self.get(gen_id)
        if record is None:
            raise StoreError(f"Generation {gen_id} is not in the history.")
        return record

    def model_content(self, gen_id: int) -> dict[str, Any] | None:
        """The verbatim model turn (with thought signatures) for conversational editing."""
        with self.db.read() as session:
            sha = session.exec(select(Generation.model_content_sha).where(Generation.id == gen_id)).first()
        if not sha:
            return None
        rel = files.turn_relpath(sha)
        try:
            return turns.restore(json.loads(self.stored.get(rel)), self._blob)
        except (OSError, ValueError, StoreError) as exc:
            raise StoreError(
                f"The saved model turn of generation {gen_id} ({self.stored.locator(rel)}) could not be read; "
                "start a new conversation from its image instead."
            ) from exc

    def preview(self, image: ImageRecord) -> Path:
        """What to show on screen for an image: the original when it is at most PREVIEW_SIDE px, else a JPEG
        copy made once on first view. Streamlit re-reads a shown file on every rerun: a 4K original costs
        0.13-0.23 s each time, its preview a tenth of that."""
        original = self.stored.key_of(image.path)
        if max(image.width, image.height) <= PREVIEW_SIDE:
            return self._local_or(original, image.path)
        rel = files.preview_relpath(image.sha256)
        try:
            if self.stored.exists(rel):
                return self.stored.local(rel)
            data = images.make_thumbnail(self.stored.get(original), PREVIEW_SIDE)
            self.stored.put(rel, data)
            return self.stored.local(rel)
        except (OSError, StudioError):  # a preview is a convenience: show the original instead
            return self._local_or(original, image.path)

    def _local_or(self, key: str, fallback: Path) -> Path:
        try:
            return self.stored.local(key)
        except (OSError, StudioError):
            return fallback

    def _blob(self, sha: str) -> bytes:
        """The bytes of a stored image by hash (for rebuilding a model turn)."""
        with self.db.read() as session:
            rel = session.exec(select(Asset.path).where(Asset.sha256 == sha)).first()
        if rel is None:
            raise StoreError(f"The image {sha[:12]}… of a saved model turn is missing.")
        return self.stored.get(rel)

    def active(self) -> list[GenerationRecord]:
        stmt = (
            select_generations()
            .where(col(Generation.status).in_(ACTIVE_STATUSES))
            .order_by(col(Generation.id))
        )
        with self.db.read() as session:
            found = records(session, session.exec(stmt).all(), self.stored.root)
        return self.stored.finish(found)
