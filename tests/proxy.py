"""Several `studio run` processes behind Debian's nginx on loopback, for the deployment tests.

``nginx_proxy`` runs deploy/nginx.conf, the example the README points at, with only its addresses, certificate
and log paths swapped for loopback ones (``render``), inside a small main config of the test's own: its own
prefix, pid, error log and temp folders, nothing under /etc, /var or /run. ``studio_processes`` starts N
``studio run --host 127.0.0.1 --port P`` processes on free ports with one given environment (a dict of
variables: the same STUDIO_DATA_DIR for all, or STUDIO_DATABASE_URL plus STUDIO_STORAGE_URL for a team setup).
Everything started here is stopped at the end. In CI a missing nginx fails (tests.servers.missing).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.servers import free_port, missing

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "deploy" / "nginx.conf"
NGINX = Path("/usr/sbin/nginx")
ROUTE_COOKIE = "studio_route"
UPSTREAM_HEADER = "X-Studio-Upstream"

#: The upstream lines of the example: one per studio process, replaced by the test's processes.
_UPSTREAM_LINE = re.compile(r"^( *)server 127\.0\.0\.1:85\d\d( [^;\n]*;)[^\n]*$", re.MULTILINE)

MAIN_CONF = """\
# The test's own main config around deploy/nginx.conf (rendered to studio.conf): no root-owned default paths.
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log info;
events {{ worker_connections 512; }}
http {{
    client_body_temp_path {prefix}/temp/body;
    proxy_temp_path {prefix}/temp/proxy;
    fastcgi_temp_path {prefix}/temp/fastcgi;
    uwsgi_temp_path {prefix}/temp/uwsgi;
    scgi_temp_path {prefix}/temp/scgi;
    access_log {prefix}/logs/access.log;
    include {prefix}/studio.conf;
}}
"""


def _swap(text: str, old: str, new: str) -> str:
    """Replace ``old`` exactly once: an example edited out from under the test fails here, loudly."""
    count = text.count(old)
    if count != 1:
        raise AssertionError(f"deploy/nginx.conf: expected {old!r} once, found it {count} times")
    return text.replace(old, new)


def render(
    example: str, *, upstreams: list[str], http_port: int, https_port: int, cert: Path, key: Path, logs: Path
) -> str:
    """deploy/nginx.conf for loopback: its studio processes, ports, certificate and log paths, and the
    ``X-Studio-Upstream`` header turned on; nothing else."""
    lines = list(_UPSTREAM_LINE.finditer(example))
    if not lines or example[lines[0].start() : lines[-1].end()].count("\n") != len(lines) - 1:
        raise AssertionError("deploy/nginx.conf: expected one block of `server 127.0.0.1:85xx ...;` lines")
    indent, rest = lines[0].group(1), lines[0].group(2)
    servers = "\n".join(f"{indent}server {address}{rest}" for address in upstreams)
    text = example[: lines[0].start()] + servers + example[lines[-1].end() :]
    # The one addition: which process answered, so the tests can prove it (off in the example).
    text = _swap(text, f"# add_header {UPSTREAM_HEADER} ", f"add_header {UPSTREAM_HEADER} ")
    text = _swap(text, "listen 80;", f"listen 127.0.0.1:{http_port};")
    text = _swap(text, "listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
    text = _swap(text, "/etc/ssl/certs/studio.example.com.pem", str(cert))
    text = _swap(text, "/etc/ssl/private/studio.example.com.key", str(key))
    return _swap(text, "/var/log/nginx/studio.access.log", str(logs / "studio.access.log"))


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 (``cryptography`` comes with moto[server], a test dependency)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "studio.pem", folder / "studio.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@dataclass
class Proxy:
    """nginx on loopback: ``url`` is its HTTPS address (self-signed), ``http_url`` the plain one."""

    url: str
    http_url: str
    prefix: Path
    config: str  # the rendered deploy/nginx.conf

    def client(self, **kw: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=False, timeout=10, **kw)  # type: ignore[arg-type]

    def upstream_for(self, route: str) -> str:
        """The studio process (host:port) nginx sends the browser with this route cookie to."""
        with self.client(cookies={ROUTE_COOKIE: route}) as client:
            response = client.get("/_stcore/health")
        response.raise_for_status()
        return response.headers[UPSTREAM_HEADER]

    def route_to(self, upstream: str, tries: int = 200) -> str:
        """A route cookie value that nginx's hash sends to ``upstream`` (asked of nginx itself)."""
        for n in range(tries):
            route = f"test-route-{n:04d}"
            if self.upstream_for(route) == upstream:
                return route
        raise AssertionError(f"no route of {tries} reaches {upstream}")

    def error_log(self) -> str:
        path = self.prefix / "logs" / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextlib.contextmanager
