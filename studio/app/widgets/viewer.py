"""Full-screen viewer of the Generate page's results: zoom and pan, ← → to step, copy the prompt,
download (the stored original with its prompt and settings embedded), send the image to the reference tray
or to the Edit page (``edit_source_id``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import streamlit as st

from studio.app.widgets import components, jscomponents, references
from studio.domain import catalogue
from studio.domain.errors import StudioError
from studio.domain.requests import Reference
from studio.imaging import images
from studio.services import uploads
from studio.services.gallery import GenerationRecord, ImageRecord
from studio.services.session import StudioSession

INDEX = "gen_view_index"
OPEN = "gen_view_open"
#: the generation ids the viewer steps through (one run of the feed); unset: the newest batch
IDS = "gen_view_ids"
EDIT_PAGE = Path(__file__).parent.parent / "screens" / "edit.py"
#: Larger files are shown from a downscaled copy (the download is always the original).
INLINE_MAX_BYTES = 8 * 2**20
#: Data URLs of the last images shown, by sha256: a dialog rerun (zoom, a button) does not re-read the file.
SRC_CACHE = "gen_view_src"
SRC_CACHE_SIZE = 4


def viewable(record: GenerationRecord) -> list[ImageRecord]:
    """The final images of a generation whose file is still on disk."""
    return [image for image in record.images if Path(image.path).exists()]


def entries(studio: StudioSession, ids: Sequence[int]) -> list[tuple[GenerationRecord, ImageRecord]]:
    out: list[tuple[GenerationRecord, ImageRecord]] = []
    for gen_id in ids:
        record = studio.get(gen_id)
        if record is not None:
            out.extend((record, image) for image in viewable(record))
    return out


def request_open(index: int, ids: Sequence[int] | None = None) -> None:
    st.session_state[OPEN] = True
    st.session_state[INDEX] = index
    if ids is not None:
        st.session_state[IDS] = list(ids)


def _step(delta: int, count: int) -> None:
    st.session_state[INDEX] = (st.session_state.get(INDEX, 0) + delta) % max(1, count)


def _src(studio: StudioSession, image: ImageRecord) -> str:
    """The image's on-screen preview as a data URL, made once per image and kept for the dialog's reruns."""
    cache: dict[str, str] = st.session_state.setdefault(SRC_CACHE, {})
    if image.sha256 not in cache:
        while len(cache) >= SRC_CACHE_SIZE:
            cache.pop(next(iter(cache)))  # the oldest: a data URL is a few hundred KB
        cache[image.sha256] = _data_url(studio.gallery.preview(image), image)
    return cache[image.sha256]


def _data_url(path: Path, image: ImageRecord) -> str:
    data = path.read_bytes()
    mime = image.mime_type if path == Path(image.path) else "image/jpeg"  # a preview is always a JPEG
    if len(data) <= INLINE_MAX_BYTES:
        return jscomponents.data_url(data, mime)
    ref = Reference(data, mime, image.sha256, image.width, image.height)
    small = images.downscale_reference(ref, 2048)
    return jscomponents.data_url(small.data, small.mime_type)


def _current_spec():
    model = st.session_state.get("gen_model") or catalogue.DEFAULT_MODEL
    if model == "__custom__":
        model = (st.session_state.get("gen_custom_model") or "").strip() or catalogue.DEFAULT_MODEL
    return catalogue.lookup(model)


def to_tray(record_id: int, path: str, mime: str) -> None:
    try:
        ref = uploads.prepare(Path(path).read_bytes(), f"result-{record_id}.{mime.split('/')[-1]}")
    except (OSError, StudioError) as exc:
        st.session_state["gen_view_msg"] = ("warning", str(exc))
        return
    references.add([ref], _current_spec(), what=f"Result #{record_id} is in the reference tray.")
    notices = st.session_state.get(references.NOTICES) or []
    st.session_state["gen_view_msg"] = notices.pop() if notices else ("success", "Added.")


def _to_edit(record_id: int) -> None:
    st.session_state["edit_source_id"] = record_id
    st.session_state["gen_view_go_edit"] = True


@st.dialog("Result", width="large", on_dismiss="rerun")
def show(studio: StudioSession, ids: Sequence[int]) -> None:
    items = entries(studio, ids)
    if not items:
        st.info("No image to show.")
        return
    if st.session_state.pop("gen_view_go_edit", False):
        st.switch_page("screens/edit.py")
    index = st.session_state.get(INDEX, 0) % len(items)
    record, image = items[index]
    prev, title, nxt = st.columns([1, 4, 1], vertical_alignment="center")
    prev.button(
        "Previous",
        key="gen_view_prev",
        icon=":material/chevron_left:",
        width="stretch",
        disabled=len(items) < 2,
        on_click=_step,
        args=(-1, len(items)),
    )
    title.markdown(
        f"**{index + 1} of {len(items)}** · #{record.id} · {image.width} × {image.height} px",
        text_alignment="center",
    )
    nxt.button(
        "Next",
        key="gen_view_next",
        icon=":material/chevron_right:",
        width="stretch",
        disabled=len(items) < 2,
        on_click=_step,
        args=(1, len(items)),
    )
    jscomponents.viewer(_src(studio, image), key="gen_viewer")
    st.code(record.prompt or " ", language=None, wrap_lines=True)
    message = st.session_state.pop("gen_view_msg", None)
    if message:
        (st.success if message[0] == "success" else st.warning)(components.escape_md(message[1]))
    left, middle, right = st.columns(3)
    components.download_button(record, image, key="gen_view_dl", where=left)
    middle.button(
        "Use as reference",
        key="gen_view_ref",
        icon=":material/add_photo_alternate:",
        on_click=to_tray,
        args=(record.id, str(image.path), image.mime_type),
    )
    if EDIT_PAGE.exists():
        right.button(
            "Open in Edit", key="gen_view_edit", icon=":material/forum:", on_click=_to_edit, args=(record.id,)
        )
