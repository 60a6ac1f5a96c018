"""The reference tray of the Generate form: upload, paste, pick from history; reorder, remove, roles.

The tray (``gen_tray``, a tuple of sanitised, downscaled References) changes only in widget
callbacks through ``studio.composer``'s pure rules, so a refused change leaves it exactly as it was
and the reason is shown on the next run (``gen_tray_notices``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path

import streamlit as st

from studio.app.widgets import jscomponents
from studio.app.widgets.components import escape_md
from studio.domain import catalogue
from studio.domain import composition as composer
from studio.domain.catalogue import ModelSpec
from studio.domain.errors import StudioError
from studio.domain.mime import sha256_hex
from studio.domain.requests import SUCCEEDED, GenerationRequest, Reference
from studio.services import uploads
from studio.services.session import StudioSession

UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp"]
ROLES = {"object": "Object", "character": "Character"}
TRAY = "gen_tray"
NOTICES = "gen_tray_notices"
SKETCHES = "gen_sketches"
_ROUND = "gen_upload_round"
#: generation ids another page (History's "Use as reference") wants added; consumed by ``section``
INCOMING = "gen_tray_incoming"
#: a dropped or pasted file the studio made: {"name", "request"} until restored or dismissed
OFFER = "gen_restore_offer"
HISTORY_PICKS = 12


# -- state ----------------------------------------------------------------------------------------


def tray() -> tuple[Reference, ...]:
    return tuple(st.session_state.get(TRAY) or ())


def carry(refs: Sequence[Reference]) -> None:
    """Replace the tray (a remix brings its references; "Start fresh" empties it)."""
    st.session_state[TRAY] = tuple(refs)
    st.session_state[SKETCHES] = []


def _notify(message: str, level: str = "warning") -> None:
    st.session_state.setdefault(NOTICES, []).append((level, message))


def add(refs: Sequence[Reference], spec: ModelSpec, *, what: str = "") -> bool:
    """Add references (all or none); on refusal the reason is queued and the tray is unchanged."""
    try:
        st.session_state[TRAY] = composer.add(tray(), refs, spec)
    except StudioError as exc:
        _notify(str(exc))
        return False
    if what:
        _notify(what, "success")
    return True


def add_files(files: Sequence[tuple[str, bytes]], spec: ModelSpec) -> None:
    before = len(tray())
    st.session_state[TRAY], reasons = uploads.add_files(tray(), files, spec)
    for reason in reasons:
        _notify(reason)
    added = len(tray()) - before
    if added:
        _notify(f"Added {added} reference image{'s' if added != 1 else ''}.", "success")


# -- callbacks ------------------------------------------------------------------------------------


def _uploader_key() -> str:
    round_ = st.session_state.get(_ROUND, 0)  # a new key empties the uploader after each drop
    return "gen_uploads" if round_ == 0 else f"gen_uploads_{round_}"


def offer_restore(studio: StudioSession, files: Sequence[tuple[str, bytes]]) -> None:
    """If one of the files is an image the studio made (a stored original, or a download carrying its
    prompt and settings), offer to restore them; any other file is only a reference, as always."""
    for name, data in files:
        request = studio.drafts.from_image(data)
        if request is not None:
            st.session_state[OFFER] = {"name": name[:80], "request": request}
            return


def _on_upload(studio: StudioSession, spec: ModelSpec) -> None:
    files = st.session_state.get(_uploader_key()) or []
    if files:
        dropped = [(f.name, f.getvalue()) for f in files]
        offer_restore(studio, dropped)
        add_files(dropped, spec)
    st.session_state[_ROUND] = st.session_state.get(_ROUND, 0) + 1  # a fresh, empty uploader


def _restore() -> None:
    """Hand the offered request to the form the way a remix is handed (``prompt_form.consume_remix``, which
    runs before the form's widgets are drawn)."""
    offer = st.session_state.pop(OFFER, None)
    if offer:
        st.session_state["remix"] = offer["request"]
        _notify(f"Restored the prompt and settings of {offer['name']}.", "success")


def _dismiss_offer() -> None:
    st.session_state.pop(OFFER, None)


def _on_paste(studio: StudioSession, spec: ModelSpec) -> None:
    payload = (st.session_state.get("gen_paste") or {}).get("pasted") or []
    files: list[tuple[str, bytes]] = []
    for item in payload if isinstance(payload, list) else []:
        name = str(item.get("name") or "pasted-image")[:80]
        try:
            if not item.get("data"):
                raise StudioError(
                    f"“{name}” was not added: it is larger than "
                    f"{composer.MAX_UPLOAD_BYTES // 2**20} MB or could not be read."
                )
            files.append((name, composer.decode_data_url(item["data"], name)))
        except StudioError as exc:
            _notify(str(exc))
    if files:
        offer_restore(studio, files)
        add_files(files, spec)


def _move(index: int, delta: int) -> None:
    st.session_state[TRAY] = composer.move(tray(), index, delta)


def _remove(index: int) -> None:
    st.session_state[TRAY] = composer.remove(tray(), index)


def _on_role(index: int, key: str, spec: ModelSpec) -> None:
    try:
        st.session_state[TRAY] = composer.set_role(tray(), index, st.session_state[key], spec)
    except StudioError as exc:
        st.session_state[key] = tray()[index].role
        _notify(str(exc))


def _from_history(studio: StudioSession, gen_id: int, spec: ModelSpec) -> None:
    record = studio.get(gen_id)
    if record is None or not record.images:
        _notify(f"Generation #{gen_id} has no image to use.")
        return
    image = record.images[0]
    try:
        ref = uploads.prepare(
            Path(image.path).read_bytes(), f"history-{gen_id}.{image.mime_type.split('/')[-1]}"
        )
    except OSError:
        _notify(f"The image of generation #{gen_id} is missing from the data directory.")
        return
    except StudioError as exc:
        _notify(str(exc))
        return
    add([ref], spec, what=f"Added the image of generation #{gen_id}.")


# -- rendering ------------------------------------------------------------------------------------


def _notices() -> None:
    for level, message in st.session_state.pop(NOTICES, []):
        if level == "success":
            st.success(escape_md(message), icon=":material/check:")
        else:
            st.warning(escape_md(message), icon=":material/block:")


def _restore_offer() -> None:
    offer = st.session_state.get(OFFER)
    if not offer:
        return
    request = offer["request"]
    with st.container(border=True, key="gen_restore_box"):
        st.markdown(
            ":material/settings_backup_restore: **This image was made by Studio.** "
            "Restore its prompt and settings?"
        )
        prompt = " ".join(request.prompt.split())
        model = catalogue.display_label(request.model) if catalogue.is_known(request.model) else request.model
        quoted = f"“{prompt[:120]}{'…' if len(prompt) > 120 else ''}”" if prompt else "no prompt"
        st.caption(
            escape_md(f"{offer['name']} · {model} · {quoted}")
            + "  \nRestoring replaces the prompt, the settings and the tray."
        )
        left, right = st.columns(2)
        left.button(
            "Restore",
            key="gen_restore",
            type="primary",
            icon=":material/restore:",
            width="stretch",
            help="Put this image's prompt and settings (and its references, when it is in History) in the form",
            on_click=_restore,
        )
        right.button(
            "Dismiss",
            key="gen_restore_dismiss",
            width="stretch",
            help="Keep it only as a reference",
            on_click=_dismiss_offer,
        )


_SEEN = "studio_recipe_seen"  # file sha256 -> the request it restores, or None (one of ours or not)


def restore_elsewhere(studio: StudioSession, uploads_: Sequence[object], *, key: str) -> None:
    """Under another page's uploader (Edit's, Experiment's): when an uploaded file is an image the studio
    made, offer to restore its prompt and settings on Generate. ``uploads_`` are Streamlit UploadedFiles.
    An uploader keeps its file across runs: each file is read once per session (by its bytes' SHA-256),
    and later runs use what was found then."""
    seen: dict[str, GenerationRequest | None] = st.session_state.setdefault(_SEEN, {})
    for file in uploads_:
        data = file.getvalue()  # type: ignore[attr-defined]
        digest = sha256_hex(data)
        if digest not in seen:
            seen[digest] = studio.drafts.from_image(data)
        request = seen[digest]
        if request is None:
            continue
        with st.container(border=True, key=f"{key}_restore_box"):
            st.markdown(
                ":material/settings_backup_restore: **This image was made by Studio.** "
                "Restore its prompt and settings on Generate?"
            )
            if st.button("Restore on Generate", key=f"{key}_restore", icon=":material/restore:"):
                st.session_state["remix"] = request
                st.switch_page("screens/generate.py")
        return


def _role_picker(index: int, ref: Reference, spec: ModelSpec, col) -> None:
    roles = composer.roles_for(spec)
    key = f"gen_role_{ref.sha256[:16]}"
    st.session_state[key] = ref.role if ref.role in roles else "object"
    col.selectbox(
        "Role",
        roles,
        format_func=ROLES.get,
        key=key,
        label_visibility="collapsed",
        disabled=len(roles) == 1,
        on_change=_on_role,
        args=(index, key, spec),
    )


def _tray_row(index: int, ref: Reference, count: int, spec: ModelSpec) -> None:
    with st.container(border=True, key=f"gen_tray_item_{index}"):
        pic, info, ctrl = st.columns([1, 3, 2], vertical_alignment="center")
        pic.image(ref.data, width="stretch")
        info.text(f"{index + 1}. {composer.display_name(ref)}")
        info.caption(f"{ref.width} × {ref.height} px")
        _role_picker(index, ref, spec, info)
        up, down, drop = ctrl.columns(3)
        up.button(
            "",
            icon=":material/arrow_upward:",
            key=f"gen_tray_up_{index}",
            help="Move up",
            disabled=index == 0,
            on_click=_move,
            args=(index, -1),
        )
        down.button(
            "",
            icon=":material/arrow_downward:",
            key=f"gen_tray_down_{index}",
            help="Move down",
            disabled=index == count - 1,
            on_click=_move,
            args=(index, 1),
        )
        drop.button(
            "",
            icon=":material/close:",
            key=f"gen_tray_remove_{index}",
            help="Remove",
            on_click=_remove,
            args=(index,),
        )


def _history_picker(studio: StudioSession, spec: ModelSpec) -> None:
    pop = st.popover(
        "From history", icon=":material/history:", key="gen_hist_pop", width="stretch", on_change="rerun"
    )
    if not pop.open:
        return  # thumbnails are read only while the picker is open
    with pop:
        records = [r for r in studio.history(limit=HISTORY_PICKS, status=SUCCEEDED) if r.images]
        if not records:
            st.caption("No generated images yet.")
            return
        st.caption("One click adds the image to the tray.")
        columns = st.columns(4)
        for index, record in enumerate(records):
            with columns[index % 4]:
                image = record.images[0]
                path = (
                    image.thumb_path if image.thumb_path and Path(image.thumb_path).exists() else image.path
                )
                if Path(path).exists():
                    st.image(str(path), width="stretch")
                st.button(
                    f"#{record.id}",
                    key=f"gen_hist_add_{record.id}",
                    icon=":material/add:",
                    width="stretch",
                    on_click=_from_history,
                    args=(studio, record.id, spec),
                )


def section(studio: StudioSession, spec: ModelSpec) -> list[Reference]:
    """Render the tray and its sources; return the references this model will be sent."""
    for gen_id in st.session_state.pop(INCOMING, None) or []:
        _from_history(studio, int(gen_id), spec)  # checked against this model's limits like any add
    refs = tray()
    used = composer.counts(refs, spec)
    st.markdown(f"**References** · {len(refs)} in the tray")
    st.caption(
        f":material/photo_library: Limit: {escape_md(composer.limit_sentence(spec))}"
        + (f" · {used['object']} objects, {used['character']} characters" if spec.max_characters else "")
    )
    _notices()
    _restore_offer()
    for index, ref in enumerate(refs):
        _tray_row(index, ref, len(refs), spec)
    kept, left_out = composer.fit(refs, spec)
    for sentence in left_out:
        st.warning(escape_md(sentence), icon=":material/block:")
    st.file_uploader(
        "Add reference images",
        type=UPLOAD_TYPES,
        accept_multiple_files=True,
        key=_uploader_key(),
        on_change=_on_upload,
        args=(studio, spec),
        help="Drop several at once. PNG, JPEG or WebP; metadata is stripped and large images "
        "are downscaled before sending.",
    )
    paste, history = st.columns([3, 2], vertical_alignment="center")
    with paste:
        jscomponents.paste_zone(partial(_on_paste, studio, spec))
    with history:
        _history_picker(studio, spec)
    return list(kept)


# -- kept for the per-model rule tests and older callers ------------------------------------------


def limit_sentence(spec: ModelSpec) -> str:
    if spec.max_characters:
        return (
            f"Up to {spec.max_objects} object images + {spec.max_characters} character images "
            f"on this model ({spec.max_references} references max)."
        )
    return f"{spec.max_references} references max on this model."


def apply_limits(spec: ModelSpec, refs: list[Reference]) -> tuple[list[Reference], list[str]]:
    """Keep the first references each limit allows; say why each of the others is not sent."""
    caps = (
        {"object": spec.max_objects, "character": spec.max_characters}
        if spec.max_characters
        else {"object": spec.max_references, "character": spec.max_references}
    )
    used = {"object": 0, "character": 0}
    kept: list[Reference] = []
    refused: list[str] = []
    for ref in refs:
        role = ref.role if ref.role in caps else "object"
        pool = role if spec.max_characters else "object"
        if used[pool] >= caps[pool] or len(kept) >= spec.max_references:
            what = f"{ROLES[role].lower()} images" if spec.max_characters else "references"
            refused.append(
                f"“{composer.display_name(ref)}” is not sent: this model takes at most {caps[pool]} {what}."
            )
            continue
        used[pool] += 1
        kept.append(ref)
    return kept, refused
