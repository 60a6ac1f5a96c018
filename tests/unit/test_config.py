from __future__ import annotations

import pytest

from studio.domain.errors import ConfigError
from studio.domain.settings import DEFAULT_BASE_URL, Secret, load_settings


def test_zero_configuration_defaults(tmp_path):
    s = load_settings({"STUDIO_DATA_DIR": str(tmp_path)})
    assert s.base_url == DEFAULT_BASE_URL and s.auth == "bearer"
    assert s.api_key is None and not s.has_key and s.key_source == "none"
    assert s.db_path == tmp_path / "studio.db"


def test_key_from_env_wins_over_secrets_file(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('STUDIO_API_KEY = "from-file"\n')
    assert load_settings({}, secrets_file=secrets).api_key.get() == "from-file"
    s = load_settings({"STUDIO_API_KEY": "from-env"}, secrets_file=secrets)
    assert s.api_key.get() == "from-env" and s.key_source == "env"


def test_key_never_shows_in_repr():
    s = load_settings({"STUDIO_API_KEY": "canary-5f2b9"})
    assert "canary-5f2b9" not in repr(s) and "canary-5f2b9" not in str(s.api_key)
    assert Secret("a") == Secret("a") and Secret("a") != Secret("b")


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"STUDIO_AUTH": "basic"}, "STUDIO_AUTH"),
        ({"STUDIO_BASE_URL": "ftp://x"}, "STUDIO_BASE_URL"),
        ({"STUDIO_TIMEOUT": "soon"}, "STUDIO_TIMEOUT"),
        ({"STUDIO_MAX_REQUEST_MB": "-1"}, "greater than zero"),
        ({"STUDIO_WORKERS": "many"}, "STUDIO_WORKERS"),
    ],
)
def test_bad_settings_say_what_to_fix(env, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_settings(env)


def test_auth_modes_and_trailing_slash():
    s = load_settings({"STUDIO_AUTH": "GOOG", "STUDIO_BASE_URL": "http://127.0.0.1:9/"})
    assert s.auth == "goog" and s.base_url == "http://127.0.0.1:9"


def test_the_places_are_read_alone_and_as_load_settings_reads_them(tmp_path) -> None:
    """``studio doctor`` reads where things are without the rest of the settings (a broken endpoint must not
    stop it), and reads them exactly as every other command does."""
    from studio.domain.settings import load_places

    env = {
        "STUDIO_DATA_DIR": str(tmp_path),
        "STUDIO_DATABASE_URL": "  postgresql+psycopg://u:pw@db:5432/studio  ",
        "STUDIO_STORAGE_URL": "s3://bucket/prefix",
        "STUDIO_S3_ENDPOINT_URL": "http://127.0.0.1:9000/",
        "STUDIO_BASE_URL": "not a url",  # load_settings refuses this; the places do not care
    }
    places = load_places(env)
    assert places.data_dir == tmp_path and places.storage_url == "s3://bucket/prefix"
    assert places.database_url is not None and places.database_url.get() == env["STUDIO_DATABASE_URL"].strip()
    assert "pw" not in repr(places)  # the password never shows
    assert places.s3_endpoint_url == "http://127.0.0.1:9000"
    assert load_places({"STUDIO_DATABASE_URL": "   "}).database_url is None
    with pytest.raises(ConfigError, match="STUDIO_STORAGE_URL must be a folder or s3://"):
        load_places({"STUDIO_STORAGE_URL": "gs://bucket"})
