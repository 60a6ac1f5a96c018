"""Which endpoint errors are retried automatically: the error's ``retry_safe`` decides, the client only times it.

No paid call is ever retried: only a request that never reached the server (connect failure) or one the
server refused before doing any work and asked us to repeat (503, 429 with a wait).
"""

from __future__ import annotations

import json

import pytest

from studio.domain.errors import (
    AuthError,
    BadResponse,
    CircuitOpen,
    ConnectFailed,
    EndpointError,
    EndpointTimeout,
    ModelNotFound,
    QuotaError,
    RequestRejected,
    ServerError,
)
from studio.domain.settings import Secret
from studio.gemini import wire
from studio.gemini.client import MAX_RETRY_AFTER_S, GeminiClient


def answer(
    status: int, message: str = "x", *, retry_delay: str | None = None, per_day: bool = False
) -> EndpointError:
    details: list[dict[str, object]] = []
    if retry_delay is not None:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay})
    if per_day:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [{"quotaId": "GenerateRequestsPerDayPerProjectPerModel"}],
            }
        )
    body = {"error": {"code": status, "message": message, "details": details}}
    return wire.error_from_response(status, json.dumps(body).encode())


RETRY_SAFE_TABLE = [
    # (error, its class, retried automatically?)
    pytest.param(
        ConnectFailed("refused"), ConnectFailed, True, id="connect failed: never reached the server"
    ),
    pytest.param(answer(503), ServerError, True, id="503 overloaded"),
    pytest.param(answer(429, retry_delay="3s"), QuotaError, True, id="429 with RetryInfo"),
    pytest.param(
        answer(429, retry_delay="61s"), QuotaError, True, id="429 with a long wait (the client declines)"
    ),
    pytest.param(answer(429, "Please retry in 7s."), QuotaError, True, id="429 'retry in Ns'"),
    pytest.param(answer(429), QuotaError, False, id="429 without a wait"),
    pytest.param(answer(429, retry_delay="3s", per_day=True), QuotaError, False, id="429 per-day quota"),
    pytest.param(answer(402), QuotaError, False, id="402 credits used up"),
    pytest.param(answer(500), ServerError, False, id="500 may follow paid work"),
    pytest.param(answer(502), ServerError, False, id="502 gateway"),
    pytest.param(answer(504), ServerError, False, id="504 may follow paid work"),
    pytest.param(answer(400), RequestRejected, False, id="400"),
    pytest.param(answer(413), RequestRejected, False, id="413"),
    pytest.param(answer(401), AuthError, False, id="401"),
    pytest.param(answer(403), AuthError, False, id="403"),
    pytest.param(answer(404), ModelNotFound, False, id="404"),
    pytest.param(
        EndpointTimeout("read timeout"), EndpointTimeout, False, id="timeout: ambiguous, maybe paid"
    ),
    pytest.param(BadResponse("broken body"), BadResponse, False, id="bad response: maybe paid"),
    pytest.param(CircuitOpen("paused", retry_after=30.0), CircuitOpen, False, id="breaker open"),
    pytest.param(EndpointError("odd"), EndpointError, False, id="anything else"),
]


@pytest.mark.parametrize(("error", "kind", "retried"), RETRY_SAFE_TABLE)
def test_retry_safe_is_the_one_rule(error, kind, retried):
    assert type(error) is kind
    assert error.retry_safe is retried


@pytest.mark.parametrize(("error", "kind", "retried"), RETRY_SAFE_TABLE)
def test_the_client_retries_exactly_the_retry_safe_errors(error, kind, retried):
    client = GeminiClient("https://relay.example", Secret("k"), max_retries=2)
    try:
        delay = client._retry_delay(error, attempt=0, waited=0.0)
    finally:
        client.close()
    too_long = error.retry_after is not None and error.retry_after > MAX_RETRY_AFTER_S
    assert (delay is not None) is (retried and not too_long)
