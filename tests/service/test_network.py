"""The studio listens on 127.0.0.1 only, with CORS and XSRF protection on (goal R10).

The real ``studio run`` is started and the kernel's socket table (/proc/net/tcp and tcp6) is read to
see every address the port listens on.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from studio import cli

ROOT = Path(__file__).resolve().parents[2]
LISTEN = "0A"


def _ipv4(hex_addr: str) -> str:
    return socket.inet_ntop(socket.AF_INET, bytes.fromhex(hex_addr)[::-1])


def _ipv6(hex_addr: str) -> str:
    raw = bytes.fromhex(hex_addr)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))  # four little-endian 32-bit words
    return socket.inet_ntop(socket.AF_INET6, words)


def listening_addresses(port: int) -> set[str]:
    """Every local address with a LISTEN socket on ``port``, from the kernel's tables."""
    found: set[str] = set()
    for table, decode in (("/proc/net/tcp", _ipv4), ("/proc/net/tcp6", _ipv6)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            addr, hex_port = fields[1].split(":")
            if fields[3] == LISTEN and int(hex_port, 16) == port:
                found.add(decode(addr))
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_socket_table_parser_sees_a_known_listener():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert listening_addresses(s.getsockname()[1]) == {"127.0.0.1"}


def test_studio_run_listens_on_loopback_only(tmp_path):
    port = _free_port()
    env = dict(os.environ, STUDIO_DEMO="1", HOME=str(tmp_path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "studio", "run", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not listening_addresses(port):
            assert proc.poll() is None, proc.stderr.read().decode(errors="replace")
            assert time.monotonic() < deadline, "studio run never listened"
            time.sleep(0.2)
        time.sleep(0.5)  # a second (e.g. IPv6) listener would appear by now
        assert listening_addresses(port) == {"127.0.0.1"}
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stderr.close()


def _command(monkeypatch, *args: str) -> list[str]:
    from studio.app import serve

    seen: list[list[str]] = []
    monkeypatch.setattr(serve, "run", lambda argv: seen.append(argv) or 0)  # the server runs in-process
    assert cli.main(["run", *args]) == 0
    return seen[0]


def test_the_streamlit_command_keeps_cors_and_xsrf_on(monkeypatch, capsys):
    assert cli.STREAMLIT_FLAGS["server.enableCORS"] == "true"
    assert cli.STREAMLIT_FLAGS["server.enableXsrfProtection"] == "true"
    cmd = _command(monkeypatch, "--port", "8600")
    for flag in (
        "--server.address=127.0.0.1",
        "--server.port=8600",
        "--server.enableCORS=true",
        "--server.enableXsrfProtection=true",
        "--server.headless=true",
    ):
        assert flag in cmd
    assert capsys.readouterr().err == ""  # the default needs no warning


def test_exposing_the_studio_is_explicit_and_warned(monkeypatch, capsys):
    cmd = _command(monkeypatch, "--host", "0.0.0.0", "--open")
    assert "--server.address=0.0.0.0" in cmd and "--server.enableXsrfProtection=true" in cmd
    assert "anyone who can reach this machine" in capsys.readouterr().err
