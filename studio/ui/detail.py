"""One generation in full: images, prompt, every setting, references, replies, usage and cost.

``show`` returns the action the designer chose ("rerun" or "remix") so the view makes the service
call; this module only renders.
"""

from __future__ import annotations

import streamlit as st

from studio.store import GenerationRecord
from studio.ui import components, gallery


def show(record: GenerationRecord) -> str | None:
    action = _header(record)
    left, right = st.columns([3, 2], gap="large")
    with left:
        _images(record)
    with right:
        _summary(record)
    _settings(record)
    _references(record)
    _replies(record)
    return action


def _header(record: GenerationRecord) -> str | None:
    back, title, rerun, remix = st.columns([1, 4, 1, 1], vertical_alignment="center")
    back.button("Back", icon=":material/arrow_back:", key="hist_back", on_click=gallery.select,
                args=(None,), width="stretch")
    with title:
        st.subheader(f"Generation #{record.id}", anchor=False)
    pressed_rerun = rerun.button("Re-run", icon=":material/replay:", key="hist_rerun", width="stretch",
                                 help="Send exactly the same request again.")
    pressed_remix = remix.button("Remix", icon=":material/tune:", key="hist_remix", type="primary",
                                 width="stretch", help="Open this request in Generate to change it.")
    return "rerun" if pressed_rerun else "remix" if pressed_remix else None


def _images(record: GenerationRecord) -> None:
    if record.images:
        components.image_viewer(record, key=f"hist_detail_{record.id}")
    else:
        label = components.status_label(record.status)
        components.placeholder(":material/hide_image:", f"No image · {label}")
    if record.thought_images:
        with st.expander(f"Interim thought images ({len(record.thought_images)})", icon=":material/psychology:"):
            columns = st.columns(3)
            for index, image in enumerate(record.thought_images):
                with columns[index % 3]:
                    components.thumbnail(image)


def _summary(record: GenerationRecord) -> None:
    components.status_badge(record.status)
    components.error_box(record)
    st.caption("Prompt")
    st.code(record.prompt or "(no prompt)", language=None, wrap_lines=True)
    st.markdown(components.run_line(record))
    components.key_value_table([
        ("Model", record.model),
        ("Created", f"{record.created_at:%Y-%m-%d %H:%M:%S} UTC"),
        ("Finish reason", record.finish_reason),
        ("Block reason", record.block_reason),
        ("Error kind", record.error_kind),
        ("Parent", f"#{record.parent_id}" if record.parent_id else None),
    ])


def _settings(record: GenerationRecord) -> None:
    st.subheader("Settings", anchor=False)
    components.settings_table(record.settings)
    if record.usage:
        with st.expander("Token usage", icon=":material/data_usage:"):
            components.key_value_table(_flatten(record.usage))


def _flatten(usage: dict, prefix: str = "") -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = []
    for name, value in usage.items():
        if isinstance(value, dict):
            rows += _flatten(value, f"{prefix}{name}.")
        else:
            rows.append((f"{prefix}{name}", value))
    return rows


def _references(record: GenerationRecord) -> None:
    if not record.references:
        return
    st.subheader(f"References ({len(record.references)})", anchor=False)
    columns = st.columns(6)
    for index, image in enumerate(record.references):
        with columns[index % 6]:
            components.thumbnail(image)
            if image.name:
                st.text(components.excerpt(image.name, 40))


def _replies(record: GenerationRecord) -> None:
    if record.text:
        st.subheader("Text reply", anchor=False)
        st.text(record.text)
    if record.thoughts_text:
        with st.expander("Thoughts", icon=":material/psychology:"):
            st.text(record.thoughts_text)
