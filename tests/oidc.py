"""A real OpenID Connect provider on loopback for the sign-in tests: ``oidc-provider-mock`` (a test dependency).

Its authorization page has one button per predefined user, named by the user's ``sub``; Playwright signs in
with one click. It accepts any client id and secret (no registration). Started once per session by the
``oidc_provider`` fixture (tests/conftest.py); missing, the tests skip, except in CI (``CI=1``): a failure.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.servers import free_port, missing

#: The people the provider knows. ann and rev are made members by the tests (admin, reviewer); zed never is.
USERS = {
    "ann": "ann@studio.test",
    "rev": "rev@studio.test",
    "dee": "dee@studio.test",
    "zed": "zed@elsewhere.test",
}
CLIENT_ID = "studio-tests"
CLIENT_SECRET = "studio-tests-client-secret"


@dataclass
class OidcProvider:
    issuer: str  # discovery at {issuer}/.well-known/openid-configuration
    process: subprocess.Popen[bytes]
    users: dict[str, str] = field(default_factory=lambda: dict(USERS))

    def env(self, public_url: str) -> dict[str, str]:
        """The environment of a studio that signs people in here."""
        return {
            "STUDIO_LOGIN": "oidc",
            "STUDIO_OIDC_ISSUER": self.issuer,
            "STUDIO_OIDC_CLIENT_ID": CLIENT_ID,
            "STUDIO_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "STUDIO_PUBLIC_URL": public_url,
            "STUDIO_COOKIE_SECRET": "studio-tests-cookie-secret-0123456789abcdef",
        }


def executable() -> Path | None:
    found = Path(sys.executable).parent / "oidc-provider-mock"
    if found.exists():
        return found
    which = shutil.which("oidc-provider-mock")
    return Path(which) if which else None


@contextlib.contextmanager
def oidc_provider() -> Iterator[OidcProvider]:
    exe = executable()
    if exe is None:
        missing("oidc-provider-mock", "pip install -e '.[test]'")
    port = free_port()
    claims = [
        json.dumps({"sub": sub, "email": email, "email_verified": True, "name": sub.title()})
        for sub, email in USERS.items()
    ]
    log = Path(tempfile.mkstemp(prefix="oidc-provider-", suffix=".log")[1])
    args = [str(exe), "-H", "127.0.0.1", "-p", str(port)]
    for claim in claims:
        args += ["--user-claims", claim]
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            break
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"oidc-provider-mock did not start on loopback:\n{log.read_text(errors='replace')}")
        time.sleep(0.1)
    try:
        yield OidcProvider(f"http://127.0.0.1:{port}", proc)
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        if proc.poll() is None:
            proc.kill()
        log.unlink(missing_ok=True)
