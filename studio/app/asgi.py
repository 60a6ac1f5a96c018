"""`studio run`'s entry: Streamlit as an ``st.App`` (``app/main.py``) with one route of the studio's own.

``/thumbs/<sha256>.jpg`` serves the stored JPEG thumbnail of an image in this studio's history (not in the
trash), content addressed (with sign-in on, only at an address a page signed: ``thumb_links``), with a year-long ``immutable`` cache in the browser only (``private``): the
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

from studio.app import resources, thumb_links
from studio.domain.errors import StudioError
from studio.domain.settings import load_settings

#: Set in this process once the route is mounted; the grid then uses URLs instead of inline thumbnails.
THUMB_ROUTE = "STUDIO_THUMB_ROUTE"
THUMBS_PATH = "/thumbs"
#: private: the browser keeps it, no shared cache does (a signed-in studio must not leak a team's images)
CACHE = "private, max-age=31536000, immutable"


def thumbnail(request: Request) -> Response:
    """One stored thumbnail by sha256 (sync: Starlette runs it in its thread pool, off the event loop). With
    sign-in on, only at an address a page signed (``thumb_links``), and cached no longer than it is good."""
    sha = str(request.path_params.get("sha", ""))
    cache = CACHE
    viewer = request.query_params.get("v") or ""
    if TEAM_MODE:
        left = thumb_links.seconds_left(
            sha, request.query_params.get("e"), request.query_params.get("s"), viewer
        )
        if left is None:
            return Response("Not found", status_code=404, media_type="text/plain")
        cache = f"private, max-age={left}"
    try:
        studio = resources.get_studio()
        path = studio.signed_thumbnail_file(sha, viewer) if TEAM_MODE else studio.gallery.thumbnail_file(sha)
    except StudioError:
        path = None
    if path is None:
        return Response("Not found", status_code=404, media_type="text/plain")
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": cache})


def _team_mode() -> bool:
    try:
        return load_settings().team_mode
    except StudioError:
        return False


#: With sign-in on, the route serves only addresses a page signed (``thumb_links``); where there is no shared
#: secret to sign with, it serves nothing and the grid sends thumbnails inline, inside the session's messages.
TEAM_MODE = _team_mode()
if TEAM_MODE and thumb_links.key() is None:
    os.environ.pop(THUMB_ROUTE, None)
else:
    os.environ[THUMB_ROUTE] = THUMBS_PATH
ROUTE = Route(THUMBS_PATH + "/{sha}.jpg", thumbnail, methods=["GET", "HEAD"])
app = st.App("main.py", routes=[ROUTE])
