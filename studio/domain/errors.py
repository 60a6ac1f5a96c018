"""Studio's one exception hierarchy. Views and the CLI catch StudioError and show ``str(exc)``.

Every error carries a sentence a designer can act on (``message``) and a stable machine name
(``kind``) that the CLI's ``--json`` output and the history's ``error_kind`` column use.

* StudioError
  x ConfigError              - bad base URL, bad auth mode
    + NoKey                  - no API key is set (the one sentence that says how to set one)
  x InputError               - bad usage: unknown ratio/size for the model, too many references
    + ImageRejected          - an upload that is not a safe PNG/JPEG/WebP, too large, a bomb
  x EndpointError            - anything from the generation endpoint; .status_code, .retry_after, .reply,
                               and .retry_safe, which alone decides whether the client retries
    + AuthError              - 401/403, or Google's 400 API_KEY_INVALID
    + QuotaError             - 429 (rate or quota), 402 (credits)
    + ModelNotFound          - 404
    + RequestRejected        - other 4xx (bad argument, body too large); .size, .limit
    + ServerError            - 5xx
    + ConnectFailed          - refused, DNS, connect timeout: the request never reached the server
    + EndpointTimeout        - read timeout or overall deadline: the server may have done paid work
    + BadResponse            - malformed JSON, truncated body, an answer we cannot read
    + CircuitOpen            - too many consecutive failures; calls paused briefly
  x GenerationRefused        - the call worked but produced no image; .outcome holds what came back
    + Blocked                - promptFeedback.blockReason or an IMAGE_SAFETY-like finishReason
    + NoImage                - NO_IMAGE, text-only answer, MAX_TOKENS, IMAGE_OTHER, ...
  x Cancelled                - the designer cancelled the job
  x LinkInvalid              - a client link that is tampered with, expired or revoked (one sentence)
  x StoreError               - the history or data directory could not be read or written
    + DiskFull               - no space left (or quota) while saving
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from studio.domain.requests import Outcome


class StudioError(Exception):
    kind = "error"
    #: The request reached the endpoint and no answer says whether it was billed (a time-out, a connection
    #: broken mid-answer, a cancel while waiting): the row counts its list-price estimate, as an interrupted
    #: call does, so a budget is never passed by calls that may have cost money.
    may_have_billed = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(StudioError):
    kind = "config"


class NoKey(ConfigError):
    """No API key is set: raised by the client, ``Studio.submit`` and the run starters alike."""

    MESSAGE = (
        "No API key is set. Set STUDIO_API_KEY (or put it in .streamlit/secrets.toml) and restart, "
        "or start the offline demo with `studio run --demo`."
    )

    def __init__(self) -> None:
        super().__init__(self.MESSAGE)


class InputError(StudioError):
    kind = "input"


class ImageRejected(InputError):
    kind = "bad_image"


@dataclass(frozen=True)
class ServerReply:
    """What an endpoint's error body said, as far as it could be read; every text is already redacted."""

    message: str = ""  # the server's own words
    google_status: str | None = None  # Google's status string, e.g. RESOURCE_EXHAUSTED
    reason: str | None = None  # ErrorInfo.reason, e.g. API_KEY_INVALID
    error_type: str | None = None  # a relay's (OpenAI-shaped) type
    error_code: int | str | None = None
    body_excerpt: str = ""  # the start of a body that was not JSON (an HTML error page)


class EndpointError(StudioError):
    kind = "endpoint"

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        reply: ServerReply | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        #: seconds the server asked us to wait (RetryInfo, Retry-After, "retry in Ns"), when it said so
        self.retry_after = retry_after
        self.reply = reply if reply is not None else ServerReply()

    @property
    def retry_safe(self) -> bool:
        """True when an automatic retry can cost nothing twice: the request provably did no paid work,
        or the server refused it before doing any and asked for a repeat. The client retries these only."""
        return False


class AuthError(EndpointError):
    kind = "auth"


class ModelNotFound(EndpointError):
    kind = "model_not_found"


class QuotaError(EndpointError):
    kind = "quota"

    @property
    def retry_safe(self) -> bool:
        # a 429 with a wait is "come back in N s"; 402 (credits) and a 429 without a wait are not transient
        return self.status_code == 429 and self.retry_after is not None


class RequestRejected(EndpointError):
    kind = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        reply: ServerReply | None = None,
        size: int | None = None,
        limit: int | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, retry_after=retry_after, reply=reply)
        #: for a body refused before sending: its size and the limit, in bytes
        self.size, self.limit = size, limit


class ServerError(EndpointError):
    kind = "server"

    @property
    def retry_safe(self) -> bool:
        # 503 "overloaded" is answered before any work; other 5xx (500, 504) may follow paid work
        return self.status_code == 503


class ConnectFailed(EndpointError):
    kind = "connect"

    @property
    def retry_safe(self) -> bool:
        return True  # the request never reached the server


class EndpointTimeout(EndpointError):
    kind = "timeout"
    may_have_billed = True  # a connect time-out is ConnectFailed: this one had sent the request


class BadResponse(EndpointError):
    kind = "bad_response"


class CircuitOpen(EndpointError):
    kind = "circuit_open"


class GenerationRefused(StudioError):
    kind = "refused"
    #: the history status a generation ends in when this is raised
    status = "failed"

    def __init__(self, message: str, *, outcome: Outcome | None = None) -> None:
        super().__init__(message)
        self.outcome = outcome


class Blocked(GenerationRefused):
    kind = "blocked"
    status = "blocked"


class NoImage(GenerationRefused):
    kind = "no_image"
    status = "no_image"


class OverBudget(GenerationRefused):
    """A submission its author's (or the team's) monthly budget does not cover: nothing is sent, and the
    history records one ``refused`` row saying so."""

    kind = "budget"
    status = "refused"
    #: the ``refused`` row recorded in the history (set by the store once it is committed)
    generation_id: int | None = None


class Cancelled(StudioError):
    kind = "cancelled"


class NotSignedIn(StudioError):
    """A caller with no identity (a signed-out browser, a team-mode command without ``STUDIO_USER``)."""

    kind = "signed_out"


class NotAllowed(StudioError):
    """A known caller whose role (or disabled account, or missing membership) does not allow this."""

    kind = "forbidden"


class LinkInvalid(StudioError):
    """A client link that is tampered with, expired or revoked: one sentence for all three, so a visitor
    learns nothing about which (nor whether the collection exists)."""

    kind = "link"
    MESSAGE = (
        "This link is not valid: it may have expired or been revoked. Ask whoever sent it for a new one."
    )

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.MESSAGE)


class StoreError(StudioError):
    kind = "store"


class DiskFull(StoreError):
    kind = "disk_full"
