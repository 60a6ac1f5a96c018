"""The circuit breaker: after a run of struggling-endpoint failures, new calls pause briefly instead of piling on."""

from __future__ import annotations

import threading
from collections.abc import Callable

from studio.domain.errors import CircuitOpen, ConnectFailed, EndpointTimeout, QuotaError, ServerError

#: The error kinds that mean "the endpoint is struggling"; a clean rejection (400, 401, 404) does not count.
BREAKER_KINDS = (ConnectFailed, EndpointTimeout, ServerError, QuotaError)


class Breaker:
    """Opens after ``threshold`` consecutive struggling-endpoint failures within ``window`` seconds.

    After ``cooldown`` it is half-open: calls go through, and the first failure reopens it at once.
    """

    def __init__(self, threshold: int, window: float, cooldown: float, clock: Callable[[], float]) -> None:
        self.threshold, self.window, self.cooldown, self.clock = threshold, window, cooldown, clock
        self._lock = threading.Lock()
        self._failures: list[float] = []
        self._open_until: float | None = None
        self._half_open = False

    def check(self) -> None:
        with self._lock:
            left = self._left()
        if left is not None:
            raise CircuitOpen(
                f"The endpoint failed {self.threshold} times in a row; new calls are paused for "
                f"{max(1, round(left))} s.",
                retry_after=left,
            )

    def record(self, error: BaseException | None) -> None:
        """A success or a clean answer closes the breaker; a struggling-endpoint failure counts."""
        now = self.clock()
        with self._lock:
            if not isinstance(error, BREAKER_KINDS):
                self._failures, self._open_until, self._half_open = [], None, False
                return
            self._failures = [t for t in self._failures if now - t <= self.window] + [now]
            if self._half_open or len(self._failures) >= self.threshold:
                self._failures, self._open_until, self._half_open = [], now + self.cooldown, False

    def _left(self) -> float | None:
        if self._open_until is None:
            return None
        left = self._open_until - self.clock()
        if left > 0:
            return left
        self._open_until, self._half_open = None, True
        return None

    def is_open(self) -> bool:
        with self._lock:
            return self._left() is not None

    def state(self) -> str:
        with self._lock:
            left = self._left()
        return "closed" if left is None else f"open ({max(1, round(left))} s left)"
