"""Reference images for the Generate form: upload, sanitise, assign roles, enforce the model's limits.

Uploads are sanitised once per file (cached in session state by the uploader's file id), so reruns
do not re-decode them. A rejected or surplus image is shown with its reason and never sent.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from studio import images
from studio.catalogue import ModelSpec
from studio.domain import Reference
from studio.errors import ImageRejected
from studio.ui.components import escape_md

UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp"]
ROLES = {"object": "Object", "character": "Character"}
_CACHE = "_gen_ref_cache"
_CARRIED = "gen_carried_refs"


def carry(refs: list[Reference]) -> None:
    """References that came with a remix (they are not in the uploader)."""
    st.session_state[_CARRIED] = refs


def limit_sentence(spec: ModelSpec) -> str:
    if spec.max_characters:
        return (f"Up to {spec.max_objects} object images + {spec.max_characters} character images "
                f"on this model ({spec.max_references} references max).")
    return f"{spec.max_references} references max on this model."


def apply_limits(spec: ModelSpec, refs: list[Reference]) -> tuple[list[Reference], list[str]]:
    """Keep the first references each limit allows; say why each of the others is not sent."""
    caps = ({"object": spec.max_objects, "character": spec.max_characters} if spec.max_characters
            else {"object": spec.max_references, "character": spec.max_references})
    used = {"object": 0, "character": 0}
    kept: list[Reference] = []
    refused: list[str] = []
    for ref in refs:
        role = ref.role if ref.role in caps else "object"
        pool = role if spec.max_characters else "object"
        if used[pool] >= caps[pool] or len(kept) >= spec.max_references:
            what = f"{ROLES[role].lower()} images" if spec.max_characters else "references"
            refused.append(f"“{_name(ref)}” is not sent: this model takes at most {caps[pool]} {what}.")
            continue
        used[pool] += 1
        kept.append(ref)
    return kept, refused


def _name(ref: Reference) -> str:
    return "".join(ch for ch in ref.name if ch.isprintable())[:60] or "reference"


def _sanitized(upload) -> Reference | str:
    """The sanitised reference for an upload, or the sentence saying why it was rejected."""
    cache: dict[str, Reference | str] = st.session_state.setdefault(_CACHE, {})
    if upload.file_id not in cache:
        try:
            cache[upload.file_id] = images.sanitize_upload(upload.getvalue(), upload.name)
        except ImageRejected as exc:
            cache[upload.file_id] = str(exc)
    return cache[upload.file_id]


def _prune(file_ids: set[str]) -> None:
    cache = st.session_state.get(_CACHE, {})
    for stale in set(cache) - file_ids:
        del cache[stale]


def _role_picker(ref: Reference, spec: ModelSpec, key: str) -> Reference:
    if not spec.max_characters:
        return ref
    role = st.selectbox("Role", list(ROLES), format_func=ROLES.get, key=key, label_visibility="collapsed")
    return replace(ref, role=role)


def _previews(refs: list[tuple[Reference, str]], spec: ModelSpec) -> list[Reference]:
    """Small previews, each with its role picker when the model distinguishes characters."""
    out: list[Reference] = []
    columns = st.columns(4)
    for index, (ref, key) in enumerate(refs):
        with columns[index % 4]:
            st.image(ref.data, width="stretch")
            out.append(_role_picker(ref, spec, key))
    return out


def _carried(spec: ModelSpec) -> list[Reference]:
    carried: list[Reference] = st.session_state.get(_CARRIED) or []
    if not carried:
        return []
    head, button = st.columns([3, 1], vertical_alignment="center")
    head.caption(f"{len(carried)} reference image(s) from the remixed generation")
    if button.button("Drop", key="gen_drop_carried", icon=":material/close:"):
        carry([])
        st.rerun()
    return _previews([(ref, f"gen_carried_role_{i}") for i, ref in enumerate(carried)], spec)


def uploader(spec: ModelSpec) -> list[Reference]:
    """Render the reference section; return the references that will be sent."""
    st.caption(f":material/photo_library: {limit_sentence(spec)}")
    carried = _carried(spec)
    uploads = st.file_uploader("Reference images", type=UPLOAD_TYPES, accept_multiple_files=True,
                               key="gen_uploads", help="PNG, JPEG or WebP. Metadata is stripped before sending.")
    uploads = uploads or []
    _prune({u.file_id for u in uploads})
    good: list[tuple[Reference, str]] = []
    for upload in uploads:
        result = _sanitized(upload)
        if isinstance(result, str):
            st.warning(escape_md(result), icon=":material/image_not_supported:")
        else:
            good.append((result, f"gen_role_{upload.file_id}"))
    kept, refused = apply_limits(spec, carried + _previews(good, spec))
    for sentence in refused:
        st.warning(escape_md(sentence), icon=":material/block:")
    return kept
