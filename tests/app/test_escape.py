"""User, model and server text shown through Markdown elements renders literally: no links, no images, no HTML."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from studio.app.widgets.components import escape_md

HOSTILE = (
    "see https://evil.example/x?a=1 and www.evil.example, [click](javascript:alert(1)) "
    "![px](http://127.0.0.1:9/t.png) <img src=x onerror=alert(1)> **bold** `tick`"
)


def test_addresses_become_inline_code_and_markup_is_escaped():
    assert escape_md(HOSTILE) == (
        "see `https://evil.example/x?a=1` and `www.evil.example`\\, \\[click\\]\\(javascript\\:alert\\(1\\)\\) "
        "\\!\\[px\\]\\(`http://127.0.0.1:9/t.png`\\) \\<img src\\=x onerror\\=alert\\(1\\)\\> "
        "\\*\\*bold\\*\\* \\`tick\\`"
    )
    assert escape_md("a `tick` in https://x.example/`y") == "a \\`tick\\` in `https://x.example/%60y`"


def test_rendered_error_keeps_the_text_and_makes_nothing_live():
    at = AppTest.from_string(
        "import streamlit as st\n"
        "from studio.app.widgets.components import escape_md\n"
        f"st.error(escape_md({HOSTILE!r}))\n",
        default_timeout=30,
    ).run()
    assert not at.exception
    body = at.error[0].value
    assert body == escape_md(HOSTILE)  # shown as given: the escapes and code spans reach the page intact
    assert "](http" not in body and "](javascript" not in body  # no Markdown link or image survives
