"""A polite stop, the same for every entry point: `studio run`, `studio generate`, `studio batch` and the
Experiment runs of the UI.

The first SIGINT or SIGTERM makes every live Studio of the process stop taking work: generations queued
but not sent end ``cancelled`` (nothing charged), and so do calls waiting to retry (nothing more is sent);
a run feeds no more cells. The calls already sent are paid for, so the process waits for them (each is
bounded by the client's own deadline), saves what they return and only then exits; the terminal says so. A second signal abandons them: their rows end
``interrupted`` with a sentence (an image already being saved is kept), and the process exits at once.

Signals reach a helper thread through a wakeup pipe (``Stop.listen``): the work (database writes,
printing) never runs inside a handler that may have interrupted the main thread halfway through a write,
and does not wait until the main thread next runs.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

#: The Studio instances alive in this process (``Studio.__init__`` registers, ``Studio.close`` forgets).
_STUDIOS: weakref.WeakSet[Any] = weakref.WeakSet()
#: Helper threads (a run's feeder) that record how their work ended once the calls are saved.
_HELPERS: weakref.WeakSet[threading.Thread] = weakref.WeakSet()
#: How long the drain gives those helpers after the last call was saved.
HELPER_GRACE_S = 5.0


def track(thread: threading.Thread) -> None:
    _HELPERS.add(thread)


def register(studio: Any) -> None:
    _STUDIOS.add(studio)


def unregister(studio: Any) -> None:
    _STUDIOS.discard(studio)


def studios() -> list[Any]:
    return list(_STUDIOS)


def waiting_sentence(count: int) -> str:
    if count == 1:
        return "Waiting for 1 generation already paid for (Ctrl+C again to abandon it)"
    return f"Waiting for {count} generations already paid for (Ctrl+C again to abandon them)"


def abandoned_sentence(count: int) -> str:
    what = "1 generation" if count == 1 else f"{count} generations"
    return (
        f"Abandoned {what} already paid for; History marks {'it' if count == 1 else 'them'} interrupted, "
        "to retry from there."
    )


class Stop:
    """The stop signals one command has received, and what was done about them."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out
        self.signals: list[int] = []
        self._handled = 0
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._fds: tuple[int, int] | None = None

    @property
    def signum(self) -> int | None:
        """The first stop signal, if any (0 when the server took it before the drain began)."""
        return self.signals[0] if self.signals else None

    def exit_status(self, status: int) -> int:
        """A command stopped by a signal exits as the shell expects (130 for SIGINT, 143 for SIGTERM)."""
        return 128 + self.signum if self.signum else status

    def notice(self, signum: int) -> None:
        """Count a stop signal and act on it now (in the calling thread)."""
        with self._lock:
            self.signals.append(signum)
            self._catch_up()

    def listen(self) -> None:
        """Receive SIGINT and SIGTERM through a wakeup pipe read by a helper thread.

        The kernel may deliver a signal to any thread; Python runs its handler only in the main thread, and
        only once that thread runs again, which may be when the paid call it waits for has ended. The
        wakeup pipe is written by whichever thread the signal interrupts, so the stop acts at once."""
        read, write = os.pipe()
        os.set_blocking(write, False)
        self._fds = (read, write)
        self._previous_fd = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        self._thread = threading.Thread(target=self._loop, args=(read,), name="studio-stop", daemon=True)
        self._thread.start()

    def unlisten(self) -> None:
        try:
            signal.set_wakeup_fd(self._previous_fd, warn_on_full_buffer=False)
        except ValueError:  # the previous owner (a closed event loop) has closed its fd
            signal.set_wakeup_fd(-1)
        if self._fds is not None:
            os.write(self._fds[1], b"\0")  # wakes the helper thread, which ends
            if self._thread is not None:
                self._thread.join(5)
            for fd in self._fds:
                os.close(fd)
            self._fds = None

    def _loop(self, read: int) -> None:
        while True:
            try:
                received = os.read(read, 64)
            except OSError:
                return
            for signum in received or b"\0":
                if signum == 0:
                    return
                if signum in STOP_SIGNALS:
                    self.notice(signum)

    def _catch_up(self) -> None:
        """Act on every signal counted so far: the first stops taking work, any later one abandons."""
        while self._handled < len(self.signals):
            self._handled += 1
            try:
                if self._handled == 1:
                    self._begin()
                else:
                    self._abandon(self.signals[self._handled - 1])
            except Exception:  # the stop must go on: the rows say what happened, the log says why
                log.exception("the polite stop failed")

    def _say(self, sentence: str) -> None:
        print(f"studio: {sentence}", file=self.out or sys.stderr, flush=True)

    def _begin(self) -> None:
        in_flight = sum(len(studio.stop_taking_work()) for studio in studios())
        if in_flight:
            self._say(waiting_sentence(in_flight))

    def _abandon(self, signum: int) -> None:
        given_up = sum(len(studio.abandon()) for studio in studios())
        if given_up:
            self._say(abandoned_sentence(given_up))
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(128 + signum)  # the rows are final; nothing left is worth waiting for


def _ignore(signum: int, frame: Any) -> None:
    """The Python-level handler: the wakeup pipe already told the Stop (``Stop.listen``)."""


@contextmanager
def polite_stop(out: TextIO | None = None) -> Iterator[Stop]:
    """While inside, SIGINT and SIGTERM stop the process politely (see the module text).

    Signal handlers can only be set from the main thread; elsewhere this only hands back a Stop that
    never sees a signal."""
    stop = Stop(out)
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    stop.listen()
    for signum in STOP_SIGNALS:
        signal.signal(signum, _ignore)
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        stop.unlisten()


def drain(out: TextIO | None = None) -> None:
    """After the Streamlit server has stopped on a signal: stop taking work, wait for the calls already sent
    and save what they return (a second signal abandons them), then close every Studio."""
    with polite_stop(out) as stop:
        stop.notice(0)  # the server's own handler took the first signal
        for studio in studios():
            studio.close()
        for thread in list(_HELPERS):
            thread.join(HELPER_GRACE_S)
