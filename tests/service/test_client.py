"""studio.client: auth, retries, breaker and size limit on MockTransport; timeouts and cancel over real HTTP."""

from __future__ import annotations

import base64
import io
import json
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from PIL import Image

from studio.domain.errors import (
    AuthError,
    BadResponse,
    Blocked,
    Cancelled,
    CircuitOpen,
    ConfigError,
    ConnectFailed,
    EndpointTimeout,
    GenerationRefused,
    ModelNotFound,
    NoImage,
    NoKey,
    QuotaError,
    RequestRejected,
    ServerError,
)
from studio.domain.requests import GenerationRequest
from studio.domain.settings import Secret, Settings
from studio.gemini import wire
from studio.gemini.client import GeminiClient

KEY = "sk-test-SECRET-123"
MODEL = "gemini-2.5-flash-image"
BODY = {"contents": [{"role": "user", "parts": [{"text": "a red fox"}]}]}


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (250, 100, 0)).save(buf, "PNG")
    return buf.getvalue()


def success_json(image: bytes | None = None) -> dict:
    image = png() if image is None else image
    return {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "Here"},
                        {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(image).decode()}},
                    ],
                },
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {"totalTokenCount": 1300},
    }


def google_error(code: int, status: str, message: str, *details) -> dict:
    return {"error": {"code": code, "status": status, "message": message, "details": list(details)}}


