"""The HTTP client for ``generateContent``: timeouts, cancel, retries; auth in ``auth``, the breaker in ``breaker``.

Each attempt runs in a short-lived helper thread while the calling thread waits in small steps, so a
cancel or the overall deadline takes effect within a fraction of a second even when the server has
stalled; the helper's socket is then shut down so it does not linger. Which errors are retried is the
error's own ``retry_safe`` (only what provably did no paid work or what the server asked us to repeat:
connect failures, 429 with a short delay, 503); this module decides only when, at most twice, within a
budget (docs/reliability.md, "Retries").
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any
from urllib.parse import quote

import httpx

from studio.domain.errors import (
    BadResponse,
    Cancelled,
    ConfigError,
    ConnectFailed,
    EndpointError,
    EndpointTimeout,
    NoKey,
    QuotaError,
    RequestRejected,
    StudioError,
)
from studio.domain.requests import Outcome
from studio.domain.settings import Secret, Settings
from studio.gemini import auth as key_auth
from studio.gemini import wire
from studio.gemini.breaker import Breaker

__all__ = ["Breaker", "GeminiClient", "OnWait"]

#: How often the waiting thread looks at ``cancel`` and the deadline.
POLL_S = 0.1
#: After a cancel, how long an answer that already started with 2xx (a paid image) may take to finish.
CANCEL_GRACE_S = 20.0
#: Longest server-requested wait we honour automatically; longer ones go back to the designer.
MAX_RETRY_AFTER_S = 60.0
#: Total automatic waiting per call, so one job never sits in retries for minutes.
RETRY_BUDGET_S = 90.0
#: Backoff for connect failures and 503s (no server hint): 1 s, 2 s, plus jitter up to this.
BACKOFF_BASE_S, BACKOFF_JITTER_S = 1.0, 0.25
#: A 4K image is ~10 MB of base64; anything far beyond is not an answer we want to hold in memory.
MAX_RESPONSE_BYTES = 256 * 1024 * 1024

OnWait = Callable[[float, str], None]
#: Why a call that was waiting to retry ended when the studio stopped (its refused attempts did no work).
NOT_RETRIED = "The studio stopped while this waited to retry; nothing more was sent."


class GeminiClient:
    """One pooled ``httpx.Client``; safe to share between worker threads."""

    def __init__(
        self,
        base_url: str,
        api_key: Secret | None,
        auth: str = "bearer",
        *,
        transport: httpx.BaseTransport | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 180.0,
        write_timeout: float = 60.0,
        overall_timeout: float = 240.0,
        max_retries: int = 2,
        max_request_bytes: int | None = 32 * 1024 * 1024,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        breaker_threshold: int = 5,
        breaker_window: float = 120.0,
        breaker_cooldown: float = 60.0,
    ) -> None:
        self._auth = key_auth.for_mode(auth, api_key)  # None without a key: generate raises NoKey
        self.base_url = base_url.rstrip("/")
        self.host = _host(self.base_url)
        self.auth = auth
        self._key = api_key
        self.overall_timeout = overall_timeout
        self.max_retries = max(0, max_retries)
        self.max_request_bytes = max_request_bytes
        self._sleep = sleep
        self.breaker = Breaker(breaker_threshold, breaker_window, breaker_cooldown, clock)
        timeout = httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=write_timeout, pool=connect_timeout
        )
        self._http = httpx.Client(
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
            headers={"User-Agent": "studio/0.1"},
            auth=self._auth,
        )
        key_auth.redact_http_logs()

    @classmethod
    def from_settings(cls, settings: Settings, **kw: Any) -> GeminiClient:
        options: dict[str, Any] = dict(
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            write_timeout=settings.write_timeout,
            overall_timeout=settings.overall_timeout,
            max_retries=settings.max_retries,
            max_request_bytes=int(settings.max_request_mb * 1024 * 1024),
        )
        return cls(settings.base_url, settings.api_key, settings.auth, **(options | kw))

    # -- public --------------------------------------------------------------------------------------

    def generate(
        self,
        model: str,
        body: dict[str, Any],
        *,
        cancel: threading.Event | None = None,
        on_wait: OnWait | None = None,
        may_retry: Callable[[], bool] | None = None,
        stream: bool = False,
    ) -> Outcome:
        """POST the body and return the parsed Outcome; raises EndpointError subclasses or Cancelled.

        ``may_retry()`` is asked before and after each retry wait; False (the studio is stopping) ends the
        call ``Cancelled`` without sending again. To end a wait early, set ``cancel``."""
        content = self._serialise(body)
        action = "streamGenerateContent" if stream else "generateContent"
        url = f"{self.base_url}/v1beta/models/{quote(model.removeprefix('models/'), safe='-._~')}:{action}"
        params = {"alt": "sse"} if stream else {}
        self.breaker.check()
        waited, attempt = 0.0, 0
        while True:
            try:
                outcome = self._attempt(url, content, params, cancel, stream)
            except EndpointError as exc:
                self.breaker.record(exc)
                delay = self._retry_delay(exc, attempt, waited)
                if delay is None or self.breaker.is_open():
                    raise
                attempt += 1
                sentence = _wait_sentence(exc, delay, attempt, self.max_retries)
                self._wait(delay, sentence, cancel, on_wait, may_retry)
                waited += delay
                continue
            self.breaker.record(None)
            return outcome

    def generate_text(
        self, model: str, prompt: str, *, system: str | None = None, json_mode: bool = False
    ) -> str:
        """The text model's answer (non-thought text), for prompt enhancement."""
        outcome = self.generate(model, wire.build_text_body(prompt, system=system, json_mode=json_mode))
        if not outcome.text.strip():
            why = outcome.block_reason or outcome.finish_reason or "no candidates"
            raise BadResponse(
                f"The text model {model} returned no text ({why}). Try again or edit the prompt."
            )
        return outcome.text

    def check(self) -> str:
        """Connection test: list models with the key. Returns a sentence; raises on auth or network errors."""
        exchange = self._exchange("GET", f"{self.base_url}/v1beta/models", None, {"pageSize": "50"}, None)
        if exchange.status in (404, 405):
            return (
                f"Reached {self.host}, but it does not list models (HTTP {exchange.status}), so the key "
                "could not be checked this way. Try a small generation to test it."
            )
        if not 200 <= exchange.status <= 299:
            raise self._scrub(wire.error_from_response(exchange.status, exchange.body, exchange.headers))
        try:
            models = json.loads(exchange.body).get("models")
        except (ValueError, AttributeError):
            models = None
        count = f"{len(models)} models listed" if isinstance(models, list) else "no model list in the answer"
        return f"Connected to {self.host}; the key was accepted ({count})."

    @property
    def breaker_state(self) -> str:
        return self.breaker.state()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GeminiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one attempt ---------------------------------------------------------------------------------

    def _serialise(self, body: dict[str, Any]) -> bytes:
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        limit = self.max_request_bytes
        if limit is not None and len(content) > limit:
            raise RequestRejected(
                f"The request is {_mb(len(content))}, above the {_mb(limit)} limit (STUDIO_MAX_REQUEST_MB). "
                "Use fewer or smaller reference images, or start a shorter conversation.",
                size=len(content),
                limit=limit,
            )
        return content

    def _scrub(self, exc: StudioError) -> StudioError:
        """A relay may echo the key back in its error text ("invalid token: sk-..."): never pass it on."""
        key = self._key.get() if self._key else ""
        if len(key) >= 4:
            exc.message = exc.message.replace(key, "REDACTED")
            exc.args = (exc.message,)
            if isinstance(exc, EndpointError):
                exc.reply = replace(
                    exc.reply,
                    **{
                        f.name: value.replace(key, "REDACTED")
                        for f in fields(exc.reply)
                        if isinstance(value := getattr(exc.reply, f.name), str)
                    },
                )
        return exc

    def _attempt(
        self, url: str, content: bytes, params: dict[str, str], cancel: threading.Event | None, stream: bool
    ) -> Outcome:
        try:
            return self._attempt_unscrubbed(url, content, params, cancel, stream)
        except StudioError as exc:
            raise self._scrub(exc)  # noqa: B904 - the same exception, re-raised with the key removed

    def _attempt_unscrubbed(
        self, url: str, content: bytes, params: dict[str, str], cancel: threading.Event | None, stream: bool
    ) -> Outcome:
        exchange = self._exchange("POST", url, content, params, cancel)
        if not 200 <= exchange.status <= 299:
            raise wire.error_from_response(exchange.status, exchange.body, exchange.headers)
        body, exchange.body = exchange.body, b""  # a 4K body is ~26 MB: keep one copy alive, not three
        if stream:
            return wire.parse_success(
                wire.assemble_stream(wire.parse_sse(body.decode("utf-8", errors="replace")))
            )
        try:
            data = json.loads(body)  # straight from bytes: no decoded str copy
        except ValueError as exc:
            head = bytes(body[:80]).decode("utf-8", errors="replace")
            raise BadResponse(
                f"The endpoint answered HTTP {exchange.status} with a body that is not JSON "
                f"(“{wire.redact(head)}”). Check STUDIO_BASE_URL; try again."
            ) from exc
        del body
        return wire.parse_success(data)

    def _exchange(
        self,
        method: str,
        url: str,
        content: bytes | None,
        params: dict[str, str],
        cancel: threading.Event | None,
    ) -> _Exchange:
        """Run one HTTP exchange in a helper thread; return it complete or raise a StudioError."""
        if self._auth is None:
            raise NoKey()
        headers: dict[str, str] = {}
        if content is not None:
            headers["Content-Type"] = "application/json"
        if cancel is not None and cancel.is_set():
            raise Cancelled("Cancelled before the request was sent; nothing was charged.")
        ex = _Exchange(max_bytes=MAX_RESPONSE_BYTES)
        request = self._http.build_request(
            method, url, content=content, params=params, headers=headers, extensions={"trace": ex.trace}
        )
        worker = threading.Thread(target=ex.run, args=(self._http, request), daemon=True, name="studio-http")
        worker.start()
        deadline = time.monotonic() + self.overall_timeout
        cancelled_at: float | None = None
        while not ex.done.wait(POLL_S):
            if cancel is not None and cancel.is_set() and cancelled_at is None:
                cancelled_at = time.monotonic()
            # Once a 2xx has started to arrive the image is generated and billed: keep reading it for a grace
            # period rather than throw a paid image away; a body that stalls is still cut then.
            paid = 200 <= ex.status <= 299
            if cancelled_at is not None and (not paid or time.monotonic() - cancelled_at > CANCEL_GRACE_S):
                ex.abort()
                cancelled = Cancelled(
                    "Cancelled while waiting for the endpoint; the server may still bill the "
                    "image it was generating."
                )
                cancelled.may_have_billed = True
                raise cancelled
            if time.monotonic() >= deadline:
                ex.abort()
                raise EndpointTimeout(
                    f"The endpoint did not finish answering within {self.overall_timeout:.0f} s. The server may "
                    "still have generated (and billed) the image; retry from History if you want another try."
                )
        if ex.error is not None:
            raise self._map_transport_error(ex.error) from ex.error
        return ex

    def _map_transport_error(self, exc: BaseException) -> Exception:
        reason = wire.redact(str(exc) or type(exc).__name__)
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
            return ConnectFailed(
                f"Could not connect to {self.host} ({reason}). Check STUDIO_BASE_URL and your network; "
                "nothing was sent, so nothing was billed."
            )
        if isinstance(exc, (httpx.ReadTimeout, httpx.WriteTimeout)):
            which = "read" if isinstance(exc, httpx.ReadTimeout) else "write"
            return EndpointTimeout(
                f"The endpoint stopped responding ({which} timeout). The server may still have generated "
                "(and billed) the image; retry from History if you want another try."
            )
        if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
            return ConfigError(f"STUDIO_BASE_URL is not a usable http(s) address ({reason}).")
        if isinstance(exc, _TooLarge):
            return BadResponse(
                f"The endpoint's answer was larger than {_mb(MAX_RESPONSE_BYTES)}; "
                "it is not an image answer. Check STUDIO_BASE_URL."
            )
        if isinstance(exc, httpx.HTTPError):
            broken = BadResponse(
                f"The connection to {self.host} broke before the whole answer arrived ({reason}). "
                "The server may have billed the image; retry from History if you want another try."
            )
            broken.may_have_billed = True
            return broken
        return exc if isinstance(exc, Exception) else RuntimeError(reason)

    # -- retries -------------------------------------------------------------------------------------

    def _retry_delay(self, exc: EndpointError, attempt: int, waited: float) -> float | None:
        """Seconds to wait before the next attempt, or None when this error must not be retried.

        Whether to retry is the error's call (``retry_safe``); when is ours: the server's own wait if it gave one
        (and it is short), else exponential backoff with jitter, all within ``RETRY_BUDGET_S``."""
        if attempt >= self.max_retries or not exc.retry_safe:
            return None
        if exc.retry_after is not None:
            if exc.retry_after > MAX_RETRY_AFTER_S:
                return None
            delay = exc.retry_after
        else:
            delay = BACKOFF_BASE_S * 2**attempt + random.uniform(0, BACKOFF_JITTER_S)
        if waited + delay > RETRY_BUDGET_S:
            return None
        return delay

    def _wait(
        self,
        delay: float,
        sentence: str,
        cancel: threading.Event | None,
        on_wait: OnWait | None,
        may_retry: Callable[[], bool] | None,
    ) -> None:
        if may_retry is not None and not may_retry():
            raise Cancelled(NOT_RETRIED)
        if on_wait is not None:
            on_wait(delay, sentence)
        if self._sleep is not None:
            self._sleep(delay)
        elif cancel is not None:
            cancel.wait(delay)
        else:
            time.sleep(delay)
        if may_retry is not None and not may_retry():  # first: a stop also sets ``cancel`` to end the wait
            raise Cancelled(NOT_RETRIED)
        if cancel is not None and cancel.is_set():
            raise Cancelled("Cancelled while waiting to retry; nothing more was sent.")


