"""One HTTP request: read the body, authenticate, route, answer (or inject a fault), and send the reply
the way the fault asks (truncated, stalled, trickled, closed)."""

from __future__ import annotations

import json
import re
import socket
import time
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from studio.domain import catalogue
from studio.emulator.faults import content_fault, prompt_latency, status_fault
from studio.emulator.protocol import (
    SSE_TYPE,
    Rejected,
    Reply,
    credentials,
    field_of,
    google_error,
    invalid,
    json_reply,
    last_user_turn,
    not_found,
    turn_text,
    validate_contents,
    wrong_key,
)
from studio.emulator.responses import image_job, image_response, model_info, model_kind, sse_reply
from studio.emulator.signatures import verify_signatures
from studio.emulator.textmodel import text_response

if TYPE_CHECKING:
    from studio.emulator.server import Emulator, Server

MAX_BODY_BYTES = 100 * 1024 * 1024  # Google's inline payload limit since 2026-01
TRICKLE_INTERVAL_S = 0.5
STALL_BODY_BYTES = 16


_GENERATE = re.compile(r"^/(v1beta|v1)/models/([^/:]+):(generateContent|streamGenerateContent)$")
_MODEL = re.compile(r"^/(v1beta|v1)/models/([^/:]+)$")
_LIST = re.compile(r"^/(v1beta|v1)/models/?$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "StudioEmulator/1.0"
    sys_version = ""
    server: Server

    # -- connection bookkeeping, so stop() can wake handlers blocked on a socket
    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the stdlib line includes the query string, i.e. a ?key=; we log our own redacted line

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    @property
    def emulator(self) -> Emulator:
        return self.server.emulator

    # -- dispatch
    def _dispatch(self, method: str) -> None:
        started = time.monotonic()
        split = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        record: dict[str, Any] = {
            "method": method,
            "path": split.path,
            "query": {k: ("[redacted]" if k == "key" else v) for k, v in query.items()},
            "auth_mode": None,
            "model": None,
            "body": None,
            "fault": None,
            "received_at": time.time(),
        }
        reply: Reply | None = None
        try:
            raw = self._read_body()
            self.emulator._record(record)
            reply = self._route(method, split.path, query, raw, record)
        except Rejected as exc:
            reply = exc.reply
        except ConnectionError:
            return self._abort()
        except Exception as exc:  # an emulator bug: answer like Google's 500 and show the traceback
            traceback.print_exc()
            reply = google_error(500, "INTERNAL", f"The emulator failed: {type(exc).__name__}")
        record["answered_at"] = time.time()
        record["status"] = reply.status if reply else None
        if reply is not None:
            self._deliver(reply)
        self.emulator._log(
            f"{method} {split.path} -> {record['status']}"
            f"{' fault=' + record['fault'] if record['fault'] else ''}"
            f" in {time.monotonic() - started:.2f}s"
        )

    def _read_body(self) -> bytes:
        try:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                return self._read_chunked()
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True  # we cannot tell where the next request starts
            raise Rejected(invalid("Invalid Content-Length or chunked framing.")) from None
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            raise Rejected(invalid(f"Request payload size exceeds the limit: {MAX_BODY_BYTES} bytes."))
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        out = bytearray()
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline().strip():  # trailers
                    pass
                return bytes(out)
            out += self.rfile.read(size)
            self.rfile.readline()
            if len(out) > MAX_BODY_BYTES:
                self.close_connection = True
                raise Rejected(invalid(f"Request payload size exceeds the limit: {MAX_BODY_BYTES} bytes."))

    def _route(self, method: str, path: str, query: dict, raw: bytes, record: dict) -> Reply | None:
        generate, one, listing = _GENERATE.match(path), _MODEL.match(path), _LIST.match(path)
        if method == "POST" and generate:
            version, model, verb = generate.groups()
            record["model"] = model
            self._authenticate(query, record)
            return self._generate(version, model, verb == "streamGenerateContent", raw, record)
        if method == "GET" and (one or listing):
            self._authenticate(query, record)
            if listing:
                ids = [*catalogue.MODELS, catalogue.DEFAULT_TEXT_MODEL]
                return json_reply(200, {"models": [model_info(m) for m in ids]})
            version, model = one.groups()  # type: ignore[union-attr]  # one or listing matched, and listing returned
            record["model"] = model
            return json_reply(200, model_info(model)) if model_kind(model) else not_found(model, version)
        return google_error(404, "NOT_FOUND", f"Requested URL {path} was not found on this server.")

    def _authenticate(self, query: dict, record: dict) -> None:
        mode, key = credentials(self.headers, query)
        record["auth_mode"] = mode
        if self.emulator.key is not None and key.strip() != self.emulator.key:
            raise Rejected(wrong_key())

    # -- generateContent
    def _generate(self, version: str, model: str, stream: bool, raw: bytes, record: dict) -> Reply | None:
        try:
            data = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise Rejected(invalid(f"Invalid JSON payload received. {exc}")) from None
        if not isinstance(data, dict):
            raise Rejected(invalid("Invalid JSON payload received. Expected an object."))
        record["body"] = data
        contents = field_of(data, "contents")
        prompt = turn_text(last_user_turn(contents)) if isinstance(contents, list) else ""
        fault = self.emulator._pick_fault(self.headers.get("X-Emulator-Fault"), prompt)
        record["fault"] = fault
        if self.emulator._wait(self.emulator.latency + prompt_latency(prompt)):
            return Reply(0, [], delivery="close")
        if fault:
            return self._faulted(fault, version, model, stream, data)
        return self._answer(version, model, stream, data)

    def _answer(self, version: str, model: str, stream: bool, data: dict) -> Reply:
        kind = model_kind(model)
        if kind is None:
            return not_found(model, version, "streamGenerateContent" if stream else "generateContent")
        contents = validate_contents(data)
        if kind == "text":
            body = text_response(model, data, contents)
        else:
            spec = catalogue.MODELS[model]
            if spec.signs_parts:
                verify_signatures(contents, self.emulator.signature_bytes)
            body = image_response(image_job(spec, data, contents), self.emulator.signature_bytes)
        return sse_reply(body) if stream else json_reply(200, body)

    def _faulted(self, fault: str, version: str, model: str, stream: bool, data: dict) -> Reply:
        if fault in ("stall", "close"):
            return Reply(0, [], delivery=fault)
        if fault in ("truncated", "stall_body", "trickle"):
            reply = self._answer(version, model, stream, data)
            reply.delivery = fault
            return reply
        faulted = status_fault(fault, model, self.emulator.retry_delay)
        if faulted is not None:
            if fault == "malformed" and stream:
                return Reply(200, [b"data: " + faulted.pieces[0] + b"\r\n\r\n"], SSE_TYPE, chunked=True)
            return faulted
        contents = field_of(data, "contents")
        contents = [c for c in contents if isinstance(c, dict)] if isinstance(contents, list) else []
        body = content_fault(fault, model, data, contents)
        assert body is not None, fault  # every name in FAULTS is handled above
        return sse_reply(body) if stream else json_reply(200, body)

    # -- sending
    def _deliver(self, reply: Reply) -> None:
        try:
            self._send(reply)
        except OSError:
            self._abort()

    def _send(self, reply: Reply) -> None:
        if reply.delivery == "close":
            return self._abort()
        if reply.delivery == "stall":
            self.emulator._wait(self.emulator.stall_seconds)
            return self._abort()
        payload = b"".join(reply.pieces)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        if reply.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(payload)))
        self.send_header("Vary", "Origin, X-Origin, Referer")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        frame = _chunk if reply.chunked else (lambda b: b)
        if reply.delivery == "truncated":
            self.wfile.write(frame(payload[: len(payload) // 2]))
            return self._abort()
        if reply.delivery == "stall_body":
            self.wfile.write(frame(payload[:STALL_BODY_BYTES]))
            self.emulator._wait(self.emulator.stall_seconds)
            return self._abort()
        if reply.delivery == "trickle":
            return self._trickle(payload, frame)
        for piece in reply.pieces:
            self.wfile.write(frame(piece))
        if reply.chunked:
            self.wfile.write(b"0\r\n\r\n")

    def _trickle(self, payload: bytes, frame: Callable[[bytes], bytes]) -> None:
        for i in range(len(payload)):
            self.wfile.write(frame(payload[i : i + 1]))
            if self.emulator._wait(TRICKLE_INTERVAL_S):
                return self._abort()
        if frame is _chunk:
            self.wfile.write(b"0\r\n\r\n")

    def _abort(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data) if data else b""
