"""`studio run`: the Streamlit server, in the `studio run` process itself.

Streamlit's own SIGINT/SIGTERM handler stops the server; the process then stops politely
(``studio.lifecycle.drain``): it waits for the calls already sent, saves what they return and only then
exits. The demo emulator lives in the Studio, so it stays up until then.
"""

from __future__ import annotations

from streamlit.web import cli as streamlit_cli

from studio.services import lifecycle


def run(argv: list[str]) -> int:
    """``streamlit run …`` with ``argv`` (without the program name); returns the exit status."""
    try:
        streamlit_cli.main.main(args=argv, prog_name="streamlit", standalone_mode=False)
    finally:
        lifecycle.drain()
    return 0
