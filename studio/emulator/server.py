"""The emulator server: a stdlib ``ThreadingHTTPServer`` and the ``Emulator`` that owns its lifecycle,
request log and server-wide fault schedule."""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Callable, Iterable
from http.server import ThreadingHTTPServer
from typing import Any

from studio.emulator.faults import FAULT_TOKEN, FAULTS, known_fault
from studio.emulator.handler import Handler

REQUEST_LOG_SIZE = 50


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for stalled handlers
    allow_reuse_address = True
    # socketserver listens with a backlog of 5: a batch of 16 variants connecting at once overflowed it, and
    # the kernel's dropped SYNs were retried a second later (a whole second added to the demo's generations).
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        self.emulator = emulator
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError) or self.emulator.stopping.is_set():
            return  # clients hang up mid-response on purpose (timeouts, tests); not worth a traceback
        super().handle_error(request, client_address)


class Emulator:
    """The emulator server. ``with Emulator() as emu: httpx.post(emu.url + ...)``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        latency: float = 0.0,
        key: str | None = None,
        faults: Iterable[str] = (),
        fault_count: int | None = None,
        retry_delay: float = 1.0,
        signature_bytes: int = 4096,
        stall_seconds: float = 600.0,
    ) -> None:
        self.faults = list(faults)
        unknown = [f for f in self.faults if f not in FAULTS]
        if unknown:
            raise ValueError(f"Unknown emulator fault(s): {', '.join(unknown)}. Known: {', '.join(FAULTS)}.")
        self.host, self.port = host, port
        self.latency, self.key, self.fault_count = latency, key, fault_count
        self.retry_delay, self.stall_seconds = retry_delay, stall_seconds
        self.signature_bytes = max(1, signature_bytes)
        self.requests: list[dict] = []
        self.stopping = threading.Event()
        self.log: Callable[[str], None] | None = None
        self._lock = threading.Lock()
        self._served = 0  # generate requests that reached the server-wide fault step
        self._prompt_hits: dict[tuple[str, str], int] = {}
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle
    def bind(self) -> Emulator:
        if self._server is None:
            self._server = Server((self.host, self.port), self)
            self.port = self._server.server_address[1]
        return self

    def start(self) -> Emulator:
        self.bind()
        assert self._server is not None
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"studio-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.bind()
        assert self._server is not None
        try:
            self._server.serve_forever(poll_interval=0.1)
        finally:
            self._close()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self) -> None:
        self.stopping.set()  # wakes stalled, trickling and sleeping handlers
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._close()

    def _close(self) -> None:
        self.stopping.set()
        server, self._server = self._server, None
        if server is None:
            return
        with server.connections_lock:
            open_connections = list(server.connections)
        for conn in open_connections:  # idle keep-alive handlers block in recv until their socket dies
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- used by handlers
    def _record(self, record: dict) -> None:
        with self._lock:
            self.requests.append(record)
            del self.requests[:-REQUEST_LOG_SIZE]

    def _log(self, line: str) -> None:
        if self.log is not None:
            self.log(line)

    def _wait(self, seconds: float) -> bool:
        """Sleep that stop() interrupts; True when stopping."""
        return self.stopping.wait(seconds) if seconds > 0 else self.stopping.is_set()

    def _pick_fault(self, header: str | None, prompt: str) -> str | None:
        if header and header.strip():
            return known_fault(header.strip())
        match = FAULT_TOKEN.search(prompt)
        if match:
            name, limit = known_fault(match.group(1)), match.group(2)
            if limit is None:
                return name
            with self._lock:
                hits = self._prompt_hits[(name, prompt)] = self._prompt_hits.get((name, prompt), 0) + 1
            return name if hits <= int(limit) else None
        if not self.faults:
            return None
        with self._lock:
            n = self._served
            self._served += 1
        if self.fault_count is not None and n >= self.fault_count:
            return None
        return self.faults[n % len(self.faults)]
