"""Sketch and annotate: draw on a blank page or over a tray image; the drawing joins the tray and
its instruction is appended to the prompt (both stored with the generation)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import streamlit as st

from studio.app.widgets import jscomponents, references
from studio.domain import composition as composer
from studio.domain.catalogue import ModelSpec
from studio.domain.errors import StudioError
from studio.domain.requests import Reference
from studio.imaging import images
from studio.services import uploads

BLANK = "blank"
BLANK_SIZE = (1024, 768)
CANVAS_MAX_SIDE = 1024


def _background(ref: Reference | None) -> tuple[str | None, int, int]:
    """The canvas backdrop as a data URL no larger than the canvas, and the canvas size."""
    if ref is None:
        return None, *BLANK_SIZE
    small = images.downscale_reference(ref, CANVAS_MAX_SIDE)
    return jscomponents.data_url(small.data, small.mime_type), small.width, small.height


def _on_sketch(spec: ModelSpec, append_instruction: Callable[[str], None]) -> None:
    payload = (st.session_state.get("gen_sketch") or {}).get("sketch") or {}
    count = len(st.session_state.get(references.SKETCHES) or []) + 1
    name = f"sketch-{count}.png"
    try:
        data = composer.decode_data_url(payload.get("png", ""), name)
        ref = uploads.prepare(data, name)
    except StudioError as exc:
        references._notify(str(exc))
        return
    instruction = " ".join(str(payload.get("instruction") or "").split())[:300]
    if references.add([ref], spec, what=f"Added {name} to the tray."):
        st.session_state.setdefault(references.SKETCHES, []).append(
            {"sha256": ref.sha256, "name": name, "instruction": instruction}
        )
        if instruction:
            append_instruction(instruction)


def section(spec: ModelSpec, append_instruction: Callable[[str], None]) -> None:
    tray = references.tray()
    options = [BLANK, *range(len(tray))]
    if st.session_state.get("gen_sketch_on") not in options:
        st.session_state["gen_sketch_on"] = BLANK
    choice = st.selectbox(
        "Draw on",
        options,
        key="gen_sketch_on",
        format_func=lambda o: (
            "A blank canvas" if o == BLANK else f"Tray image {o + 1}: {composer.display_name(tray[o])}"
        ),
    )
    ref = None if choice == BLANK else tray[choice]
    background, width, height = _background(ref)
    token = "blank" if ref is None else ref.sha256
    st.caption("Pen, arrow, colour and width; undo and clear. The instruction is appended to the prompt.")
    jscomponents.sketch(
        token=token,
        width=width,
        height=height,
        background=background,
        on_sketch=partial(_on_sketch, spec, append_instruction),
    )
