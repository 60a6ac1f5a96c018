"""Compare 2-4 generations side by side at the same scale, with their settings diffed.

The images share one row of equal columns, so each is drawn at the same width; the table below has one
column per generation and lists only what differs (``GalleryService.differences``), with the cells that differ from
the first generation highlighted. Values are shown as plain strings (nothing is interpreted).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from studio.app.widgets import components
from studio.app.widgets import gallery_grid as gallery
from studio.app.widgets import organise_panel as organise
from studio.domain.errors import StudioError
from studio.services.gallery import GalleryService, GenerationRecord
from studio.services.session import StudioSession

HIGHLIGHT = "background-color: rgba(255, 189, 69, 0.35)"


def close() -> None:
    st.session_state.pop(organise.COMPARE, None)


def _value(value: Any) -> str:
    if value is None or value == [] or value == {}:
        return "—"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def diff_frame(records: list[GenerationRecord]) -> pd.DataFrame:
    rows: list[tuple[str, list[Any]]] = []
    for name, values in GalleryService.differences(
        records
    ):  # "model" is both a column and a setting: list it once
        if name not in {n for n, _ in rows}:
            rows.append((name, values))
    columns = {"Setting": [name for name, _ in rows]}
    for index, record in enumerate(records):
        columns[f"#{record.id}"] = [_value(values[index]) for _, values in rows]
    return pd.DataFrame(columns)


def _highlight(frame: pd.DataFrame) -> pd.DataFrame:
    """Styles: a cell is highlighted where it differs from the first generation's value."""
    first = frame.columns[1]
    styles = pd.DataFrame("", index=frame.index, columns=frame.columns)
    for column in frame.columns[2:]:
        styles[column] = [
            HIGHLIGHT if a != b else "" for a, b in zip(frame[column], frame[first], strict=True)
        ]
    return styles


def _image(studio: StudioSession, record: GenerationRecord) -> None:
    image = record.images[0] if record.images else None
    if image is not None and Path(image.path).exists():
        st.image(
            str(studio.gallery.preview(image)), width="stretch"
        )  # same scale: every preview is ≤ 2048 px
        st.caption(f"{image.width} × {image.height} px")
    else:
        components.placeholder(":material/hide_image:", components.status_label(record.status))


def show(studio: StudioSession, ids: list[int]) -> None:
    back, title = st.columns([1, 6], vertical_alignment="center")
    back.button(
        "Back", icon=":material/arrow_back:", key="hist_compare_back", on_click=close, width="stretch"
    )
    records = studio.gallery.records(ids)
    title.subheader(f"Comparing {len(records)} generations", anchor=False)
    try:
        frame = diff_frame(records)
    except StudioError as exc:
        st.warning(components.escape_md(str(exc)), icon=":material/compare:")
        return
    for column, record in zip(st.columns(len(records), gap="medium"), records, strict=True):
        with column, st.container(border=True):
            _image(studio, record)
            with st.container(horizontal=True, vertical_alignment="center"):
                components.status_badge(record.status)
                st.caption(f"#{record.id} · {components.escape_md(components.model_label(record.model))}")
            st.button(
                "Open",
                key=f"hist_compare_open_{record.id}",
                icon=":material/open_in_full:",
                on_click=_open,
                args=(record.id,),
            )
    st.subheader("What differs", anchor=False)
    keys = set().union(*(r.settings.keys() for r in records))
    same = len(keys - set(frame["Setting"]))
    st.caption(
        f"Only what differs is listed; highlighted cells differ from #{records[0].id}. "
        f"{same} other settings are the same in all."
    )
    st.dataframe(frame.style.apply(_highlight, axis=None), hide_index=True, width="stretch", key="hist_diff")


def _open(gen_id: int) -> None:
    close()
    gallery.select(gen_id)
