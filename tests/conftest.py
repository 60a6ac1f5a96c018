"""Shared fixtures: an isolated environment per test, images from tests/factories.py, the real emulator."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.factories import make_image

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Every test gets its own data directory and no STUDIO_* settings from the developer's shell."""
    for name in list(os.environ):
        if name.startswith("STUDIO_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # no .streamlit/secrets.toml of the developer's is read
    yield


@pytest.fixture
def png_bytes() -> bytes:
    return make_image()


@pytest.fixture(scope="session")
def emulator():
    """One real emulator on 127.0.0.1 for the session (faults are injected per request)."""
    from studio.emulator import Emulator

    emu = Emulator(port=0, retry_delay=0.2).start()
    yield emu
    emu.stop()


@pytest.fixture
def studio_env(monkeypatch, emulator):
    """Environment pointing the studio at the emulator with a (fake) key."""
    monkeypatch.setenv("STUDIO_BASE_URL", emulator.url)
    monkeypatch.setenv("STUDIO_API_KEY", "test-key-123")
    monkeypatch.setenv("STUDIO_AUTH", "bearer")
    return emulator


@pytest.fixture
def studio(studio_env):
    from studio.domain.settings import load_settings
    from studio.services.studio import Studio

    s = Studio(load_settings())
    yield s
    s.close()


def chromium_or_skip():
    """Browser tests skip where Chromium is missing — except in CI, where a missing browser must fail."""
    if shutil.which(CHROMIUM) or os.path.exists(CHROMIUM):
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing; CI must run the browser tests (install Debian's chromium)")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); browser tests skipped")


@pytest.fixture(scope="session")
def pg_server():
    """Debian's PostgreSQL 15 on a free loopback port for the whole session (tests/servers.py)."""
    from tests.servers import postgres_server

    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def s3():
    """moto's S3 server on a free loopback port for the whole session (tests/servers.py)."""
    from tests.servers import s3_server

    with s3_server() as server:
        yield server


@pytest.fixture(scope="session")
def oidc_provider():
    """oidc-provider-mock on a free loopback port for the whole session (tests/oidc.py)."""
    from tests.oidc import oidc_provider as provider

    with provider() as server:
        yield server


@pytest.fixture(scope="session")
def pg_template(pg_server):
    """A database migrated to head once per session; each PostgreSQL test gets a copy (CREATE DATABASE ...
    TEMPLATE, a file copy on the server: tens of milliseconds)."""
    import tempfile
    from pathlib import Path

    from studio.storage.database import Database

    name = "studio_template"
    url = pg_server.create_database(name)
    db = Database.open(Path(tempfile.mkdtemp()) / "unused.db", url)
    db.close()
    yield name
    pg_server.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, monkeypatch):
    """Run the test on both backends: ``sqlite`` (the zero-configuration default: the SQLite file and the
    folders in STUDIO_DATA_DIR) and ``postgresql`` (a team's: a fresh database copied from the migrated
    template in STUDIO_DATABASE_URL, and a fresh bucket on moto's S3 server in STUDIO_STORAGE_URL). Stores
    opened through ``Store.for_settings`` or ``tests.stores.open_store`` follow it."""
    if request.param == "sqlite":
        yield "sqlite"
        return
    from tests.servers import S3_ENV

    server = request.getfixturevalue("pg_server")
    template = request.getfixturevalue("pg_template")
    bucket = request.getfixturevalue("s3").create_bucket()
    url = server.create_database(template=template)
    monkeypatch.setenv("STUDIO_DATABASE_URL", url)
    monkeypatch.setenv("STUDIO_STORAGE_URL", f"s3://{bucket}/studio")
    monkeypatch.setenv("STUDIO_S3_ENDPOINT_URL", request.getfixturevalue("s3").endpoint_url)
    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    yield "postgresql"
    server.drop_database(url.rsplit("/", 1)[1])
