"""Several studio processes, on several machines, share one history: owners, heartbeat leases, adoption.

Every Studio has an owner id, ``host:pid:token:started`` (``new_owner``), written on each generation row it
creates. While it lives, a daemon thread (``Keeper``) renews its lease in the ``worker`` table every third
of ``STUDIO_LEASE_SECONDS`` and another, on the same rhythm, claims the active rows of dead owners: a row whose
journal names complete files is adopted (the paid image is linked), any other ends ``interrupted``.

Whether an owner is alive (``Liveness``), the lease times read by the database's clock:

- an owner of this process: alive while its Studio is open;
- an owner with a lease that holds: alive, wherever it runs, unless it has this very host id (same host,
  same boot, same pid namespace: ``derived_host_id``) and no process has its pid any more, which only
  shortens the wait after a crash on this machine; with ``STUDIO_HOST_ID`` set (two containers may share
  it) the lease alone decides;
- an owner whose lease has expired: dead, even if its pid now belongs to another process;
- an owner without a worker row: on this host, its pid decides; on another, alive only during its first
  lease (it cannot have rows before registering, so this is a margin, not a rule in use); owner ids
  written before leases existed carry no start time and are judged dead, as they were before.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.domain.errors import ConfigError, StudioError
from studio.domain.settings import Settings
from studio.storage.generation_repo import GenerationRepository
from studio.storage.worker_repo import WorkerRepository

log = logging.getLogger(__name__)

LEASE_ENV = "STUDIO_LEASE_SECONDS"
HOST_ENV = "STUDIO_HOST_ID"
DEFAULT_LEASE_S = 30.0
MIN_LEASE_S = 1.0
BOOT_ID = "/proc/sys/kernel/random/boot_id"
PID_NAMESPACE = "/proc/self/ns/pid"

#: Owner ids of the Studio instances open in this process (their rows are never orphans).
LIVE_OWNERS: set[str] = set()


def lease_seconds() -> float:
    """``STUDIO_LEASE_SECONDS`` (default 30): how long a silent process is still presumed alive."""
    raw = os.environ.get(LEASE_ENV, "").strip()
    if not raw:
        return DEFAULT_LEASE_S
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value >= MIN_LEASE_S:  # also refuses nan
        raise ConfigError(
            f"{LEASE_ENV} must be a number of seconds, at least {MIN_LEASE_S:g} (it is {raw!r}); "
            f"leave it unset for {DEFAULT_LEASE_S:g}."
        )
    return value


def host_id() -> str:
    """This machine's name in owner ids: ``STUDIO_HOST_ID`` when set, else ``derived_host_id()``. A colon
    separates the parts of an owner id, so it is replaced."""
    override = os.environ.get(HOST_ENV, "").strip()
    return override.replace(":", "-") if override else derived_host_id()


def derived_host_id() -> str:
    """The host name, this kernel's boot id and this pid namespace's inode where the system says them
    (``name/boot/ns``): two containers that share a host name have separate pid namespaces, and a machine
    that rebooted reuses pids, so only owners with this very id can be judged by their pid."""
    parts = [socket.gethostname() or "localhost"]
    try:
        parts.append(Path(BOOT_ID).read_text().strip().replace("-", "")[:12])
        parts.append(str(os.stat(PID_NAMESPACE).st_ino))
    except OSError:  # not Linux, or /proc is not mounted: the host name alone
        pass
    return "/".join(parts).replace(":", "-")


def exact_pid_check() -> bool:
    """Whether a pid of an owner with this host id is a pid of this pid namespace: the id is derived
    (boot id and pid namespace included), not set by ``STUDIO_HOST_ID``, which two containers may share."""
    return not os.environ.get(HOST_ENV, "").strip() and derived_host_id().count("/") == 2


def new_owner() -> str:
    return f"{host_id()}:{os.getpid()}:{uuid.uuid4().hex[:8]}:{int(time.time())}"


def parse_owner(owner: str) -> tuple[str, int | None, int | None]:
    """(host, pid, started epoch seconds) of an owner id; None for the parts it does not have."""
    host, _, rest = owner.partition(":")
    parts = rest.split(":")
    pid = int(parts[0]) if parts[0].isdigit() else None
    started = int(parts[2]) if len(parts) >= 3 and parts[2].isdigit() else None
    return host, pid, started


def pid_alive(owner: str) -> bool:
    """The pid check for an owner of this host: its process exists (another Studio of this process that
    has closed is not alive). Used where an owner has no lease (``Liveness``) and by ``Studio``."""
    if owner in LIVE_OWNERS:
        return True
    host, pid, _ = parse_owner(owner)
    if host != host_id() or pid is None or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    return True


def pid_gone(owner: str) -> bool:
    """True only when it is certain that ``owner``'s process has ended: an owner of this very host id
    (same boot, same pid namespace, ``exact_pid_check``) whose pid no process has, or a closed Studio of
    this process."""
    host, pid, _ = parse_owner(owner)
    if owner in LIVE_OWNERS or host != host_id() or pid is None or not exact_pid_check():
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        return False
    return False


class Liveness:
    """``is_alive(owner)`` for the claims: a lease that holds (by the database's clock) means alive, an
    expired one means dead; the pid decides only for an owner of this host without a lease, or shortens
    the wait for one whose process has certainly ended (``pid_gone``)."""

    def __init__(self, workers: WorkerRepository, lease_s: float | None = None) -> None:
        self.workers = workers
        self.lease_s = lease_seconds() if lease_s is None else lease_s

    def __call__(self, owner: str) -> bool:
        if owner in LIVE_OWNERS:
            return True
        host, _, started = parse_owner(owner)
        lease, holds = self.workers.lease_of(owner)
        if lease is not None:
            # An expired lease is dead even if its pid now belongs to another process; a fresh one is
            # alive unless this host can tell for certain that its process has ended.
            return holds and not pid_gone(owner)
        if host == host_id():
            return pid_alive(owner)
        return started is not None and self.workers.clock().timestamp() - started < self.lease_s


class Keeper:
    """One Studio's lease: registered at start, renewed every ``lease/3`` seconds by a daemon thread of
    its own, and, on a second thread, the rows of dead owners adopted on the same rhythm (a slow sweep
    never delays a renewal); forgotten at a clean close.

    Neither thread dies of an error: a database that is briefly unreachable, a journal folder that cannot
    be listed, or a fault of the code is logged and tried again on the next beat, because a keeper that
    stops renewing lets another process take this live process's paid calls for a dead one's."""

    #: How long ``stop`` waits for a renewal or a sweep in flight before it returns (the thread then
    #: finishes on its own: a renewal that lands after the stop removes its row again).
    STOP_WAIT_S = 5.0

    def __init__(
        self,
        workers: WorkerRepository,
        generations: GenerationRepository,
        owner: str,
        *,
        lease_s: float | None = None,
        on_claim: Callable[[list[int], list[int]], None] | None = None,
    ) -> None:
        self.workers, self.generations, self.owner = workers, generations, owner
        self.lease_s = lease_seconds() if lease_s is None else lease_s
        self.liveness = Liveness(workers, self.lease_s)
        self.on_claim = on_claim
        self._stop = threading.Event()
        self._state = threading.Lock()  # guards the flags below, never held during a database call
        self._stopped = False
        self._forget_on_stop = True
        self._running = 0
        self._threads: list[threading.Thread] = []
        #: Set once the keeper has stopped and none of its threads runs any more (``_release`` ran).
        self.released = threading.Event()
        self._after: list[Callable[[], None]] = []
        self._registered = False
        self._renewed = 0.0  # time.monotonic() of the last registration or heartbeat

    @property
    def interval(self) -> float:
        return self.lease_s / 3

    def register(self) -> None:
        _, pid, _ = parse_owner(self.owner)
        self.workers.register(self.owner, host=host_id(), pid=pid or os.getpid(), lease_s=self.lease_s)
        self._registered = True
        self._renewed = time.monotonic()

    def start(self, studio: Any = None) -> None:
        """Renew and sweep from two daemon threads until ``stop`` (or until ``studio`` is garbage without
        a close)."""
        for name, step in (("lease", self.renew), ("adopt", self.sweep)):
            thread = threading.Thread(
                target=self._loop, args=(step, name), name=f"studio-{name}-{self.owner}", daemon=True
            )
            with self._state:
                self._running += 1
            self._threads.append(thread)
            thread.start()
        if studio is not None:
            weakref.finalize(studio, self._stop.set)

    def _loop(self, step: Callable[[], object], name: str) -> None:
        try:
            while not self._stop.wait(self.interval):
                self._guarded(step, name)
        finally:
            with self._state:
                self._running -= 1
            self._release()

    def _guarded(self, step: Callable[[], object], name: str) -> None:
        try:
            step()
        except StudioError as exc:  # a designer's sentence already: the database or the disk said no
            what = "renew its lease" if name == "lease" else "check for work left by stopped processes"
            log.warning("the studio could not %s: %s", what, exc)
        except Exception:  # anything else: logged with its traceback (never holds the key), tried again
            log.exception("unexpected error in the studio's %s keeper; it is tried again", name)

    def beat(self) -> None:
        """Renew the lease, then adopt what dead owners left (the threads do each on their own). A failure
        is logged and retried next beat."""
        self._guarded(self.renew, "lease")
        if not self._stop.is_set():
            self._guarded(self.sweep, "adopt")

    def renew(self) -> None:
        """One heartbeat (registering again when the row was removed while this process was paused). A
        renewal that lands after ``stop`` has forgotten the lease removes its row again."""
        if self._stopped:
            return
        if self.workers.heartbeat(self.owner, lease_s=self.lease_s):
            self._renewed = time.monotonic()
        else:
            self.register()
        with self._state:
            late = self._stopped and self._forget_on_stop
        if late:
            self._forget()

    def ensure_fresh(self) -> None:
        """Before new rows are written: renew now when the beats have been late (a paused process), so no
        other process takes the new rows for a dead owner's."""
        if self._registered and time.monotonic() - self._renewed > self.interval * 2:
            self.renew()

    def sweep(self) -> tuple[list[int], list[int]]:
        """Claim the active rows of dead owners; returns (adopted, interrupted). Several processes may sweep
        at once: each row is claimed by one of them (``FOR UPDATE SKIP LOCKED``), and a claim leaves the rows
        of an owner that renewed its lease after it was judged (``GenerationRepository._claim``). No advisory
        lock gates the sweep: SKIP LOCKED already keeps claims apart, and a lock held by one process (paused,
        or on a connection whose unlock failed) would stop every other process from adopting anything."""
        adopted, interrupted = self.generations.claim_orphans(self.liveness)
        if self.workers.expired_owners():  # a read first: most beats write nothing but the heartbeat
            self.workers.forget_expired()
        if (adopted or interrupted) and self.on_claim is not None:
            self.on_claim(adopted, interrupted)
        return adopted, interrupted

    def stop(self, *, forget: bool = True) -> None:
        with self._state:
            self._stopped = True
            self._forget_on_stop = forget
        self._stop.set()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(self.STOP_WAIT_S)
        if forget and self._registered:
            self._forget()
        self._release()

    def _forget(self) -> None:
        try:
            self.workers.forget(self.owner)
        except Exception as exc:  # the lease simply expires
            log.warning("the studio could not remove its lease: %s", exc)

    def _release(self) -> None:
        """Once stopped and no thread runs any more: ``closed`` (once)."""
        with self._state:
            if not self._stopped or self._running or self.released.is_set():
                return
            self.released.set()
        self.closed()

    def closed(self) -> None:
        """Called once after ``stop`` when no thread of this keeper runs any more."""
        for action in self._after:
            action()

    def when_released(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the keeper is stopped and none of its threads runs (now, if so already):
        the owner of the store closes it here, never under a renewal in flight."""
        with self._state:
            self._after.append(action)
            done = self.released.is_set()
        if done:
            action()


def adopt_in_background(settings: Settings | None = None) -> Keeper | None:
    """For ``studio run``: its Studio opens with the first page view, but the process must adopt what
    dead processes left from the start, visitors or not. Registers a lease of its own (owning no rows),
    sweeps once now and on every beat; ``stop`` it when the server ends. None, with the reason logged,
    when the history cannot be opened: the page then explains the configuration problem. Never raises:
    the server starts whatever the history says."""
    from studio.domain.settings import load_settings
    from studio.storage import Store

    store: Any = None
    try:
        store = Store.for_settings(settings or load_settings())
        if store.readonly:
            store.close()
            return None
        keeper = _StoreKeeper(store)
        keeper.register()
    except Exception as exc:
        if isinstance(exc, StudioError):
            log.warning("the studio could not check for work left by stopped processes: %s", exc)
        else:
            log.exception("unexpected error while the studio registered its lease")
        if store is not None:
            try:
                store.close()
            except Exception:
                log.exception("unexpected error while closing the history")
        return None
    keeper.start()
    keeper._guarded(keeper.sweep, "adopt")  # the first sweep now; a failure is retried on the next beat
    return keeper


class _StoreKeeper(Keeper):
    """A Keeper that owns its Store and closes it once stopped and none of its threads uses it any more."""

    def __init__(self, store: Any) -> None:
        super().__init__(WorkerRepository(store.db), store.generations, new_owner())
        self._store = store

    def closed(self) -> None:
        super().closed()
        self._store.close()
