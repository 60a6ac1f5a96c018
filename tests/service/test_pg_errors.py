"""PostgreSQL failures as designer sentences, with the URL's password never shown (a real server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.domain.errors import ConfigError, StoreError
from studio.storage import Store
from studio.storage.database import map_db_error, shown
from tests.servers import free_port


def _open(tmp_path: Path, url: str) -> StoreError:
    with pytest.raises(StoreError) as caught:
        Store(tmp_path, database_url=url)
    assert "s3cr3t" not in str(caught.value) and "Traceback" not in str(caught.value)
    return caught.value


def test_unreachable_server(tmp_path: Path) -> None:
    err = _open(tmp_path, f"postgresql+psycopg://studio:s3cr3t@127.0.0.1:{free_port()}/studio")
    assert "cannot be reached" in str(err) and "***" in str(err)


def test_missing_database(tmp_path: Path, pg_server) -> None:
    url = pg_server.url("no_such_db").replace("studio@", "studio:s3cr3t@")
    err = _open(tmp_path, url)
    assert "does not exist" in str(err) and "no_such_db" in str(err)


def test_auth_failed(tmp_path: Path, pg_server) -> None:
    url = pg_server.url("postgres").replace("studio@", "nobody:s3cr3t@")
    err = _open(tmp_path, url)
    assert "refused the studio's user" in str(err)  # trust auth: an unknown role is the refusal


def test_not_a_url_and_not_postgres(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a database URL"):
        Store(tmp_path, database_url="::nonsense::")
    with pytest.raises(ConfigError, match="does not support"):
        Store(tmp_path, database_url="mysql://u:s3cr3t@h/db")


class _PgError(Exception):
    def __init__(self, sqlstate: str, text: str) -> None:
        super().__init__(text)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("state", "text", "expected"),
    [
        ("53100", "could not extend file: No space left on device", "run out of disk space"),
        ("53300", "sorry, too many clients already", "too many clients"),
        ("28P01", 'password authentication failed for user "ann"', "refused the studio's user"),
        ("3D000", 'database "x" does not exist', "does not exist"),
        ("08006", "connection to server failed", "cannot be reached"),
    ],
)
def test_sqlstates_become_sentences(state: str, text: str, expected: str) -> None:
    err = map_db_error(_PgError(state, text), "postgresql+psycopg://ann:s3cr3t@db:5432/studio")
    assert expected in str(err) and "s3cr3t" not in str(err) and "ann:***@db" in str(err)


def test_shown_hides_the_password() -> None:
    assert shown("postgresql+psycopg://ann:s3cr3t@db/studio") == "postgresql+psycopg://ann:***@db/studio"
