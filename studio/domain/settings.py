"""Settings from the environment (``STUDIO_*``), with ``.streamlit/secrets.toml`` as a fallback for the key.

Six variables do not justify pydantic-settings; a frozen dataclass read once keeps the domain free of
Streamlit and trivially testable (tests set env vars and call ``load_settings()``).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from studio.domain.errors import ConfigError

DEFAULT_BASE_URL = "https://www.kkiai.com"  # the relay the project was specified from
AUTH_MODES = ("bearer", "goog", "query")
#: Timeouts sized for 4K images (docs/reliability.md, "Timeouts"): connecting is quick, generating is not.
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 180.0
WRITE_TIMEOUT_S = 60.0
OVERALL_TIMEOUT_S = 240.0
#: Common relays (new-api) reject request bodies above 32 MB.
MAX_REQUEST_MB = 32.0


class Secret:
    """Holds the API key; its repr and str never show it, so it cannot leak through logging."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "studio"


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=default_data_dir)
    base_url: str = DEFAULT_BASE_URL
    auth: str = "bearer"
    api_key: Secret | None = None
    key_source: str = "none"  # "env" | "secrets.toml" | "demo" | "none"
    demo: bool = False
    text_model: str = "gemini-2.5-flash"
    max_request_mb: float = MAX_REQUEST_MB
    connect_timeout: float = CONNECT_TIMEOUT_S
    read_timeout: float = READ_TIMEOUT_S
    write_timeout: float = WRITE_TIMEOUT_S
    overall_timeout: float = OVERALL_TIMEOUT_S
    max_retries: int = 2
    workers: int = 8
    #: Team storage (issue 13). None: the SQLite file and the folders in ``data_dir``.
    #: The database URL may carry a password, so it is a Secret (its repr never shows it).
    database_url: Secret | None = None
    storage_url: str | None = None  # a folder, or s3://bucket/prefix
    s3_endpoint_url: str | None = None  # S3-compatible stores (R2, MinIO, GCS interoperability); None: AWS
    #: Team accounts (issue 14). "none": one person on loopback, who may do everything.
    login: str = "none"  # "none" | "oidc" | "proxy"
    oidc_issuer: str | None = None  # discovery: {issuer}/.well-known/openid-configuration
    oidc_client_id: str | None = None
    oidc_client_secret: Secret | None = None
    public_url: str | None = None  # the redirect URI is {public_url}/oauth2callback
    cookie_secret: Secret | None = None
    login_header: str = "X-Forwarded-Email"  # proxy mode: the signed-in person's email
    proxy_secret: Secret | None = None  # proxy mode: the shared secret the proxy adds
    proxy_secret_header: str = "X-Studio-Proxy-Secret"  # ... in this header
    allowed_domains: tuple[str, ...] = ()  # people of these email domains join as designers
    default_budget: float | None = None  # their monthly budget (USD); None: no personal cap
    team_budget: float | None = None  # the whole team's monthly cap (USD); None: no cap
    user: str | None = None  # STUDIO_USER: whom a team-mode command acts for

    @property
    def db_path(self) -> Path:
        return self.data_dir / "studio.db"

    @property
    def has_key(self) -> bool:
        return bool(self.api_key)

    @property
    def team_mode(self) -> bool:
        """Sign-in is on: every caller is a named member (or is refused)."""
        return self.login != "none"

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _secrets_key(path: Path) -> str | None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    for name in ("STUDIO_API_KEY", "api_key", "GEMINI_API_KEY"):
        value = data.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds or megabytes, not {raw!r}.") from None
    if value <= 0:
        raise ConfigError(f"{name} must be greater than zero.")
    return value


@dataclass(frozen=True)
class Places:
    """Where a studio keeps things, read on their own: ``studio doctor`` must run when another setting (the
    endpoint, sign-in) is broken, and reads these exactly as ``load_settings`` does."""

    data_dir: Path
    database_url: Secret | None  # its password is never shown
    storage_url: str | None
    s3_endpoint_url: str | None


def load_places(env: dict[str, str] | None = None) -> Places:
    """The data folder, database, storage and S3 endpoint from ``env`` (default: os.environ); a ConfigError
    with a fix-it sentence for a malformed database or storage URL, as ``load_settings`` gives."""
    env = dict(os.environ if env is None else env)
    return Places(
        data_dir=_data_dir(env),
        database_url=_database_url(env),
        storage_url=_storage_url(env),
        s3_endpoint_url=(env.get("STUDIO_S3_ENDPOINT_URL") or "").strip().rstrip("/") or None,
    )


def _data_dir(env: dict[str, str]) -> Path:
    return Path(env["STUDIO_DATA_DIR"]).expanduser() if env.get("STUDIO_DATA_DIR") else default_data_dir()


