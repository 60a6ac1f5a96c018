"""One paid action per intent: a second identical request within a few seconds is refused.

A double click, a held Ctrl+Enter or a click that lands while the page reruns each reach the script as
a fresh button press. ``first_time`` remembers the last request of each action (a fingerprint and when)
in the session, so the second identical press shows a toast instead of paying for the same images twice.
A changed prompt, setting or reference is a new fingerprint and goes through at once.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from typing import Any

import streamlit as st

from studio.domain.requests import GenerationRequest

WINDOW_S = 3.0
REFUSED = "Already sent — see the results below."
_KEY = "guard_last"


def fingerprint(*parts: Any) -> str:
    """sha256 over the parts as canonical JSON (anything not JSON-able becomes its ``str``)."""
    text = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def request_fingerprint(requests: GenerationRequest | Iterable[GenerationRequest]) -> str:
    """Prompt, model, every setting and the references' content hashes of one or more requests."""
    reqs = [requests] if isinstance(requests, GenerationRequest) else list(requests)
    return fingerprint(
        [
            [
                r.prompt,
                r.model,
                json.dumps(r.settings(), sort_keys=True, default=str),
                [ref.sha256 for ref in r.references],
            ]
            for r in reqs
        ]
    )


def first_time(action: str, print_: str, window_s: float = WINDOW_S) -> bool:
    """True (and remembered) unless the same ``action`` had the same fingerprint within ``window_s``."""
    seen: dict[str, tuple[str, float]] = st.session_state.setdefault(_KEY, {})
    now = time.monotonic()
    last = seen.get(action)
    if last is not None and last[0] == print_ and now - last[1] < window_s:
        return False
    seen[action] = (print_, now)
    return True


def forget(action: str) -> None:
    """The request failed before anything was paid for: let the same request be sent again at once."""
    st.session_state.get(_KEY, {}).pop(action, None)


def allow(action: str, print_: str, window_s: float = WINDOW_S) -> bool:
    """``first_time``, with the toast that says why nothing happened when it is refused."""
    if first_time(action, print_, window_s):
        return True
    st.toast(REFUSED, icon=":material/block:")
    return False
