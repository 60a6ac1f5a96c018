"""Signed thumbnail addresses for a studio with sign-in (``STUDIO_LOGIN`` ``oidc`` or ``proxy``).

Without sign-in the ``/thumbs/<sha256>.jpg`` route (``app/asgi.py``) serves any live thumbnail to whoever asks:
one person on loopback. With sign-in it cannot tell who asks, so it serves only addresses a page signed for a
viewer it had let see the image: ``?e=<expiry>&v=<viewer's address>&s=<HMAC of the three>``. The route serves
it only while that viewer is an enabled member (read again every 30 s, as a session is), so an address stops
working within a minute of an admin disabling the person it was made for. A signature is good for 5 to
10 minutes (an address stays the same within a 5-minute window, so the browser's cache still answers reruns),
and its key comes from the secret every process of the team already shares (``STUDIO_COOKIE_SECRET``, the
``[auth]`` cookie secret, or ``STUDIO_PROXY_SECRET``), so any process behind the proxy can check it. Without
such a secret nothing is signed and thumbnails travel inside the signed-in session, as before.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import time
from urllib.parse import quote

from studio.domain.errors import StudioError
from studio.domain.settings import Settings, load_settings

WINDOW_S = 300
_SIG_HEX = 32  # 128 bits of HMAC-SHA256


def _material(settings: Settings) -> bytes | None:
    for secret in (settings.cookie_secret, settings.proxy_secret):
        if secret:
            return secret.get().encode()
    try:  # the cookie secret may live only in .streamlit/secrets.toml's [auth]
        import streamlit as st

        value = st.secrets.get("auth", {}).get("cookie_secret")
    except Exception:  # noqa: BLE001 - no secrets file: nothing to sign with
        value = None
    return str(value).encode() if value else None


def key() -> bytes | None:
    """This team's signing key, or None (no sign-in: nothing to sign; no shared secret: nothing signed)."""
    return _key(*(os.environ.get(name, "") for name in _KEY_ENV))


#: What the key depends on: read on every call (cheap), the rest only when one of these changes.
_KEY_ENV = ("STUDIO_LOGIN", "STUDIO_COOKIE_SECRET", "STUDIO_PROXY_SECRET", "STUDIO_DATA_DIR")


@functools.lru_cache(maxsize=8)
def _key(*_env: str) -> bytes | None:
    try:
        settings = load_settings()
    except StudioError:
        return None
    if not settings.team_mode:
        return None
    material = _material(settings)
    return hashlib.sha256(b"studio thumbnail addresses\0" + material).digest() if material else None


def _signature(secret: bytes, sha256: str, expires: int, viewer: str) -> str:
    message = f"{sha256}.{expires}.{viewer}".encode()  # "." is in no sha256 or expiry: the parts cannot shift
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:_SIG_HEX]


def query(sha256: str, viewer: str, *, now: float | None = None) -> str:
    """The query that lets the route serve ``sha256``'s thumbnail to ``viewer`` (an email) for the next 5 to
    10 minutes ("" when nothing is signed)."""
    secret = key()
    if secret is None:
        return ""
    expires = (int(time.time() if now is None else now) // WINDOW_S + 2) * WINDOW_S
    return f"e={expires}&v={quote(viewer, safe='@')}&s={_signature(secret, sha256, expires, viewer)}"


def seconds_left(
    sha256: str, expires: str | None, signature: str | None, viewer: str | None, *, now: float | None = None
) -> int | None:
    """How long a signed address stays good, or None when it is not one (tampered, expired, unsigned, or
    signed for another viewer)."""
    secret = key()
    if secret is None or not expires or not signature or not viewer or not expires.isdigit():
        return None
    left = int(expires) - int(time.time() if now is None else now)
    if not 0 < left <= 2 * WINDOW_S:
        return None
    if not hmac.compare_digest(_signature(secret, sha256, int(expires), viewer), signature):
        return None
    return left