def load_settings(env: dict[str, str] | None = None, *, secrets_file: Path | None = None) -> Settings:
    """Read settings from ``env`` (default: os.environ). Raises ConfigError with a fix-it sentence."""
    env = dict(os.environ if env is None else env)
    auth = env.get("STUDIO_AUTH", "bearer").strip().lower() or "bearer"
    if auth not in AUTH_MODES:
        raise ConfigError(f"STUDIO_AUTH must be one of {', '.join(AUTH_MODES)}, not {auth!r}.")
    base_url = (env.get("STUDIO_BASE_URL") or DEFAULT_BASE_URL).strip().rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"STUDIO_BASE_URL must start with http:// or https:// (got {base_url!r}).")
    key, source = env.get("STUDIO_API_KEY", "").strip(), "env"
    if not key:
        secrets_file = secrets_file or Path.cwd() / ".streamlit" / "secrets.toml"
        key, source = _secrets_key(secrets_file) or "", "secrets.toml"
    demo = env.get("STUDIO_DEMO", "").strip().lower() in ("1", "true", "yes", "on")
    data_dir = _data_dir(env)
    try:
        workers = int(env.get("STUDIO_WORKERS", "8"))
    except ValueError:
        raise ConfigError("STUDIO_WORKERS must be a whole number.") from None
    return Settings(
        data_dir=data_dir,
        base_url=base_url,
        auth=auth,
        api_key=Secret(key) if key else None,
        key_source=source if key else "none",
        demo=demo,
        text_model=env.get("STUDIO_TEXT_MODEL", "gemini-2.5-flash").strip() or "gemini-2.5-flash",
        max_request_mb=_float(env, "STUDIO_MAX_REQUEST_MB", MAX_REQUEST_MB),
        connect_timeout=_float(env, "STUDIO_CONNECT_TIMEOUT", CONNECT_TIMEOUT_S),
        read_timeout=_float(env, "STUDIO_READ_TIMEOUT", READ_TIMEOUT_S),
        overall_timeout=_float(env, "STUDIO_TIMEOUT", OVERALL_TIMEOUT_S),
        workers=max(1, min(workers, 16)),
        database_url=_database_url(env),
        storage_url=_storage_url(env),
        s3_endpoint_url=(env.get("STUDIO_S3_ENDPOINT_URL") or "").strip().rstrip("/") or None,
        **_team(env),
    )


def _text(env: dict[str, str], name: str) -> str | None:
    return (env.get(name) or "").strip() or None


def _secret(env: dict[str, str], name: str) -> Secret | None:
    value = _text(env, name)
    return Secret(value) if value else None


def _usd(env: dict[str, str], name: str) -> float | None:
    raw = _text(env, name)
    if raw is None:
        return None
    try:
        value = float(raw.lstrip("$"))
    except ValueError:
        raise ConfigError(f"{name} must be a number of US dollars, like 20 or 12.50, not {raw!r}.") from None
    if value != value or value < 0:
        raise ConfigError(f"{name} must be zero or more US dollars.")
    return value


def _team(env: dict[str, str]) -> dict[str, Any]:
    """The team-accounts settings (issue 14): sign-in mode, provider, proxy header, domains, budgets."""
    login = (_text(env, "STUDIO_LOGIN") or "none").lower()
    if login not in ("none", "oidc", "proxy"):
        raise ConfigError(f"STUDIO_LOGIN must be none, oidc or proxy, not {login!r}.")
    domains = tuple(
        d.strip().lower().lstrip("@")
        for d in (env.get("STUDIO_ALLOWED_DOMAINS") or "").split(",")
        if d.strip()
    )
    public_url = _text(env, "STUDIO_PUBLIC_URL")
    if public_url and not public_url.startswith(("http://", "https://")):
        raise ConfigError(f"STUDIO_PUBLIC_URL must start with http:// or https:// (got {public_url!r}).")
    return {
        "login": login,
        "oidc_issuer": (_text(env, "STUDIO_OIDC_ISSUER") or "").rstrip("/") or None,
        "oidc_client_id": _text(env, "STUDIO_OIDC_CLIENT_ID"),
        "oidc_client_secret": _secret(env, "STUDIO_OIDC_CLIENT_SECRET"),
        "public_url": public_url.rstrip("/") if public_url else None,
        "cookie_secret": _secret(env, "STUDIO_COOKIE_SECRET"),
        "login_header": _text(env, "STUDIO_LOGIN_HEADER") or "X-Forwarded-Email",
        "proxy_secret": _secret(env, "STUDIO_PROXY_SECRET"),
        "proxy_secret_header": _text(env, "STUDIO_PROXY_SECRET_HEADER") or "X-Studio-Proxy-Secret",
        "allowed_domains": domains,
        "default_budget": _usd(env, "STUDIO_DEFAULT_BUDGET"),
        "team_budget": _usd(env, "STUDIO_TEAM_BUDGET"),
        "user": (_text(env, "STUDIO_USER") or "").lower() or None,
    }


def _database_url(env: dict[str, str]) -> Secret | None:
    raw = (env.get("STUDIO_DATABASE_URL") or "").strip()
    if not raw:
        return None
    if not raw.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
        raise ConfigError(
            "STUDIO_DATABASE_URL must be a SQLAlchemy URL starting with postgresql+psycopg:// (a team's "
            "PostgreSQL) or sqlite:/// (a file); leave it unset for the SQLite file in STUDIO_DATA_DIR."
        )
    return Secret(raw)


def _storage_url(env: dict[str, str]) -> str | None:
    raw = (env.get("STUDIO_STORAGE_URL") or "").strip()
    if not raw:
        return None
    if "://" in raw and not raw.startswith(("s3://", "file://")):
        raise ConfigError(
            f"STUDIO_STORAGE_URL must be a folder or s3://bucket/prefix, not {raw.split('://')[0]}://…"
        )
    if raw.startswith("s3://") and not raw[len("s3://") :].split("/")[0]:
        raise ConfigError(
            "STUDIO_STORAGE_URL names no bucket: write it as s3://bucket or s3://bucket/prefix."
        )
    return raw
