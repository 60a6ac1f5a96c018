"""Library: prompt templates with {variables}, style presets, and templates made from past prompts."""

from __future__ import annotations

import streamlit as st

from studio.app import resources
from studio.app.widgets import components
from studio.domain import catalogue
from studio.domain.errors import StudioError
from studio.services import templates as library
from studio.services.templates import TemplateRecord

studio = resources.session_or_stop()
components.page_header(
    "Library", "Templates with {variables}, style presets, and prompts worth keeping.", demo=studio.is_demo
)


def _tags(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _guard(fn, *args, **kwargs) -> bool:
    try:
        fn(*args, **kwargs)
    except StudioError as exc:
        st.error(components.escape_md(str(exc)), icon=":material/error:")
        return False
    return True


def _editor(kind: str, record: TemplateRecord | None = None) -> None:
    """A form that creates (record None) or updates a template/preset."""
    key = f"lib_{kind}_{record.id if record else 'new'}"
    with st.form(key, clear_on_submit=record is None, border=record is None):
        name = st.text_input("Name", value=record.name if record else "", key=f"{key}_name")
        body = st.text_area(
            "Text" if kind == "preset" else "Template (use {variable} for blanks)",
            value=record.body if record else "",
            key=f"{key}_body",
            height=90,
        )
        tags = st.text_input(
            "Tags (comma-separated)", value=", ".join(record.tags) if record else "", key=f"{key}_tags"
        )
        notes = st.text_input("Notes", value=record.notes if record else "", key=f"{key}_notes")
        if st.form_submit_button(
            "Save" if record else f"Add {kind}", icon=":material/save:", key=f"{key}_save"
        ):
            if _guard(
                studio.templates.save,
                name,
                body,
                tags=_tags(tags),
                notes=notes,
                kind=kind,
                template_id=record.id if record else None,
            ):
                st.toast(f"Saved “{components.escape_md(name.strip())}”.", icon=":material/check:")
                st.rerun()


def _use(record: TemplateRecord, presets: list[TemplateRecord]) -> None:
    names = library.variables(record.body)
    with st.form(f"lib_use_{record.id}", border=False):
        values = {
            n: st.text_input(f"{{{components.escape_md(n)}}}", key=f"lib_use_{record.id}_{n}") for n in names
        }
        chosen = st.multiselect(
            "Style presets",
            [p.id for p in presets],
            key=f"lib_use_{record.id}_presets",
            format_func=lambda i: next(p.name for p in presets if p.id == i),
        )
        model = st.selectbox(
            "Model",
            list(catalogue.MODELS),
            index=list(catalogue.MODELS).index(catalogue.DEFAULT_MODEL),  # the same default as Generate
            key=f"lib_use_{record.id}_model",
            format_func=components.model_label,
        )
        if st.form_submit_button(
            "Send to Generate", icon=":material/send:", type="primary", key=f"lib_use_{record.id}_send"
        ):
            try:
                req = library.request_from(record, values, model, [p for p in presets if p.id in chosen])
            except StudioError as exc:
                st.error(components.escape_md(str(exc)), icon=":material/error:")
                return
            st.session_state["remix"] = req
            st.switch_page("screens/generate.py")


def _item(record: TemplateRecord, presets: list[TemplateRecord]) -> None:
    with st.expander(components.escape_md(record.name), icon=":material/description:"):
        st.code(record.body, language=None, wrap_lines=True)
        if record.tags:
            st.caption("Tags: " + components.escape_md(", ".join(record.tags)))
        if record.notes:
            st.text(record.notes)
        if record.kind == "template":
            _use(record, presets)
        with st.popover("Edit", icon=":material/edit:"):
            _editor(record.kind, record)
        if st.button("Delete", key=f"lib_delete_{record.id}", icon=":material/delete:") and _guard(
            studio.templates.delete, record.id
        ):
            st.rerun()


templates_tab, presets_tab = st.tabs(["Templates", "Style presets"])
all_presets = studio.templates.presets()
with templates_tab:
    search = st.text_input("Search templates", key="lib_search", icon=":material/search:")
    items = studio.templates.templates(search=search)
    if not items:
        st.caption("No templates yet. Add one below, or start from a past prompt.")
    for item in items:
        _item(item, all_presets)
    st.subheader("New template", anchor=False)
    _editor("template")
    with st.expander("Start from a past prompt", icon=":material/history:"):
        gen_id = st.number_input("Generation #", min_value=1, step=1, key="lib_from_id")
        name = st.text_input("Template name", key="lib_from_name")
        if st.button("Create template", key="lib_from_go") and _guard(
            studio.templates.from_generation, int(gen_id), name
        ):
            st.rerun()
with presets_tab:
    st.caption("Presets are snippets (lighting, lens, palette) appended to a prompt, each once.")
    for item in all_presets:
        _item(item, all_presets)
    st.subheader("New preset", anchor=False)
    _editor("preset")