def nginx_proxy(upstreams: list[str], example: Path = EXAMPLE) -> Iterator[Proxy]:
    """nginx in the foreground with the rendered example in front of ``upstreams`` (host:port each)."""
    if not NGINX.exists():
        missing("nginx", "apt-get install nginx")
    prefix = Path(tempfile.mkdtemp(prefix="studio-nginx-"))
    prefix.chmod(0o755)  # nginx's workers (user nobody when started as root) create their temp files below
    for sub in ("logs", "temp", "tls"):
        (prefix / sub).mkdir()
    (prefix / "temp").chmod(0o777)
    cert, key = _self_signed(prefix / "tls")
    http_port, https_port = free_port(), free_port()
    config = render(
        example.read_text(),
        upstreams=upstreams,
        http_port=http_port,
        https_port=https_port,
        cert=cert,
        key=key,
        logs=prefix / "logs",
    )
    (prefix / "studio.conf").write_text(config)
    (prefix / "nginx.conf").write_text(MAIN_CONF.format(prefix=prefix))
    base = [
        str(NGINX),
        "-p",
        str(prefix),
        "-e",
        str(prefix / "logs" / "error.log"),
        "-c",
        str(prefix / "nginx.conf"),
    ]
    check = subprocess.run([*base, "-t"], capture_output=True, text=True)
    if check.returncode != 0:
        shutil.rmtree(prefix, ignore_errors=True)
        raise AssertionError(f"nginx -t refused the rendered deploy/nginx.conf:\n{check.stderr}")
    proc = subprocess.Popen(
        [*base, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    proxy = Proxy(f"https://127.0.0.1:{https_port}", f"http://127.0.0.1:{http_port}", prefix, config)
    try:
        _wait_listening(https_port, proc, lambda: proxy.error_log())
        yield proxy
    finally:
        proc.terminate()  # SIGTERM: nginx's fast shutdown
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(prefix, ignore_errors=True)


def _wait_listening(port: int, proc: subprocess.Popen[bytes], log: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server on {port} exited early:\n{log()}")  # type: ignore[operator]
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise AssertionError(f"nothing listened on {port} within {timeout} s:\n{log()}")  # type: ignore[operator]


@dataclass
class StudioProcess:
    """One `studio run` on loopback."""

    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def kill(self) -> None:
        """SIGKILL: no drain, no goodbye, as a crashed machine or an OOM kill ends it."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def studio_env(env: Mapping[str, str]) -> dict[str, str]:
    """The process environment: this one without any STUDIO_* of the developer's, plus ``env``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("STUDIO_", "STREAMLIT_"))}
    return {**base, **env}


@contextlib.contextmanager
def studio_processes(
    count: int, env: Mapping[str, str], cwd: Path, *, demo: bool = False
) -> Iterator[list[StudioProcess]]:
    """``count`` `studio run --host 127.0.0.1 --port P` processes, each on a free port, all with ``env``;
    returned once each answers /_stcore/health, stopped (SIGTERM, then SIGKILL) at the end."""
    started: list[StudioProcess] = []
    try:
        for n in range(count):
            port = free_port()
            cmd = [sys.executable, "-m", "studio", "run", "--host", "127.0.0.1", "--port", str(port)]
            log = cwd / f"studio-{n}-{port}.log"  # a file, not a pipe nobody reads
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [*cmd, *(["--demo"] if demo else [])],
                    cwd=cwd,
                    env=studio_env(env),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            started.append(StudioProcess(port, proc, log))
        for process in started:
            _wait_healthy(process)
        yield started
    finally:
        for process in started:
            if process.proc.poll() is None:
                process.proc.terminate()
        for process in started:
            try:
                process.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.proc.kill()
                process.proc.wait()


def _wait_healthy(process: StudioProcess, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.proc.poll() is not None:
            raise AssertionError(f"studio run on {process.port} exited early:\n{process.output()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://{process.address}/_stcore/health", timeout=2).text == "ok":
                return
        time.sleep(0.2)
    raise AssertionError(
        f"studio run on {process.port} was not healthy within {timeout} s:\n{process.output()}"
    )
