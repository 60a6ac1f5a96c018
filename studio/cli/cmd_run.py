"""`studio run`: start the studio in the browser."""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from pathlib import Path
from typing import Any

from studio.domain.errors import InputError, StudioError
from studio.domain.settings import Settings, load_settings

APP = Path(__file__).parents[1] / "app" / "main.py"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
#: The ``[auth]`` file ``studio run`` writes for ``st.login`` (STUDIO_LOGIN=oidc), mode 0600, in the data folder.
AUTH_FILE = "streamlit-auth.toml"

#: Security-relevant Streamlit options, passed explicitly so they hold from any working directory.
STREAMLIT_FLAGS = {
    "server.headless": "true",
    "server.enableCORS": "true",
    "server.enableXsrfProtection": "true",
    "server.maxUploadSize": "20",
    "server.fileWatcherType": "none",
    "browser.gatherUsageStats": "false",
    "client.showErrorDetails": "none",
    "client.toolbarMode": "minimal",
    "theme.base": "light",
    "theme.primaryColor": "#5b4bdb",
}


def add_parser(sub: Any) -> None:
    run = sub.add_parser("run", help="start the studio in the browser (127.0.0.1 by default)")
    run.add_argument("--port", type=int, default=8501)
    run.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; anything but 127.0.0.1 exposes the studio to your network",
    )
    run.add_argument(
        "--demo",
        action="store_true",
        help="offline demo: a built-in emulator renders images locally, no key needed",
    )
    run.add_argument(
        "--open",
        action="store_true",
        help="with STUDIO_LOGIN=none, allow a --host beyond this machine: anyone who reaches it spends the key",
    )


def _streamlit_secrets() -> list[Path]:
    """The secrets files Streamlit reads by default (yours, then the project's), where they exist: naming our
    own file in ``secrets.files`` replaces Streamlit's list, so these are named too."""
    found = [Path.home() / ".streamlit" / "secrets.toml", Path.cwd() / ".streamlit" / "secrets.toml"]
    return [path for path in dict.fromkeys(found) if path.is_file()]


def _auth_from_files(files: list[Path]) -> dict[str, Any]:
    """The ``[auth]`` table of the secrets files, later files winning (as Streamlit merges them)."""
    merged: dict[str, Any] = {}
    for path in files:
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8")).get("auth")
        except (OSError, tomllib.TOMLDecodeError):
            continue
        if isinstance(table, dict):
            merged.update(table)
    return merged


def auth_section(settings: Settings, existing: dict[str, Any]) -> dict[str, str]:
    """``[auth]`` for ``st.login`` from the STUDIO_OIDC_* settings, falling back to what a secrets file
    already holds. Raises InputError naming the first variable missing."""

    def secret(value: Any) -> str | None:
        return value.get() if value else None

    wanted = {
        "redirect_uri": (
            f"{settings.public_url}/oauth2callback" if settings.public_url else None,
            "STUDIO_PUBLIC_URL",
            "the address people open, like https://studio.example.com",
        ),
        "cookie_secret": (
            secret(settings.cookie_secret),
            "STUDIO_COOKIE_SECRET",
            "a long random string that signs the sign-in cookie",
        ),
        "client_id": (settings.oidc_client_id, "STUDIO_OIDC_CLIENT_ID", "the client id your provider gave"),
        "client_secret": (
            secret(settings.oidc_client_secret),
            "STUDIO_OIDC_CLIENT_SECRET",
            "the client secret your provider gave",
        ),
        "server_metadata_url": (
            f"{settings.oidc_issuer}/.well-known/openid-configuration" if settings.oidc_issuer else None,
            "STUDIO_OIDC_ISSUER",
            "your provider's issuer URL, like https://accounts.google.com",
        ),
    }
    section: dict[str, str] = {}
    for key, (value, variable, what) in wanted.items():
        value = value or existing.get(key)
        if not value:
            raise InputError(
                f"Sign-in is on (STUDIO_LOGIN=oidc) but {variable} is not set: set it to {what} "
                "(or fill in [auth] in .streamlit/secrets.toml)."
            )
        section[key] = str(value)
    return section


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped) + '"'


def write_auth_file(data_dir: Path, section: dict[str, str]) -> Path:
    """Write ``[auth]`` to a file only this user can read (0600) in the data folder; returns its path."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / AUTH_FILE
    text = "# Written by `studio run` from STUDIO_OIDC_* at each start; do not edit.\n[auth]\n"
    text += "".join(f"{key} = {_toml_string(value)}\n" for key, value in section.items())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an older file keeps its mode through O_CREAT
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def secrets_flags(settings: Settings) -> list[str]:
    """The ``--secrets.files`` flags for sign-in (STUDIO_LOGIN=oidc); none otherwise."""
    if settings.login != "oidc":
        return []
    existing = _streamlit_secrets()
    path = write_auth_file(settings.data_dir, auth_section(settings, _auth_from_files(existing)))
    return [f"--secrets.files={file}" for file in [*existing, path]]  # later files win: ours last


def run(args: argparse.Namespace) -> int:
    if args.demo:
        os.environ["STUDIO_DEMO"] = "1"  # the app's pages open their studio from the environment
    try:
        settings: Settings | None = load_settings()
    except StudioError:  # the page explains a bad setting (resources.studio_or_stop); sign-in counts as off
        settings = None
    team_mode = settings is not None and settings.team_mode
    exposed = args.host not in LOOPBACK
    if exposed and not team_mode and not args.open:
        print(
            f"studio: refusing to listen on {args.host} without sign-in: anyone who reaches it could use the "
            "studio and spend your key's credit. Turn sign-in on (STUDIO_LOGIN=oidc or proxy), or pass --open "
            "if that is what you want.",
            file=sys.stderr,
        )
        return 2
    extra = (
        secrets_flags(settings) if settings else []
    )  # InputError (exit 2) names a missing variable, before anything starts
    flags = {**STREAMLIT_FLAGS, "server.port": str(args.port), "server.address": args.host}
    if exposed and not team_mode:
        print(
            f"studio: listening on {args.host} without sign-in (--open): anyone who can reach this machine can "
            "use the studio and spend your key's credit.",
            file=sys.stderr,
        )
    # The server runs in this process, not a child: a stop signal reaches the process that holds the paid
    # calls, which waits for them and saves them before it exits (services.lifecycle). Imported here:
    # Streamlit is slow to import and only this command needs it.
    from studio.app import serve
    from studio.services import leases

    keeper = leases.adopt_in_background()  # adopts what dead processes left, before any page is opened
    try:
        return serve.run(["run", str(APP)] + [f"--{k}={v}" for k, v in flags.items()] + extra)
    finally:
        if keeper is not None:
            keeper.stop()
