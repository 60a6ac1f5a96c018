"""Several studio processes, on several machines, share one history: owners, heartbeat leases, adoption.

Every Studio has an owner id, ``host:pid:token:started`` (``new_owner``), written on each generation row it
creates. While it lives, a daemon thread (``Keeper``) renews its lease in the ``worker`` table every third
of ``STUDIO_LEASE_SECONDS`` and, on the same beat, claims the active rows of dead owners: a row whose
journal names complete files is adopted (the paid image is linked), any other ends ``interrupted``.

Whether an owner is alive (``Liveness``):

- an owner of this process: alive while its Studio is open;
- an owner of this host (``STUDIO_HOST_ID``, else the host name): its pid, checked with ``kill(pid, 0)``,
  which is exact and immediate;
- an owner of another host: its lease has not expired. One without a worker row is alive only during its
  first lease (it cannot have rows before registering, so this is a margin, not a rule in use); owner ids
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
from typing import Any

from studio.domain.errors import ConfigError, StudioError
from studio.domain.settings import Settings
from studio.storage.generation_repo import GenerationRepository
from studio.storage.worker_repo import WorkerRepository, now

log = logging.getLogger(__name__)

LEASE_ENV = "STUDIO_LEASE_SECONDS"
HOST_ENV = "STUDIO_HOST_ID"
DEFAULT_LEASE_S = 30.0
MIN_LEASE_S = 1.0
#: Name of the one-at-a-time maintenance (an advisory lock on PostgreSQL) that adopts dead owners' rows.
ADOPTION_LOCK = "studio.adopt-orphans"

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
    """This machine's name in owner ids: ``STUDIO_HOST_ID`` when set (e.g. containers that share a host
    name), else the host name. A colon separates the parts of an owner id, so it is replaced."""
    name = os.environ.get(HOST_ENV, "").strip() or socket.gethostname() or "localhost"
    return name.replace(":", "-")


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
    """Today's exact check for an owner of this host: its process exists (another Studio of this process
    that has closed is not alive)."""
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


class Liveness:
    """``is_alive(owner)`` for the orphan methods: the pid on this host, the lease on any other."""

    def __init__(self, workers: WorkerRepository, lease_s: float | None = None) -> None:
        self.workers = workers
        self.lease_s = lease_seconds() if lease_s is None else lease_s

    def __call__(self, owner: str) -> bool:
        if owner in LIVE_OWNERS:
            return True
        host, _, started = parse_owner(owner)
        if host == host_id():
            return pid_alive(owner)
        lease = self.workers.get(owner)
        if lease is not None:
            return not lease.expired(now())
        return started is not None and time.time() - started < self.lease_s


class Keeper:
    """One Studio's lease: registered at start, renewed every ``lease/3`` seconds by a daemon thread that
    also adopts the rows of dead owners, forgotten at a clean close."""

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
        self._thread: threading.Thread | None = None
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
        """Beat from a daemon thread until ``stop`` (or until ``studio`` is garbage without a close)."""
        self._thread = threading.Thread(target=self._loop, name=f"studio-lease-{self.owner}", daemon=True)
        self._thread.start()
        if studio is not None:
            weakref.finalize(studio, self._stop.set)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()

    def beat(self) -> None:
        """Renew the lease, then adopt what dead owners left. A failure is logged and retried next beat."""
        try:
            self.renew()
        except StudioError as exc:
            log.warning("the studio could not renew its lease: %s", exc)
        if self._stop.is_set():
            return
        try:
            self.sweep()
        except StudioError as exc:
            log.warning("the studio could not check for work left by stopped processes: %s", exc)

    def renew(self) -> None:
        """One heartbeat (registering again when the row was removed while this process was paused)."""
        if self.workers.heartbeat(self.owner, lease_s=self.lease_s):
            self._renewed = time.monotonic()
        else:
            self.register()

    def ensure_fresh(self) -> None:
        """Before new rows are written: renew now when the beats have been late (a paused process), so no
        other process takes the new rows for a dead owner's."""
        if self._registered and time.monotonic() - self._renewed > self.interval * 2:
            self.renew()

    def sweep(self) -> tuple[list[int], list[int]]:
        """Claim the active rows of dead owners (one process at a time where the database can say so);
        returns (adopted, interrupted)."""
        with self.workers.maintenance_lock(ADOPTION_LOCK) as mine:
            if not mine:
                return [], []
            adopted, interrupted = self.generations.claim_orphans(self.liveness)
            if self.workers.expired_owners():  # a read first: most beats write nothing but the heartbeat
                self.workers.forget_expired()
        if (adopted or interrupted) and self.on_claim is not None:
            self.on_claim(adopted, interrupted)
        return adopted, interrupted

    def stop(self, *, forget: bool = True) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)
        if forget and self._registered:
            try:
                self.workers.forget(self.owner)
            except StudioError as exc:  # the lease simply expires
                log.warning("the studio could not remove its lease: %s", exc)


def adopt_in_background(settings: Settings | None = None) -> Keeper | None:
    """For ``studio run``: its Studio opens with the first page view, but the process must adopt what
    dead processes left from the start, visitors or not. Registers a lease of its own (owning no rows),
    sweeps once now and on every beat; ``stop`` it when the server ends. None, with the reason logged,
    when the history cannot be opened: the page then explains the configuration problem."""
    from studio.domain.settings import load_settings
    from studio.storage import Store

    try:
        store = Store.for_settings(settings or load_settings())
        if store.readonly:
            store.close()
            return None
        keeper = _StoreKeeper(store)
        keeper.register()
        keeper.sweep()
    except StudioError as exc:
        log.warning("the studio could not check for work left by stopped processes: %s", exc)
        return None
    keeper.start()
    return keeper


class _StoreKeeper(Keeper):
    """A Keeper that owns its Store and closes it when stopped."""

    def __init__(self, store: Any) -> None:
        super().__init__(WorkerRepository(store.db), store.generations, new_owner())
        self._store = store

    def stop(self, *, forget: bool = True) -> None:
        super().stop(forget=forget)
        self._store.close()
