"""Studio's one exception hierarchy. Views and the CLI catch StudioError and show ``str(exc)``.

Every error carries a sentence a designer can act on (``message``) and a stable machine name
(``kind``) that the CLI's ``--json`` output and the history's ``error_kind`` column use.

* StudioError
  x ConfigError              - no key, bad base URL, bad auth mode
  x InputError               - bad usage: unknown ratio/size for the model, too many references
    + ImageRejected          - an upload that is not a safe PNG/JPEG/WebP, too large, a bomb
  x EndpointError            - anything from the generation endpoint; .status_code, .retry_after
    + AuthError              - 401/403, or Google's 400 API_KEY_INVALID
    + QuotaError             - 429 (rate or quota), 402 (credits)
    + ModelNotFound          - 404
    + RequestRejected        - other 4xx (bad argument, body too large)
    + ServerError            - 5xx
    + ConnectFailed          - refused, DNS, connect timeout: the request never reached the server
    + EndpointTimeout        - read timeout or overall deadline: the server may have done paid work
    + BadResponse            - malformed JSON, truncated body, an answer we cannot read
    + CircuitOpen            - too many consecutive failures; calls paused briefly
  x GenerationRefused        - the call worked but produced no image; .outcome holds what came back
    + Blocked                - promptFeedback.blockReason or an IMAGE_SAFETY-like finishReason
    + NoImage                - NO_IMAGE, text-only answer, MAX_TOKENS, IMAGE_OTHER, ...
  x Cancelled                - the designer cancelled the job
  x StoreError               - the history or data directory could not be read or written
    + DiskFull               - no space left (or quota) while saving
"""

from __future__ import annotations

from typing import Any


class StudioError(Exception):
    kind = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class ConfigError(StudioError):
    kind = "config"


class InputError(StudioError):
    kind = "input"


class ImageRejected(InputError):
    kind = "bad_image"


class EndpointError(StudioError):
    kind = "endpoint"
    #: True when the request provably did no paid work, so an automatic retry is safe.
    retry_safe = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message, **details)
        self.status_code = status_code
        self.retry_after = retry_after


class AuthError(EndpointError):
    kind = "auth"


class QuotaError(EndpointError):
    kind = "quota"


class ModelNotFound(EndpointError):
    kind = "model_not_found"


class RequestRejected(EndpointError):
    kind = "bad_request"


class ServerError(EndpointError):
    kind = "server"


class ConnectFailed(EndpointError):
    kind = "connect"
    retry_safe = True


class EndpointTimeout(EndpointError):
    kind = "timeout"


class BadResponse(EndpointError):
    kind = "bad_response"


class CircuitOpen(EndpointError):
    kind = "circuit_open"


class GenerationRefused(StudioError):
    kind = "refused"
    #: the history status a generation ends in when this is raised
    status = "failed"

    def __init__(self, message: str, *, outcome: Any = None, **details: Any) -> None:
        super().__init__(message, **details)
        self.outcome = outcome


class Blocked(GenerationRefused):
    kind = "blocked"
    status = "blocked"


class NoImage(GenerationRefused):
    kind = "no_image"
    status = "no_image"


class Cancelled(StudioError):
    kind = "cancelled"


class StoreError(StudioError):
    kind = "store"


class DiskFull(StoreError):
    kind = "disk_full"