def _wait_sentence(exc: EndpointError, delay: float, attempt: int, total: int) -> str:
    when = f"retrying in {delay:.0f} s (retry {attempt} of {total})"
    if isinstance(exc, QuotaError):
        return f"Quota reached; {when}."
    if isinstance(exc, ConnectFailed):
        return f"Could not connect; {when}."
    return f"The model is overloaded (HTTP {exc.status_code}); {when}."


# -- the helper thread's side ------------------------------------------------------------------------


class _TooLarge(Exception):
    pass


@dataclass
class _Exchange:
    """One HTTP exchange, run by a helper thread and watched (and possibly abandoned) by the caller."""

    max_bytes: int
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | bytearray = b""
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)
    aborted: threading.Event = field(default_factory=threading.Event)
    _streams: list[Any] = field(default_factory=list)
    _released: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore trace hook: remember each new network stream so ``abort`` can shut it down."""
        if event.endswith((".connect_tcp.complete", ".start_tls.complete")):
            self._remember(info.get("return_value"))

    def run(self, http: httpx.Client, request: httpx.Request) -> None:
        try:
            response = http.send(request, stream=True)
            try:
                self._remember(response.extensions.get("network_stream"))
                self.status, self.headers = response.status_code, dict(response.headers)
                self.body = self._read(response)
            finally:
                self._release()
                response.close()
        except BaseException as exc:  # handed to the waiting thread, which maps it
            self.error = exc
        finally:
            self._release()
            self.done.set()

    def _read(self, response: httpx.Response) -> bytes | bytearray:
        body = bytearray()  # grows in place: no list of chunks plus a joined copy
        for chunk in response.iter_bytes():
            if self.aborted.is_set():
                return b""
            body += chunk
            if len(body) > self.max_bytes:
                raise _TooLarge()
        return body

    def _remember(self, stream: Any) -> None:
        with self._lock:
            if stream is not None and not self._released:
                self._streams.append(stream)

    def _release(self) -> None:
        """From here on the connection may go back to the pool: ``abort`` must not touch it."""
        with self._lock:
            self._released = True
            self._streams.clear()

    def abort(self) -> None:
        """Called from the waiting thread: stop reading and unblock any read stuck on a socket."""
        self.aborted.set()
        with self._lock:
            for stream in self._streams:
                try:
                    sock = stream.get_extra_info("socket")
                    if sock is not None:
                        sock.shutdown(socket.SHUT_RDWR)
                except (OSError, AttributeError):
                    pass


# -- small helpers ----------------------------------------------------------------------------------


def _host(base_url: str) -> str:
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError):
        return "the endpoint"
    port = f":{url.port}" if url.port else ""
    return f"{url.host}{port}" or "the endpoint"


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"
