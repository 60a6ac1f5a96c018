"""`studio run` and sign-in: the ``[auth]`` file for st.login (STUDIO_LOGIN=oidc), and --open.

The server itself is replaced by a recorder (``serve.run`` takes the Streamlit command line); everything
before it (settings, the secrets file, refusals) is the real command.
"""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest

from studio import cli

OIDC = {
    "STUDIO_LOGIN": "oidc",
    "STUDIO_OIDC_ISSUER": "http://127.0.0.1:9400/",
    "STUDIO_OIDC_CLIENT_ID": "studio",
    "STUDIO_OIDC_CLIENT_SECRET": "client-secret-value",
    "STUDIO_PUBLIC_URL": "https://studio.example.com/",
    "STUDIO_COOKIE_SECRET": "cookie-secret-value",
}


@pytest.fixture
def served(monkeypatch, tmp_path):
    """The Streamlit command lines `studio run` would have served (the server itself is not started)."""
    from studio.app import serve
    from studio.services import leases

    seen: list[list[str]] = []
    monkeypatch.setattr(serve, "run", lambda argv: seen.append(argv) or 0)
    monkeypatch.setattr(leases, "adopt_in_background", lambda: None)
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    return seen


def _secrets_files(argv: list[str]) -> list[Path]:
    return [Path(a.split("=", 1)[1]) for a in argv if a.startswith("--secrets.files=")]


def test_oidc_writes_the_auth_section_to_a_private_file(monkeypatch, served, tmp_path):
    for name, value in OIDC.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["run", "--port", "8611"]) == 0
    files = _secrets_files(served[0])
    assert files == [tmp_path / "data" / "streamlit-auth.toml"]
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert tomllib.loads(files[0].read_text())["auth"] == {
        "redirect_uri": "https://studio.example.com/oauth2callback",
        "cookie_secret": "cookie-secret-value",
        "client_id": "studio",
        "client_secret": "client-secret-value",
        "server_metadata_url": "http://127.0.0.1:9400/.well-known/openid-configuration",
    }
    assert "--server.enableXsrfProtection=true" in served[0]
    assert not any("secret-value" in arg for arg in served[0])  # secrets go in the file, not the command line


def test_an_older_auth_file_is_made_private_again(monkeypatch, served, tmp_path):
    for name, value in OIDC.items():
        monkeypatch.setenv(name, value)
    old = tmp_path / "data" / "streamlit-auth.toml"
    old.parent.mkdir(parents=True)
    old.write_text("[auth]\nclient_id = 'stale'\n")
    old.chmod(0o644)
    assert cli.main(["run"]) == 0
    assert stat.S_IMODE(old.stat().st_mode) == 0o600
    assert tomllib.loads(old.read_text())["auth"]["client_id"] == "studio"


def test_the_projects_secrets_file_is_still_read_and_fills_what_the_environment_leaves(
    monkeypatch, served, tmp_path
):
    for name, value in OIDC.items():
        if name != "STUDIO_OIDC_CLIENT_SECRET":
            monkeypatch.setenv(name, value)
    project = tmp_path / ".streamlit" / "secrets.toml"
    project.parent.mkdir()
    project.write_text(
        'STUDIO_API_KEY = "k"\n[auth]\nclient_secret = "from-the-file"\nclient_id = "file-id"\n'
    )
    assert cli.main(["run"]) == 0
    files = _secrets_files(served[0])
    assert files == [project, tmp_path / "data" / "streamlit-auth.toml"]  # ours last: it wins
    auth = tomllib.loads(files[1].read_text())["auth"]
    assert auth["client_secret"] == "from-the-file" and auth["client_id"] == "studio"  # the environment wins


@pytest.mark.parametrize("variable", list(OIDC)[1:])
def test_a_missing_oidc_setting_is_named_and_nothing_starts(monkeypatch, served, tmp_path, capsys, variable):
    for name, value in OIDC.items():
        if name != variable:
            monkeypatch.setenv(name, value)
    assert cli.main(["run"]) == 2
    err = capsys.readouterr().err
    assert f"{variable} is not set" in err and "Traceback" not in err
    assert served == [] and not (tmp_path / "data" / "streamlit-auth.toml").exists()


def test_without_sign_in_no_auth_file_is_written(served, tmp_path):
    assert cli.main(["run"]) == 0
    assert _secrets_files(served[0]) == [] and not (tmp_path / "data" / "streamlit-auth.toml").exists()


def test_beyond_loopback_without_sign_in_needs_open(served, capsys):
    assert cli.main(["run", "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert "anyone who reaches it" in err and "--open" in err
    assert served == []
    assert cli.main(["run", "--host", "0.0.0.0", "--open"]) == 0
    assert "--server.address=0.0.0.0" in served[0]
    assert "anyone who can reach this machine" in capsys.readouterr().err


def test_beyond_loopback_with_sign_in_needs_no_open(monkeypatch, served, capsys):
    monkeypatch.setenv("STUDIO_LOGIN", "proxy")
    monkeypatch.setenv("STUDIO_PROXY_SECRET", "s")
    assert cli.main(["run", "--host", "0.0.0.0"]) == 0
    assert "--server.address=0.0.0.0" in served[0] and capsys.readouterr().err == ""
