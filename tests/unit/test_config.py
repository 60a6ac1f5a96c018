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
