"""`studio run`'s entry: Streamlit as an ``st.App`` (``app/main.py``) with one route of the studio's own.

``/thumbs/<sha256>.jpg`` serves the stored JPEG thumbnail of an image in this studio's history (not in the
trash), content addressed (only without sign-in: ``STUDIO_LOGIN=none``), with a year-long ``immutable`` cache in the browser only (``private``): the
History grid points ``<img>`` tags at it, so a thumbnail crosses the network once per browser, never inside
a script run's messages. The route takes 64 lowercase hex
digits only (no path, no traversal) and answers 404 for anything the studio does not hold.

Streamlit discovers ``app`` when ``streamlit run`` is given this file (``serve.run`` does so). Under AppTest,
or ``streamlit run app/main.py``, the route does not exist and the grid falls back to inline thumbnails
(``widgets/tiles.py`` checks ``THUMB_ROUTE``).
"""

from __future__ import annotations

import os

import streamlit as st
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from studio.app import resources
from studio.domain.errors import StudioError
from studio.domain.settings import load_settings

#: Set in this process once the route is mounted; the grid then uses URLs instead of inline thumbnails.
THUMB_ROUTE = "STUDIO_THUMB_ROUTE"
THUMBS_PATH = "/thumbs"
#: private: the browser keeps it, no shared cache does (a signed-in studio must not leak a team's images)
CACHE = "private, max-age=31536000, immutable"


def thumbnail(request: Request) -> Response:
    """One stored thumbnail by sha256 (sync: Starlette runs it in its thread pool, off the event loop)."""
    sha = str(request.path_params.get("sha", ""))
    try:
        path = None if TEAM_MODE else resources.get_studio().gallery.thumbnail_file(sha)
    except StudioError:
        path = None
    if path is None:
        return Response("Not found", status_code=404, media_type="text/plain")
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": CACHE})


def _team_mode() -> bool:
    try:
        return load_settings().team_mode
    except StudioError:
        return False


#: With sign-in on, the route serves nothing (it cannot tell who asks) and the grid sends thumbnails inline,
#: inside the signed-in session's own messages.
TEAM_MODE = _team_mode()
if TEAM_MODE:
    os.environ.pop(THUMB_ROUTE, None)
else:
    os.environ[THUMB_ROUTE] = THUMBS_PATH
ROUTE = Route(THUMBS_PATH + "/{sha}.jpg", thumbnail, methods=["GET", "HEAD"])
app = st.App("main.py", routes=[ROUTE])
