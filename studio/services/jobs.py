"""A process-owned worker pool for generations.

Streamlit abandons a running script when the user clicks anything, so a paid call made from the script
thread can lose its image. Jobs therefore run here, in threads owned by the process; pages only read
their progress. Each job has a cancel event the client checks between reads and during waits.

A polite stop (``stop``) takes no new work: jobs that have not started still run in the pool, but with
their cancel event set, so each records itself cancelled before it sends anything (a job's future is done
only once its row is final); jobs already started keep their call and save what it returns. ``abandon``
cancels those too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass, replace
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobProgress:
    gen_id: int
    state: str  # "queued" | "running" | "done"
    message: str  # a sentence for the page, e.g. "Quota reached; retrying in 5 s (retry 1 of 2)"
    queued_at: float
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def elapsed(self) -> float:
        start = self.started_at or self.queued_at
        return (self.finished_at or time.monotonic()) - start


#: Finished jobs are remembered this long for the progress panel, then only their history rows remain.
FORGET_AFTER_S = 3600.0
#: how often a long poll (``wait_any``) asks whether its caller has other work
INTERRUPT_CHECK_S = 0.05
#: A job: it gets its cancel event and a callback for progress messages.
Work = Callable[[threading.Event, Callable[[str], None]], None]


class JobRunner:
    def __init__(self, workers: int = 8) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="studio-job")
        self._lock = threading.Lock()
        self._futures: dict[int, Future[None]] = {}
        self._cancel: dict[int, threading.Event] = {}
        self._progress: dict[int, JobProgress] = {}
        self._started: set[int] = set()  # jobs that began before any stop: their calls are (being) sent
        self._retrying: set[int] = set()  # started jobs waiting to send again: no call of theirs is out
        self._stopping = False
        self._abandoned = False

    @property
    def stopping(self) -> bool:
        return self._stopping

    @property
    def abandoned(self) -> bool:
        return self._abandoned

    def submit(self, gen_id: int, work: Work) -> None:
        """Queue ``work(cancel_event, report)``; ``report(sentence)`` updates the job's progress message.

        After ``stop`` the work still runs, at once and with its cancel event set, so it records itself
        cancelled before sending anything."""
        cancel = threading.Event()
        self._forget_finished()
        with self._lock:
            self._cancel[gen_id] = cancel
            self._progress[gen_id] = JobProgress(gen_id, "queued", "Queued", time.monotonic())
            stopping = self._stopping
            if not stopping:
                self._futures[gen_id] = self._pool.submit(self._run, gen_id, work, cancel)
        if stopping:
            cancel.set()
            self._run(gen_id, work, cancel)

    def _run(self, gen_id: int, work: Work, cancel: threading.Event) -> None:
        with self._lock:
            if self._stopping:
                cancel.set()  # picked up after a stop: it must not send anything
            else:
                self._started.add(gen_id)
        self._update(gen_id, state="running", message="Generating…", started_at=time.monotonic())
        try:
            work(cancel, lambda message: self._update(gen_id, message=message))
        except Exception:  # the work function records failures itself; this is a last resort
            log.exception("generation %s crashed in its worker", gen_id)
        finally:
            with self._lock:
                self._retrying.discard(gen_id)
            self._update(gen_id, state="done", message="Finished", finished_at=time.monotonic())

    def _update(self, gen_id: int, **changes: Any) -> None:
        with self._lock:
            current = self._progress.get(gen_id)
            if current is not None:
                self._progress[gen_id] = replace(current, **changes)

    def _forget_finished(self) -> None:
        """Drop the bookkeeping of jobs that ended long ago (their rows say everything), so a studio left
        open for weeks does not grow without bound."""
        horizon = time.monotonic() - FORGET_AFTER_S
        with self._lock:
            old = [
                gen_id
                for gen_id, p in self._progress.items()
                if p.finished_at is not None and p.finished_at < horizon
            ]
            for gen_id in old:
                self._progress.pop(gen_id, None)
                self._cancel.pop(gen_id, None)
                self._futures.pop(gen_id, None)
                self._started.discard(gen_id)
                self._retrying.discard(gen_id)

    def progress(self, gen_id: int) -> JobProgress | None:
        with self._lock:
            return self._progress.get(gen_id)

    def is_active(self, gen_id: int) -> bool:
        future = self._futures.get(gen_id)
        return future is not None and not future.done()

    def cancel(self, gen_id: int) -> bool:
        with self._lock:
            event = self._cancel.get(gen_id)
        if event is None or not self.is_active(gen_id):
            return False
        event.set()
        self._update(gen_id, message="Cancelling…")
        return True

    def wait(self, gen_ids: Iterable[int], timeout: float | None = None) -> None:
        """Until every job has finished, or ``timeout`` seconds have passed (then return quietly)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for gen_id in gen_ids:
            future = self._futures.get(gen_id)
            if future is not None:
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    future.exception(timeout=remaining)
                except FutureTimeout:  # still running: the caller reads progress instead
                    return
                except CancelledError:  # never started: the pool was shut down
                    continue

    def wait_any(
        self, gen_ids: Iterable[int], timeout: float, interrupted: Callable[[], bool] | None = None
    ) -> None:
        """Until one of the jobs finishes, ``timeout`` seconds pass, or ``interrupted()`` says the caller has
        other work (asked every ``INTERRUPT_CHECK_S``): a long poll that answers a finish at once."""
        futures = [f for f in (self._futures.get(i) for i in gen_ids) if f is not None]
        if not futures or any(f.done() for f in futures):
            return
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            done, _ = futures_wait(futures, min(remaining, INTERRUPT_CHECK_S), FIRST_COMPLETED)
            if done or (interrupted is not None and interrupted()):
                return

    def retry_wait(self, gen_id: int, sentence: str) -> None:
        """The job's call was refused without doing work (a 429, a 503, no connection) and it waits to send
        again: it has no call out, and a stop, now or during the wait, ends the wait at once."""
        with self._lock:
            self._retrying.add(gen_id)
            if self._stopping and gen_id in self._cancel:
                self._cancel[gen_id].set()
        self._update(gen_id, message=sentence)

    def may_send_again(self, gen_id: int) -> bool:
        """Asked by a job about to retry: no after a stop; otherwise its call is out again. Decided under
        the lock ``stop`` takes, so a stop either counts the retry as in flight or prevents it."""
        with self._lock:
            if self._stopping:
                return False
            self._retrying.discard(gen_id)
            return True

    def in_flight(self) -> list[int]:
        """Jobs started before any stop, not finished and not waiting to retry: their calls are out (and
        will be billed)."""
        with self._lock:
            return sorted(
                gen_id
                for gen_id in self._started - self._retrying
                if gen_id in self._futures and not self._futures[gen_id].done()
            )

    def stop(self) -> list[int]:
        """Take no new work. Jobs not started yet still run, cancelled (``_run``): each records its row
        cancelled before it sends anything. Jobs waiting to retry stop waiting and send nothing more. Jobs
        whose call is out keep going. Returns those (``in_flight``)."""
        with self._lock:
            self._stopping = True
            for gen_id in self._retrying:
                self._cancel[gen_id].set()
        return self.in_flight()

    def abandon(self) -> list[int]:
        """After a stop, give up on the calls still out: every job is cancelled. Returns their ids."""
        with self._lock:
            self._stopping = self._abandoned = True
            events = list(self._cancel.values())
        ids = self.in_flight()
        for event in events:
            event.set()
        return ids

    def wait_all(self, timeout: float | None = None) -> bool:
        """Until every job has finished (True), or ``timeout`` seconds have passed (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                pending = [future for future in self._futures.values() if not future.done()]
            if not pending:
                return True
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            try:
                pending[0].exception(timeout=remaining)
            except FutureTimeout:
                return False
            except CancelledError:
                continue

    def shutdown(self, wait: bool = True) -> None:
        with self._lock:
            events = list(self._cancel.values())
        if not wait:
            for event in events:
                event.set()
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
