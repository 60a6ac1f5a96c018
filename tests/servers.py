"""Real servers on loopback for the team-storage tests: Debian's PostgreSQL 15 and moto's S3 server.

Both are started by the tests and stopped at the end of the session. Where a part is missing the tests skip
with the command that installs it, except in CI (``CI=1``), where a missing part is a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_USER = "studio"


def missing(part: str, install: str) -> None:
    """Fail in CI, skip elsewhere, naming what to install."""
    message = f"{part} is missing ({install})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must run the team-storage tests")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(*cmd: str, **kw: object) -> subprocess.CompletedProcess[bytes]:
    """initdb refuses root: the server runs as the ``postgres`` user Debian's package creates."""
    if os.geteuid() == 0:
        cmd = ("runuser", "-u", "postgres", "--", *cmd)
    return subprocess.run(cmd, check=True, capture_output=True, **kw)  # type: ignore[call-overload]


@dataclass
class PostgresServer:
    host: str
    port: int
    socket_dir: Path

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{PG_USER}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str | None = None, template: str | None = None) -> str:
        """A new empty database (or a copy of ``template``); returns its SQLAlchemy URL."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        args = [str(PG_BIN / "createdb"), "-h", self.host, "-p", str(self.port), "-U", PG_USER]
        if template:
            args += ["-T", template]
        subprocess.run([*args, name], check=True, capture_output=True)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        subprocess.run(
            [str(PG_BIN / "dropdb"), "-h", self.host, "-p", str(self.port), "-U", PG_USER, "--force", name],
            check=False,
            capture_output=True,
        )


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    if not (PG_BIN / "pg_ctl").exists():
        missing("PostgreSQL 15", "apt-get install postgresql")
    root = Path(tempfile.mkdtemp(prefix="studio-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data, port = root / "data", free_port()
    _as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-U", PG_USER, "--auth=trust", "-E", "UTF8")
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300"
    _as_postgres(
        str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"
    )
    try:
        yield PostgresServer("127.0.0.1", port, root)
    finally:
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class S3Server:
    endpoint_url: str
    process: subprocess.Popen[bytes]

    def client(self):  # noqa: ANN201 - a boto3 client
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )

    def create_bucket(self, name: str | None = None) -> str:
        name = name or f"studio-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name


S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}


@contextlib.contextmanager
def s3_server() -> Iterator[S3Server]:
    """moto's standalone S3 server in its own process, as a bucket host on loopback."""
    exe = Path(os.sys.executable).parent / "moto_server"  # type: ignore[attr-defined]
    if not exe.exists():
        missing("moto's S3 server", "pip install 'moto[server]'")
    port = free_port()
    proc = subprocess.Popen(
        [str(exe), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            break
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("moto_server did not start on loopback")
        time.sleep(0.1)
    try:
        yield S3Server(f"http://127.0.0.1:{port}", proc)
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        if proc.poll() is None:
            proc.kill()
