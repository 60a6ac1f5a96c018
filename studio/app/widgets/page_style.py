"""The Generate page's layout rules (``static/generate.css``), applied to the whole page.

A Components v2 component with ``isolate_styles=False`` puts its CSS in the page (no shadow root) and
draws nothing, so no raw HTML element is rendered."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

CSS = Path(__file__).parents[1] / "static" / "generate.css"
_STYLE = st.components.v2.component(
    "studio_generate_style",
    html="<span hidden></span>",
    css=CSS.read_text(encoding="utf-8"),
    isolate_styles=False,
)


def generate_layout() -> None:
    _STYLE(key="gen_style", height=0)
