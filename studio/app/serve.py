"""`studio run`: the Streamlit server, in the `studio run` process itself.

The server is ``app/asgi.py``'s ``st.App`` (Streamlit's pages plus the studio's ``/thumbs`` route), served
by uvicorn. Its handler stops the server on SIGINT/SIGTERM (one that comes before uvicorn has taken the
signals over, while the studio starts, ends the start); the process then stops politely
(``studio.lifecycle.drain``): it waits for the calls already sent, saves what they return and only then
exits. The demo emulator lives in the Studio, so it stays up until then.
"""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType

from streamlit.web import cli as streamlit_cli

from studio.services import lifecycle

MAIN = Path(__file__).parent / "main.py"
ASGI = Path(__file__).parent / "asgi.py"


#: A stop signal that came before the server had taken the stop signals over (while it starts).
_EARLY: list[int] = []


def _noted(signum: int, frame: FrameType | None) -> None:
    """Uvicorn re-raises the signal that stopped it once it has stopped, under the handler that was there
    before it: this one, which swallows it, so the signal does not end the process before ``drain`` has saved
    the work. A signal that comes before uvicorn has installed its own handlers (while the studio starts)
    stops the start: the interruption unwinds to ``run``, which drains and exits as a signal would."""
    if (
        frame is not None
        and frame.f_code.co_name == "capture_signals"
        and "uvicorn" in frame.f_code.co_filename
    ):
        return
    _EARLY.append(signum)
    raise KeyboardInterrupt


def run(argv: list[str]) -> int:
    """``streamlit run …`` with ``argv`` (without the program name); returns the exit status.

    ``app/main.py`` is served through ``app/asgi.py``, which mounts it with the studio's own routes."""
    argv = [str(ASGI) if Path(arg) == MAIN else arg for arg in argv]
    _EARLY.clear()
    previous = {signum: signal.signal(signum, _noted) for signum in lifecycle.STOP_SIGNALS}
    status = 0
    try:
        streamlit_cli.main.main(args=argv, prog_name="streamlit", standalone_mode=False)
    except BaseException:  # click turns the KeyboardInterrupt into its Abort: whatever the early stop became
        if not _EARLY:
            raise
        status = 128 + _EARLY[0]
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        lifecycle.drain()
    return status