def retry_info(seconds: str) -> dict:
    return {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": seconds}


class Script:
    """A MockTransport handler answering from a list: httpx.Response, dict (200 JSON) or an exception."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, dict):
            return httpx.Response(200, json=answer)
        return answer


def make_client(script, **kw) -> tuple[GeminiClient, list[float]]:
    sleeps: list[float] = []
    kw.setdefault("sleep", sleeps.append)
    client = GeminiClient(
        "https://relay.example",
        Secret(KEY),
        kw.pop("auth", "bearer"),
        transport=httpx.MockTransport(script),
        **kw,
    )
    return client, sleeps


# -- auth and URLs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth", "header", "value", "query"),
    [
        ("bearer", "authorization", f"Bearer {KEY}", None),
        ("goog", "x-goog-api-key", KEY, None),
        ("query", None, None, KEY),
    ],
)
def test_auth_modes(auth, header, value, query):
    script = Script(success_json())
    client, _ = make_client(script, auth=auth)
    outcome = client.generate(MODEL, BODY)
    assert len(outcome.images) == 1
    request = script.requests[0]
    assert request.method == "POST"
    assert request.url.path == f"/v1beta/models/{MODEL}:generateContent"
    assert request.url.params.get("key") == query
    for name in ("authorization", "x-goog-api-key"):
        assert request.headers.get(name) == (value if name == header else None)
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == BODY


def test_no_key_is_a_config_error_and_nothing_is_sent():
    script = Script(success_json())
    client = GeminiClient("https://relay.example", None, transport=httpx.MockTransport(script))
    with pytest.raises(ConfigError, match="No API key is set.*studio run --demo"):
        client.generate(MODEL, BODY)
    assert script.requests == []


def test_no_key_is_the_one_no_key_error_with_its_one_sentence():
    client = GeminiClient(
        "https://relay.example", None, transport=httpx.MockTransport(Script(success_json()))
    )
    with pytest.raises(NoKey) as info:
        client.check()
    assert str(info.value) == NoKey.MESSAGE


def test_bad_auth_mode_is_a_config_error():
    with pytest.raises(ConfigError, match="STUDIO_AUTH"):
        GeminiClient("https://relay.example", Secret(KEY), "basic")


def test_stream_uses_sse_and_assembles_events():
    events = [
        {"candidates": [{"content": {"parts": [{"text": "Here"}]}}]},
        {"candidates": [{"content": {"parts": success_json()["candidates"][0]["content"]["parts"][1:]}}]},
        {
            "candidates": [{"content": {"parts": [{"text": ""}]}, "finishReason": "STOP"}],
            "usageMetadata": {"totalTokenCount": 9},
        },
    ]
    sse = "".join(f"data: {json.dumps(e)}\n\n" for e in events)
    script = Script(httpx.Response(200, text=sse, headers={"content-type": "text/event-stream"}))
    client, _ = make_client(script)
    outcome = client.generate(MODEL, BODY, stream=True)
    assert script.requests[0].url.path.endswith(":streamGenerateContent")
    assert script.requests[0].url.params["alt"] == "sse"
    assert (
        len(outcome.images) == 1 and outcome.finish_reason == "STOP" and outcome.usage["totalTokenCount"] == 9
    )


def test_from_settings_uses_every_setting():
    settings = Settings(
        base_url="https://relay.example/",
        auth="goog",
        api_key=Secret(KEY),
        max_request_mb=0.001,
        max_retries=0,
    )
    client = GeminiClient.from_settings(settings, transport=httpx.MockTransport(Script(success_json())))
    assert (client.base_url, client.auth, client.max_retries) == ("https://relay.example", "goog", 0)
    with pytest.raises(RequestRejected, match="STUDIO_MAX_REQUEST_MB"):
        client.generate(MODEL, {"contents": [{"parts": [{"text": "x" * 2000}]}]})


# -- status mapping and parsing --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (httpx.Response(401, json=google_error(401, "UNAUTHENTICATED", "bad token")), AuthError),
        (httpx.Response(404, json=google_error(404, "NOT_FOUND", "models/x is not found")), ModelNotFound),
        (httpx.Response(413, text="<html><body>413 Request Entity Too Large</body></html>"), RequestRejected),
        (httpx.Response(200, text="{not json"), BadResponse),
        (httpx.Response(200, text="<html>a login page</html>"), BadResponse),
        (
            httpx.Response(
                200, json={"error": {"message": "no channel", "type": "new_api_error", "code": 503}}
            ),
            ServerError,
        ),
        (
            httpx.RemoteProtocolError("peer closed connection without sending complete message body"),
            BadResponse,
        ),
        (httpx.ReadError("connection reset"), BadResponse),
    ],
)
def test_answers_map_to_errors(answer, error):
    client, _ = make_client(Script(answer), max_retries=0)
    with pytest.raises(error) as info:
        client.generate(MODEL, BODY)
    assert info.value.__cause__ is not None or isinstance(answer, httpx.Response)


def test_messages_never_hold_the_key():
    leaky = httpx.ConnectError(f"failed https://relay.example/v1beta/models?key={KEY} Bearer {KEY}")
    client, _ = make_client(Script(leaky), auth="query", max_retries=0)
    with pytest.raises(ConnectFailed) as info:
        client.generate(MODEL, BODY)
    assert KEY not in info.value.message and KEY not in repr(vars(info.value))
    body = json.dumps({"error": {"message": f"invalid key={KEY}", "type": "x"}})
    client, _ = make_client(Script(httpx.Response(401, text=body)), auth="query")
    with pytest.raises(AuthError) as info:
        client.generate(MODEL, BODY)
    assert KEY not in info.value.message and KEY not in repr(vars(info.value))


def test_a_refusal_is_returned_not_raised_and_not_retried():
    script = Script({"candidates": [{"content": {}, "finishReason": "NO_IMAGE"}]})
    client, sleeps = make_client(script)
    outcome = client.generate(MODEL, BODY)
    assert isinstance(wire.refusal(outcome), NoImage)
    assert len(script.requests) == 1 and sleeps == []


# -- retries ---------------------------------------------------------------------------------------

R429_3S = httpx.Response(429, json=google_error(429, "RESOURCE_EXHAUSTED", "slow down", retry_info("3s")))
R429_61S = httpx.Response(429, json=google_error(429, "RESOURCE_EXHAUSTED", "slow down", retry_info("61s")))
R429_HEADER = httpx.Response(
    429, headers={"Retry-After": "7"}, json={"error": {"message": "busy", "type": "x"}}
)
R429_NONE = httpx.Response(429, json={"error": {"message": "busy", "type": "x"}})
R429_DAY = httpx.Response(
    429,
    json=google_error(
        429,
        "RESOURCE_EXHAUSTED",
        "daily",
        retry_info("5s"),
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [{"quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}],
        },
    ),
)
R503 = httpx.Response(503, json=google_error(503, "UNAVAILABLE", "The model is overloaded."))
R500 = httpx.Response(500, json=google_error(500, "INTERNAL", "An internal error has occurred."))
R502 = httpx.Response(502, text="<html>Bad Gateway</html>")
R504 = httpx.Response(504, json=google_error(504, "DEADLINE_EXCEEDED", "Deadline expired"))
R400 = httpx.Response(400, json=google_error(400, "INVALID_ARGUMENT", "bad"))
OK = success_json()

RETRY_TABLE = [
    # answers, calls made, waits (lower bounds), final
    pytest.param([R429_3S, OK], 2, [3.0], None, id="429-delay-honoured"),
    pytest.param([R429_HEADER, OK], 2, [7.0], None, id="429-retry-after-header"),
    pytest.param([R429_3S, R429_3S, R429_3S], 3, [3.0, 3.0], QuotaError, id="429-at-most-two-retries"),
    pytest.param([R429_61S, OK], 1, [], QuotaError, id="429-delay-over-60s"),
    pytest.param([R429_NONE, OK], 1, [], QuotaError, id="429-without-delay"),
    pytest.param([R429_DAY, OK], 1, [], QuotaError, id="429-per-day"),
    pytest.param([R503, OK], 2, [1.0], None, id="503-then-ok"),
    pytest.param([R503, R503, R503], 3, [1.0, 2.0], ServerError, id="503-backoff"),
    pytest.param([httpx.ConnectError("refused"), OK], 2, [1.0], None, id="connect-error"),
    pytest.param([httpx.ConnectTimeout("slow dns")] * 3, 3, [1.0, 2.0], ConnectFailed, id="connect-timeout"),
    pytest.param([R500, OK], 1, [], ServerError, id="500-never"),
    pytest.param([R502, OK], 1, [], ServerError, id="502-never"),
    pytest.param([R504, OK], 1, [], ServerError, id="504-never"),
    pytest.param([httpx.ReadTimeout("stalled"), OK], 1, [], EndpointTimeout, id="read-timeout-never"),
    pytest.param([httpx.WriteTimeout("stalled"), OK], 1, [], EndpointTimeout, id="write-timeout-never"),
    pytest.param([R400, OK], 1, [], RequestRejected, id="400-never"),
    pytest.param([httpx.RemoteProtocolError("cut"), OK], 1, [], BadResponse, id="truncated-never"),
]


@pytest.mark.parametrize(("answers", "calls", "waits", "final"), RETRY_TABLE)
def test_retry_policy(answers, calls, waits, final):
    script = Script(*answers)
    client, sleeps = make_client(script)
    notes: list[tuple[float, str]] = []
    if final is None:
        assert len(client.generate(MODEL, BODY, on_wait=lambda s, m: notes.append((s, m))).images) == 1
    else:
        with pytest.raises(final):
            client.generate(MODEL, BODY, on_wait=lambda s, m: notes.append((s, m)))
    assert len(script.requests) == calls
    assert len(sleeps) == len(waits) == len(notes)
    for slept, low, (noted, sentence) in zip(sleeps, waits, notes, strict=True):
        assert low <= slept <= low + 0.25 and noted == slept
        assert "retry" in sentence and "of 2" in sentence
    assert all(r.content == script.requests[0].content for r in script.requests)


def test_wait_sentence_for_quota():
    client, _ = make_client(Script(R429_3S, OK))
    notes = []
    client.generate(MODEL, BODY, on_wait=lambda s, m: notes.append(m))
    assert notes == ["Quota reached; retrying in 3 s (retry 1 of 2)."]


def test_max_retries_zero_never_retries():
    script = Script(R503, OK)
    client, sleeps = make_client(script, max_retries=0)
    with pytest.raises(ServerError):
        client.generate(MODEL, BODY)
    assert len(script.requests) == 1 and sleeps == []


def test_retry_budget_caps_total_waiting():
    r429_60 = httpx.Response(429, json=google_error(429, "RESOURCE_EXHAUSTED", "x", retry_info("60s")))
    script = Script(r429_60, r429_60, OK)
    client, sleeps = make_client(script)
    with pytest.raises(QuotaError):
        client.generate(MODEL, BODY)
    assert sleeps == [60.0] and len(script.requests) == 2


def test_cancel_during_a_retry_wait_stops_without_another_call():
    script = Script(R503, OK)
    client, _ = make_client(script, sleep=None)  # real interruptible waits on the cancel event
    cancel = threading.Event()
    with pytest.raises(Cancelled):
        client.generate(MODEL, BODY, cancel=cancel, on_wait=lambda s, m: cancel.set())
    assert len(script.requests) == 1


@pytest.mark.parametrize("stop_after", [0, 1], ids=["before-the-wait", "after-the-wait"])
def test_a_stop_before_a_retry_sends_nothing_more(stop_after):
    script = Script(R429_3S, OK)
    client, sleeps = make_client(script)
    asked: list[bool] = []

    def may_retry() -> bool:  # the studio stops before the wait, or during it
        asked.append(len(asked) < stop_after)
        return asked[-1]

    with pytest.raises(Cancelled, match="nothing more was sent"):
        client.generate(MODEL, BODY, may_retry=may_retry)
    assert len(script.requests) == 1 and len(asked) == stop_after + 1
    assert sleeps == [3.0] * stop_after  # stopped before the wait: no wait at all


def test_cancel_before_sending_sends_nothing():
    script = Script(OK)
    client, _ = make_client(script)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled, match="nothing was charged"):
        client.generate(MODEL, BODY, cancel=cancel)
    assert script.requests == []


# -- circuit breaker -------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker_client(script, clock, **kw):
    return make_client(
        script,
        clock=clock,
        max_retries=0,
        breaker_threshold=3,
        breaker_window=120.0,
        breaker_cooldown=60.0,
        **kw,
    )[0]


def test_breaker_opens_after_consecutive_failures_and_recovers():
    clock = FakeClock()
    script = Script(R500)
    client = breaker_client(script, clock)
    for _ in range(3):
        with pytest.raises(ServerError):
            client.generate(MODEL, BODY)
    assert client.breaker_state == "open (60 s left)"
    clock.now += 18
    with pytest.raises(CircuitOpen, match="failed 3 times in a row; new calls are paused for 42 s"):
        client.generate(MODEL, BODY)
    assert len(script.requests) == 3
    clock.now += 43  # half-open: one call goes through; its failure reopens at once
    assert client.breaker_state == "closed"
    with pytest.raises(ServerError):
        client.generate(MODEL, BODY)
    with pytest.raises(CircuitOpen):
        client.generate(MODEL, BODY)
    clock.now += 61
    script.answers = [OK]
    assert client.generate(MODEL, BODY).images
    assert client.breaker_state == "closed"
    script.answers = [R500]
    for _ in range(2):
        with pytest.raises(ServerError):
            client.generate(MODEL, BODY)
    assert client.breaker_state == "closed"  # a success reset the count


@pytest.mark.parametrize("failure", [R503, R429_NONE, httpx.ConnectError("refused"), httpx.ReadTimeout("x")])
def test_breaker_counts_struggling_endpoint_kinds(failure):
    client = breaker_client(Script(failure), FakeClock())
    for _ in range(3):
        with pytest.raises((ServerError, QuotaError, ConnectFailed, EndpointTimeout)):
            client.generate(MODEL, BODY)
    with pytest.raises(CircuitOpen):
        client.generate(MODEL, BODY)


def test_breaker_ignores_failures_outside_the_window_and_clean_rejections():
    clock = FakeClock()
    script = Script(R500)
    client = breaker_client(script, clock)
    for _ in range(2):
        with pytest.raises(ServerError):
            client.generate(MODEL, BODY)
    clock.now += 121
    with pytest.raises(ServerError):
        client.generate(MODEL, BODY)
    assert client.breaker_state == "closed"
    with pytest.raises(ServerError):
        client.generate(MODEL, BODY)
    script.answers = [R400]  # the endpoint answered cleanly: not a struggling endpoint
    with pytest.raises(RequestRejected):
        client.generate(MODEL, BODY)
    script.answers = [R500]
    for _ in range(2):
        with pytest.raises(ServerError):
            client.generate(MODEL, BODY)
    assert client.breaker_state == "closed"


def test_breaker_stops_retries_once_open():
    script = Script(R503)
    client, sleeps = make_client(script, clock=FakeClock(), breaker_threshold=2)
    with pytest.raises(ServerError):
        client.generate(MODEL, BODY)
    assert len(script.requests) == 2 and len(sleeps) == 1


def test_breaker_is_thread_safe():
    client = breaker_client(Script(R500), FakeClock())
    errors: list[Exception] = []

    def call():
        try:
            client.generate(MODEL, BODY)
        except Exception as exc:  # collected, checked below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 12
    assert {type(e) for e in errors} <= {ServerError, CircuitOpen}
    assert client.breaker_state.startswith("open")


# -- request size ----------------------------------------------------------------------------------


def test_request_size_limit_rejects_before_sending():
    script = Script(OK)
    client, _ = make_client(script, max_request_bytes=1024 * 1024)
    big = GenerationRequest(
        prompt="x",
        model=MODEL,
        history=(
            {
                "role": "model",
                "parts": [{"inlineData": {"mimeType": "image/png", "data": "A" * (2 * 1024 * 1024)}}],
            },
        ),
    )
    with pytest.raises(RequestRejected) as info:
        client.generate(MODEL, wire.build_body(big))
    assert script.requests == []
    assert "2.0 MB" in info.value.message and "1.0 MB" in info.value.message
    assert "fewer or smaller reference images" in info.value.message
    client, _ = make_client(script, max_request_bytes=None)
    assert client.generate(MODEL, wire.build_body(big)).images


# -- check and generate_text -----------------------------------------------------------------------


def test_check_lists_models_with_the_key():
    script = Script({"models": [{"name": "models/a"}, {"name": "models/b"}]})
    client, _ = make_client(script, auth="goog")
    assert client.check() == "Connected to relay.example; the key was accepted (2 models listed)."
    request = script.requests[0]
    assert request.method == "GET" and request.url.path == "/v1beta/models"
    assert request.url.params["pageSize"] == "50" and request.headers["x-goog-api-key"] == KEY


@pytest.mark.parametrize("status", [404, 405])
def test_check_on_an_endpoint_without_a_model_list(status):
    client, _ = make_client(Script(httpx.Response(status, text="not here")))
    assert "does not list models" in client.check()


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (
            httpx.Response(401, json={"error": {"message": "invalid token", "type": "new_api_error"}}),
            AuthError,
        ),
        (
            httpx.Response(
                400,
                json=google_error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key."),
            ),
            AuthError,
        ),
        (httpx.ConnectError("refused"), ConnectFailed),
    ],
)
def test_check_raises_for_auth_and_network(answer, error):
    client, _ = make_client(Script(answer))
    with pytest.raises(error):
        client.check()


def test_generate_text():
    script = Script(
        {
            "candidates": [
                {
                    "content": {
                        "parts": [
                            {"text": "thinking", "thought": True},
                            {"text": "A moody "},
                            {"text": "fox."},
                        ]
                    },
                    "finishReason": "STOP",
                }
            ]
        }
    )
    client, _ = make_client(script)
    assert (
        client.generate_text("gemini-2.5-flash", "fox", system="be brief", json_mode=True) == "A moody fox."
    )
    sent = json.loads(script.requests[0].content)
    assert sent["systemInstruction"] == {"parts": [{"text": "be brief"}]}
    assert sent["generationConfig"] == {"responseMimeType": "application/json"}
    client, _ = make_client(Script({"promptFeedback": {"blockReason": "SAFETY"}}))
    with pytest.raises(BadResponse, match="no text"):
        client.generate_text("gemini-2.5-flash", "fox")


# -- real HTTP on 127.0.0.1 --------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 - the stdlib's naming
        length = int(self.headers.get("Content-Length", "0"))
        self.server.seen.append((self.path, dict(self.headers), self.rfile.read(length)))
        self.server.behaviour(self)

    do_GET = do_POST  # noqa: N815

    def log_message(self, *args):
        pass

    def send_json(self, status: int, payload) -> None:
        data = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def stall(self) -> None:
        """Say nothing until the client hangs up or the test ends; record a hang-up."""
        conn = self.connection
        while not self.server.release.is_set():
            readable, _, _ = select.select([conn], [], [], 0.05)
            if readable and conn.recv(1, socket.MSG_PEEK) == b"":
                self.server.client_closed.set()
                break
        self.close_connection = True


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.seen, srv.release, srv.client_closed = [], threading.Event(), threading.Event()
    srv.behaviour = lambda h: h.send_json(200, success_json())
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    yield srv
    srv.release.set()
    srv.shutdown()
    srv.server_close()


def real_client(url: str, **kw) -> GeminiClient:
    kw.setdefault("max_retries", 0)
    return GeminiClient(url, Secret(KEY), kw.pop("auth", "bearer"), **kw)


@pytest.mark.parametrize("auth", ["bearer", "goog", "query"])
def test_real_http_success_for_each_auth_mode(server, auth):
    with real_client(server.url, auth=auth) as client:
        outcome = client.generate(MODEL, BODY)
    assert outcome.images[0].data == png()
    path, headers, body = server.seen[0]
    assert json.loads(body) == BODY
    headers = {k.lower(): v for k, v in headers.items()}
    assert (headers.get("authorization"), headers.get("x-goog-api-key"), "key=" in path) == {
        "bearer": (f"Bearer {KEY}", None, False),
        "goog": (None, KEY, False),
        "query": (None, None, True),
    }[auth]


def test_real_http_connection_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps: list[float] = []
    with real_client(f"http://127.0.0.1:{port}", max_retries=1, sleep=sleeps.append) as client:
        with pytest.raises(ConnectFailed, match="nothing was billed"):
            client.generate(MODEL, BODY)
    assert len(sleeps) == 1


def test_real_http_stall_is_cut_by_the_read_timeout(server):
    server.behaviour = Handler.stall
    with real_client(server.url, read_timeout=0.5, overall_timeout=30) as client:
        with pytest.raises(EndpointTimeout, match="read timeout.*retry from History"):
            client.generate(MODEL, BODY)
    assert len(server.seen) == 1  # never retried


def test_real_http_trickle_is_cut_by_the_overall_deadline(server):
    def trickle(h):
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", "100000")
        h.end_headers()
        while not h.server.release.is_set():
            try:
                h.wfile.write(b" ")
                h.wfile.flush()
            except OSError:
                break
            time.sleep(0.05)
        h.close_connection = True

    server.behaviour = trickle
    with real_client(server.url, read_timeout=0.5, overall_timeout=1.0) as client:
        with pytest.raises(EndpointTimeout, match="did not finish answering within 1 s"):
            client.generate(MODEL, BODY)


@pytest.mark.timeout(20)
def test_real_http_cancel_during_a_stall_returns_and_hangs_up(server):
    server.behaviour = Handler.stall
    cancel = threading.Event()
    timer = threading.Timer(0.3, cancel.set)
    timer.start()
    with real_client(server.url, read_timeout=60, overall_timeout=120) as client:
        with pytest.raises(Cancelled):
            client.generate(MODEL, BODY, cancel=cancel)
        assert server.client_closed.wait(10), "the stalled connection was not shut down"
    timer.cancel()


def test_real_http_truncated_body_is_a_bad_response(server):
    def truncated(h):
        data = json.dumps(success_json()).encode()
        h.send_response(200)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data[: len(data) // 2])
        h.wfile.flush()
        h.close_connection = True

    server.behaviour = truncated
    with real_client(server.url) as client:
        with pytest.raises(BadResponse, match="broke before the whole answer arrived"):
            client.generate(MODEL, BODY)


def test_real_http_malformed_json_is_a_bad_response(server):
    server.behaviour = lambda h: h.send_json(200, b'{"candidates": [ {"content": ')
    with real_client(server.url) as client:
        with pytest.raises(BadResponse, match="not JSON"):
            client.generate(MODEL, BODY)


def test_real_http_429_then_success_is_retried(server):
    answers = [(429, google_error(429, "RESOURCE_EXHAUSTED", "x", retry_info("0.1s"))), (200, success_json())]
    server.behaviour = lambda h: h.send_json(*answers.pop(0))
    with real_client(server.url, max_retries=2) as client:
        assert client.generate(MODEL, BODY).images
    assert len(server.seen) == 2


# -- end to end against the emulator (skipped while studio.emulator does not exist) ---------------


def _emulator_client(emulator, auth: str, **kw) -> GeminiClient:
    return GeminiClient(emulator.url, Secret("test-key-123"), auth, **kw)


@pytest.mark.parametrize("auth", ["bearer", "goog", "query"])
def test_emulator_success_for_each_auth_mode(auth, request):
    pytest.importorskip("studio.emulator")
    emulator = request.getfixturevalue("emulator")
    body = wire.build_body(GenerationRequest(prompt="a lighthouse at dusk", model=MODEL, aspect_ratio="16:9"))
    with _emulator_client(emulator, auth) as client:
        outcome = client.generate(MODEL, body)
    assert outcome.images and wire.refusal(outcome) is None
    with Image.open(io.BytesIO(outcome.images[0].data)) as im:
        assert im.width > im.height


def test_emulator_429_then_success(request):
    pytest.importorskip("studio.emulator")
    emulator = request.getfixturevalue("emulator")
    body = wire.build_body(GenerationRequest(prompt="a fox [[fault:429*1]]", model=MODEL))
    notes: list[str] = []
    with _emulator_client(emulator, "bearer") as client:
        outcome = client.generate(MODEL, body, on_wait=lambda s, m: notes.append(m))
    assert outcome.images
    assert len(notes) == 1 and notes[0].startswith("Quota reached")


EMULATOR_FAULTS = [
    ("400", RequestRejected),
    ("401", AuthError),
    ("403", AuthError),
    ("404", ModelNotFound),
    ("413", RequestRejected),
    ("429", QuotaError),
    ("429-daily", QuotaError),
    ("500", ServerError),
    ("502", ServerError),
    ("503", ServerError),
    ("relay_401", AuthError),
    ("relay_error_200", ModelNotFound),
    ("malformed", BadResponse),
    ("truncated", BadResponse),
    ("close", BadResponse),
    ("blocked", Blocked),
    ("image_safety", Blocked),
    ("image_prohibited", Blocked),
    ("no_image", NoImage),
    ("text_only", NoImage),
    ("max_tokens", NoImage),
    ("empty_candidates", NoImage),
]


@pytest.mark.parametrize(("fault", "error"), EMULATOR_FAULTS)
def test_emulator_faults_map_to_errors(fault, error, request):
    pytest.importorskip("studio.emulator")
    emulator = request.getfixturevalue("emulator")
    body = wire.build_body(GenerationRequest(prompt=f"a fox [[fault:{fault}]]", model=MODEL))
    with _emulator_client(emulator, "goog", max_retries=0) as client:
        if issubclass(error, GenerationRefused):
            refused = wire.refusal(client.generate(MODEL, body))
            assert type(refused) is error and refused.message
            return
        with pytest.raises(error) as info:
            client.generate(MODEL, body)
    assert "test-key-123" not in info.value.message
    if fault == "429-daily":
        assert info.value.retry_after is None and "will not help" in info.value.message


def test_emulator_stream_and_check(request):
    pytest.importorskip("studio.emulator")
    emulator = request.getfixturevalue("emulator")
    model = "gemini-3-pro-image"
    body = wire.build_body(
        GenerationRequest(prompt="a fox", model=model, modalities=("TEXT", "IMAGE"), include_thoughts=True)
    )
    with _emulator_client(emulator, "bearer") as client:
        streamed = client.generate(model, body, stream=True)
        assert "the key was accepted" in client.check()
    assert len(streamed.images) == 1 and streamed.finish_reason == "STOP"
    assert streamed.images[0].signature and streamed.usage["totalTokenCount"] > 0


def test_emulator_with_a_required_key_rejects_another():
    emulator_module = pytest.importorskip("studio.emulator")
    emu = emulator_module.Emulator(port=0, key="right-key").start()
    try:
        with GeminiClient(emu.url, Secret("wrong-key"), "goog") as client:
            with pytest.raises(AuthError) as info:
                client.check()
        assert "wrong-key" not in info.value.message
    finally:
        emu.stop()


def test_a_key_echoed_back_by_a_relay_never_reaches_the_message() -> None:
    import httpx

    from studio.domain.errors import AuthError
    from studio.domain.settings import Secret
    from studio.gemini.client import GeminiClient

    key = "relay-canary-73c1d2"

    def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            401, json={"error": {"message": f"invalid token: {key}", "type": "new_api_error"}}
        )

    client = GeminiClient(
        "http://relay.test", Secret(key), transport=httpx.MockTransport(echo), max_retries=0
    )
    with pytest.raises(AuthError) as excinfo:
        client.generate("gemini-2.5-flash-image", {"contents": []})
    assert key not in str(excinfo.value) and key not in repr(vars(excinfo.value))
    assert "REDACTED" in str(excinfo.value)
    from studio.gemini.wire import redact

    assert redact("bad token sk-abcdefghijklmnop1234 here") == "bad token sk-REDACTED here"


@pytest.mark.timeout(20)
def test_real_http_cancel_after_a_200_started_keeps_the_paid_image(server):
    cancel = threading.Event()

    def slow_body(h):
        data = json.dumps(success_json()).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data[:10])
        h.wfile.flush()
        time.sleep(0.3)  # the first bytes have reached the client
        cancel.set()  # the designer presses Cancel while the paid answer is still arriving
        time.sleep(0.5)
        h.wfile.write(data[10:])
        h.wfile.flush()

    server.behaviour = slow_body
    with real_client(server.url) as client:
        outcome = client.generate(MODEL, BODY, cancel=cancel)
    assert cancel.is_set() and outcome.images  # billed already: kept, not thrown away
