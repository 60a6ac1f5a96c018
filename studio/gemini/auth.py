"""How the API key travels, as ``httpx.Auth`` classes, and the log filter that keeps it out of httpx's logs.

Three modes (``STUDIO_AUTH``): ``bearer`` (``Authorization: Bearer <key>``, what relays expect), ``goog``
(``x-goog-api-key: <key>``, Google's own header) and ``query`` (``?key=<key>``, the oldest form; the key then
sits in the URL, which is why httpx's URL log lines are redacted). The key is read from the ``Secret`` only
when a request is sent, so it never sits in a plain attribute, a repr or a URL built ahead of time.
"""

from __future__ import annotations

import logging
from collections.abc import Generator

import httpx

from studio.domain.errors import ConfigError
from studio.domain.settings import AUTH_MODES, Secret
from studio.gemini import wire


class KeyAuth(httpx.Auth):
    """Adds the key to every request; subclasses say where it goes."""

    def __init__(self, key: Secret) -> None:
        self._key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.apply(request, self._key.get())
        yield request

    def apply(self, request: httpx.Request, key: str) -> None:
        raise NotImplementedError


class BearerAuth(KeyAuth):
    def apply(self, request: httpx.Request, key: str) -> None:
        request.headers["Authorization"] = f"Bearer {key}"


class GoogAuth(KeyAuth):
    def apply(self, request: httpx.Request, key: str) -> None:
        request.headers["x-goog-api-key"] = key


class QueryAuth(KeyAuth):
    def apply(self, request: httpx.Request, key: str) -> None:
        request.url = request.url.copy_merge_params({"key": key})


_BY_MODE: dict[str, type[KeyAuth]] = {"bearer": BearerAuth, "goog": GoogAuth, "query": QueryAuth}


def for_mode(mode: str, key: Secret | None) -> KeyAuth | None:
    """The auth for ``STUDIO_AUTH``, or None when there is no key (the client then refuses to send)."""
    if mode not in AUTH_MODES:
        raise ConfigError(f"STUDIO_AUTH must be bearer, goog or query, not {mode!r}.")
    return _BY_MODE[mode](key) if key else None


# -- logs --------------------------------------------------------------------------------------------


class RedactingFilter(logging.Filter):
    """Rewrites a record whose text holds a key (``?key=``, bearer) before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        clean = wire.redact(text)
        if clean != text:
            record.msg, record.args = clean, None
        return True


_HTTP_LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
)


def redact_http_logs() -> None:
    """Keep the key out of httpx's URL lines, even when someone turns its logging up to INFO/DEBUG."""
    # httpx logs every URL at INFO; with auth=query the URL holds the key.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for name in _HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
