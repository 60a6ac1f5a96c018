"""A canary key used through a whole run appears 0 times anywhere the studio writes or says (goal R9).

Every auth mode (bearer, x-goog-api-key, ``?key=``), successes and failures, a relay that echoes the
request (URL and auth header) back in its error, a refused connection; then the logs at DEBUG
(httpx and httpcore included), every error message, the history JSON, the CLI's output, the
doctor's JSON, PNG metadata of the stored images, the database bytes and every file under the data
directory are searched for the key.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import subprocess
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from studio.domain.requests import GenerationRequest
from studio.domain.settings import load_settings
from studio.services import doctor
from studio.services.studio import Studio

ROOT = Path(__file__).resolve().parents[2]
MODEL = "gemini-3.1-flash-image"
CANARY = "CANARY" + uuid.uuid4().hex
PROMPTS = [
    "a canary",
    "[[fault:401]]",
    "[[fault:403]]",
    "[[fault:500]]",
    "[[fault:malformed]]",
    "[[fault:relay_401]]",
    "[[fault:truncated]]",
    "[[fault:blocked]]",
]


class _Echo(BaseHTTPRequestHandler):
    """A badly behaved relay: its errors quote the request line and the auth headers."""

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        said = (
            f"bad request to {self.path}; Authorization: {self.headers.get('Authorization')}; "
            f"x-goog-api-key: {self.headers.get('x-goog-api-key')}"
        )
        status = 400 if "fault" not in self.path else 200
        body = (
            json.dumps({"error": {"code": 400, "message": said}}).encode() if status == 400 else said.encode()
        )
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST  # noqa: N815

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def echo_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def _debug_logging() -> None:
    # The client quiets httpx on construction; a user may turn everything up again, so do that here.
    for name in ("", "httpx", "httpcore", "studio", "urllib3"):
        logging.getLogger(name).setLevel(logging.DEBUG)


def _session(base_url: str, auth: str, prompts: list[str], said: list[str]) -> None:
    settings = load_settings().with_(base_url=base_url, auth=auth, max_retries=0, connect_timeout=1.0)
    studio = Studio(settings)
    _debug_logging()
    try:
        ids = studio.submit(GenerationRequest(prompt=prompts[0], model=MODEL, image_size="512"))
        for prompt in prompts[1:]:
            ids += studio.submit(GenerationRequest(prompt=f"canary {prompt}", model=MODEL, image_size="512"))
        for record in studio.wait(ids, timeout=60):
            said.append(json.dumps(record.to_json(), default=str))
            said.append(record.error_message or "")
        try:
            said.append(studio.check_connection())
        except Exception as exc:  # the failure's text is what we search
            said.append(str(exc))
    finally:
        studio.close()


def test_the_canary_key_never_appears(studio_env, monkeypatch, caplog, echo_server):
    emulator = studio_env
    monkeypatch.setenv("STUDIO_API_KEY", CANARY)
    caplog.set_level(logging.DEBUG)
    said: list[str] = []
    for auth in ("bearer", "goog", "query"):
        _session(emulator.url, auth, PROMPTS, said)
        _session(echo_server, auth, ["echo", "[[fault:x]]"], said)
        _session(_closed_port_url(), auth, ["refused"], said)
    assert any("REDACTED" in s for s in said)  # the echoing relay really did quote the key back

    monkeypatch.setenv("STUDIO_AUTH", "query")
    for args in (
        ["generate", "cli canary [[fault:500]]", "--json"],
        ["generate", "cli canary ok"],
        ["history", "--json", "--limit", "100"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "studio", *args], capture_output=True, text=True, timeout=60, cwd=ROOT
        )
        said += [done.stdout, done.stderr]
    done = subprocess.run(
        [sys.executable, "-m", "studio", "doctor", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    said += [done.stdout, done.stderr, json.dumps(doctor.check(load_settings().data_dir).to_json())]

    data_dir = load_settings().data_dir
    assert any(emulator_record.get("auth_mode") == "query" for emulator_record in list(emulator.requests))
    for text in [*said, caplog.text]:
        assert CANARY not in text
    stored = [p for p in data_dir.rglob("*") if p.is_file()]
    assert any(p.name == "studio.db" for p in stored) and any(p.suffix in (".png", ".jpg") for p in stored)
    for path in stored:  # the database (and its WAL), images, thumbnails, turns, backups, journals
        assert CANARY.encode() not in path.read_bytes(), path
    for path in (data_dir / "images").rglob("*.*"):
        with Image.open(io.BytesIO(path.read_bytes())) as im:
            assert CANARY not in json.dumps({k: str(v) for k, v in im.info.items()})
