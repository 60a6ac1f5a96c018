"""Studio's own small browser components (Streamlit Components v2, vanilla JS, no network).

The HTML/CSS/JS live in ``studio/ui/static/`` and are passed inline, so nothing is fetched at run
time and no build step exists. Components v2 run in the app page (not an iframe), which is what lets
the shortcut and the paste listener work on the whole page.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

STATIC = Path(__file__).parents[1] / "static"


def _asset(name: str) -> str | None:
    path = STATIC / name
    return path.read_text(encoding="utf-8") if path.exists() else None


def _declare(stem: str, html: str | None = None):
    return st.components.v2.component(
        f"studio_{stem}",
        html=html or _asset(f"{stem}.html"),
        css=_asset(f"{stem}.css"),
        js=_asset(f"{stem}.js"),
    )


PASTE_ZONE = (
    '<div class="zone">Paste an image with Ctrl+V (⌘V) anywhere on this page, or drop files here</div>'
)
_SHORTCUTS = _declare("shortcuts")
_PASTE = _declare("paste", PASTE_ZONE)
_SKETCH = _declare("sketch")
_VIEWER = _declare("viewer")


def data_url(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def shortcuts() -> None:
    """Ctrl/Cmd+Enter presses the button keyed ``gen_submit``."""
    _SHORTCUTS(key="gen_shortcuts", height=0)


def paste_zone(on_paste: Callable[[], None]) -> None:
    """Pasted/dropped files arrive as ``st.session_state['gen_paste']['pasted']`` in ``on_paste``."""
    _PASTE(key="gen_paste", on_pasted_change=on_paste)


def sketch(
    *, token: str, width: int, height: int, background: str | None, on_sketch: Callable[[], None]
) -> None:
    """The drawing board; ``on_sketch`` reads ``st.session_state['gen_sketch']['sketch']``."""
    _SKETCH(
        key="gen_sketch",
        data={"token": token, "width": width, "height": height, "background": background},
        on_sketch_change=on_sketch,
    )


def viewer(src: str, *, key: str) -> Any:
    _VIEWER(key=key, data={"src": src})
