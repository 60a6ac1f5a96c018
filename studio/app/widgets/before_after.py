"""A before/after slider for one edit turn: the image it started from over the image it made, split at a
handle the designer drags (Streamlit Components v2, in the page's DOM; vanilla JS, no network).

Both images are sent as JPEG data URLs at most ``SIDE`` px on their long side (never the full PNG: a 4K
original is tens of MB as base64), kept per image in the session so a rerun does not re-read the files.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from studio.app.widgets import jscomponents
from studio.domain.errors import StudioError
from studio.imaging import images
from studio.services.gallery import ImageRecord
from studio.services.session import StudioSession

STATIC = Path(__file__).parents[1] / "static"
SIDE = 1280  # px: sharp at the page's widest column, a few hundred KB as a JPEG
CACHE = "edit_ba_src"  # sha256 -> data URL of the last images shown
CACHE_SIZE = 6


def _asset(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


_SLIDER = st.components.v2.component(
    "studio_before_after",
    html=_asset("before_after.html"),
    css=_asset("before_after.css"),
    js=_asset("before_after.js"),
)


def jpeg_data_url(data: bytes) -> str:
    """``data`` (PNG, JPEG, WebP) as a JPEG data URL at most ``SIDE`` px on its long side."""
    return jscomponents.data_url(images.make_thumbnail(data, SIDE), "image/jpeg")


def _src(studio: StudioSession, image: ImageRecord) -> str:
    cache: dict[str, str] = st.session_state.setdefault(CACHE, {})
    if image.sha256 not in cache:
        while len(cache) >= CACHE_SIZE:
            cache.pop(next(iter(cache)))
        cache[image.sha256] = jpeg_data_url(studio.gallery.preview(image).read_bytes())
    return cache[image.sha256]


def slider(studio: StudioSession, before: ImageRecord, after: ImageRecord, *, key: str) -> None:
    """The two images, ``before`` clipped over ``after``; the frame takes the ``after`` image's shape."""
    if not (Path(before.path).exists() and Path(after.path).exists()):
        st.caption(
            "One of the two images is missing from the data directory, so there is nothing to compare."
        )
        return
    try:
        data = {"before": _src(studio, before), "after": _src(studio, after)}
    except (StudioError, OSError):
        st.caption("One of the two images could not be read, so there is nothing to compare.")
        return
    _SLIDER(key=key, data={**data, "ratio": after.width / max(1, after.height)})
