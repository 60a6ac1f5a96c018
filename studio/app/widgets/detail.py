"""One generation in full: images, prompt, composition, every setting, references, replies, sources,
usage, cost, outcome, lineage — and what a designer does with it.

Organising actions (favourite, rate, tags, collections, trash) are callbacks on the organise service. ``show``
returns the re-use action chosen ("rerun", "remix", "reference", "edit") so the view makes the service
call and switches page. All user and model text is inert (``st.text``/``st.code``/``escape_md``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

from studio.app.widgets import components, review_panel, tiles
from studio.app.widgets import gallery_grid as gallery
from studio.app.widgets import organise_panel as organise
from studio.domain import conversation
from studio.domain.errors import StudioError
from studio.domain.people import LOCAL_EMAIL
from studio.services.gallery import GalleryFilter, GenerationRecord, ImageRecord
from studio.services.session import StudioSession

MAX_TREE = 60
MAX_HEIGHT, MAX_WIDTH = 640, 860  # the lightbox image, in CSS pixels
#: how the studio names a reference taken from a history image (Generate tray, Edit, result viewer)
_FROM_HISTORY = re.compile(r"^(?:history|generation|result)-(\d+)(?:\.|$)")


def show(studio: StudioSession, record: GenerationRecord, f: GalleryFilter | None = None) -> str | None:
    """The lightbox: the image large with ← → (buttons and arrow keys) through the filter's results and
    the detail beside it; then everything else below."""
    _stepper(studio, record, f)
    left, right = st.columns([3, 2], gap="large")
    with left:
        _images(studio, record)
        _variants(studio, record)
    makes = studio.actor.can_generate  # reviewers look and review: they neither make nor organise
    with right:
        action = _header(studio, record) if makes else None
        _summary(record, team=studio.settings.team_mode)
        _privacy(studio, record)
        review_panel.panel(studio, record, f.collection_id if f is not None else None)
        if makes:
            _organise(studio, record)
    _composition(record)
    _settings(record)
    _references(studio, record)
    _replies(record)
    _lineage(studio, record)
    return action


# -- stepping ---------------------------------------------------------------------------------------


def _stepper(studio: StudioSession, record: GenerationRecord, f: GalleryFilter | None) -> None:
    """Back to the grid, and ← → to the newer/older generation the filter holds (the grid's order)."""
    try:
        newer, older = studio.gallery.neighbours(f, record.id)
    except StudioError:
        newer = older = None
    with st.container(horizontal=True, vertical_alignment="center", gap="small", key="hist_nav"):
        st.button(
            "Back to grid",
            icon=":material/grid_view:",
            key="hist_back",
            on_click=gallery.back_to_grid,
            args=(studio, record.id),
            help="Back to the grid (Esc)",
        )
        st.button(
            "",
            icon=":material/chevron_left:",
            key="hist_prev",
            disabled=newer is None,
            on_click=gallery.select,
            args=(newer,),
            help="Newer (←)",
        )
        st.button(
            "",
            icon=":material/chevron_right:",
            key="hist_next",
            disabled=older is None,
            on_click=gallery.select,
            args=(older,),
            help="Older (→)",
        )
        st.markdown(f"**Generation #{record.id}**")
        if record.variant_index:
            st.caption(f"variant {record.variant_index + 1}")
        if studio.is_demo:
            st.badge(components.DEMO_BADGE, icon=":material/science:", color="orange")
    tiles.detail_keys()


# -- header and actions -----------------------------------------------------------------------------


def _set_favourite(studio: StudioSession, gen_id: int, value: bool) -> None:
    organise.safely(studio.organise.set_favourite, [gen_id], value)


def _trash(studio: StudioSession, gen_id: int, restore: bool) -> None:
    if restore:
        organise.safely(studio.organise.restore, [gen_id], done=f"Generation #{gen_id} was restored.")
    else:
        organise.safely(
            studio.organise.trash,
            [gen_id],
            done=f"Generation #{gen_id} is in the trash; restore it from the Trash view.",
        )


def _header(studio: StudioSession, record: GenerationRecord) -> str | None:
    if record.deleted_at is not None:
        st.warning("This generation is in the trash.", icon=":material/delete:")
    has_image = bool(record.images)
    with st.container(horizontal=True, gap="small", key="hist_actions"):
        st.button(
            ":orange[★] Favourite" if record.favourite else "☆ Favourite",
            key="hist_fav",
            on_click=_set_favourite,
            args=(studio, record.id, not record.favourite),
        )
        rerun = st.button(
            "Re-run exactly",
            icon=":material/replay:",
            key="hist_rerun",
            help="Send exactly the same request again (a new, paid generation).",
        )
        remix = st.button(
            "Remix",
            icon=":material/tune:",
            key="hist_remix",
            type="primary",
            help="Open this request in Generate to change it.",
        )
        ref = st.button(
            "Use as reference",
            icon=":material/add_photo_alternate:",
            key="hist_use_ref",
            disabled=not has_image,
            help="Add the image to Generate's reference tray.",
        )
        edit = st.button(
            "Continue editing",
            icon=":material/forum:",
            key="hist_continue_edit",
            disabled=not has_image,
            help="Refine this image turn by turn on the Edit page.",
        )
        restore = record.deleted_at is not None
        st.button(
            "Restore" if restore else "Trash",
            key="hist_trash_one",
            icon=":material/restore_from_trash:" if restore else ":material/delete:",
            on_click=_trash,
            args=(studio, record.id, restore),
        )
    chosen = [
        name
        for name, pressed in (("rerun", rerun), ("remix", remix), ("reference", ref), ("edit", edit))
        if pressed
    ]
    return chosen[0] if chosen else None


# -- images and summary -----------------------------------------------------------------------------


def _images(studio: StudioSession, record: GenerationRecord) -> None:
    if not record.images:
        label = components.status_label(record.status)
        kind = f" · {record.error_kind}" if record.error_kind else ""
        components.placeholder(":material/hide_image:", components.escape_md(f"No image · {label}{kind}"))
    for index, image in enumerate(record.images):
        if not Path(image.path).exists():
            st.warning("This image file is missing from the data directory.", icon=":material/broken_image:")
            continue
        # fits the screen: at most MAX_HEIGHT px tall (the download below gives the original)
        width = max(240, min(MAX_WIDTH, round(MAX_HEIGHT * image.width / max(1, image.height))))
        pinning = bool(st.session_state.get(f"hist_pin_on_{record.id}"))
        if index == 0 and (pinning or review_panel.has_pins(studio, record)):
            # the numbered markers of its pinned comments, and pinning a new one
            review_panel.image(studio, record, image, max_height=MAX_HEIGHT, edit=pinning)
        else:
            with st.container(horizontal_alignment="center"):
                components.stored_image(studio.gallery.preview(image), width=width)
        st.caption(f"{image.width} × {image.height} px · {image.mime_type} · {image.size_bytes / 1e6:.1f} MB")
        components.download_button(
            record, image, key=f"hist_dl_{index}", label="Download with prompt & settings"
        )
    if record.thought_images:
        with st.expander(
            f"Interim thought images ({len(record.thought_images)})", icon=":material/psychology:"
        ):
            columns = st.columns(3)
            for index, image in enumerate(record.thought_images):
                with columns[index % 3]:
                    components.thumbnail(image)


def _variants(studio: StudioSession, record: GenerationRecord) -> None:
    """The other variants of the same submission (its stack in the grid), each a click away."""
    try:
        siblings = studio.gallery.submission(record)
    except StudioError:
        return
    if len(siblings) < 2:
        return
    ids = [other.id for other in siblings]
    st.caption(f"Variant {ids.index(record.id) + 1} of {len(ids)} of this submission")
    columns = st.columns(min(len(siblings), 8))
    for column, other in zip(columns, siblings, strict=False):
        with column:
            if other.images and other.images[0].thumb_path and Path(other.images[0].thumb_path).exists():
                components.stored_image(other.images[0].thumb_path)
            st.button(
                f"#{other.id}",
                key=f"hist_variant_{other.id}",
                type="tertiary",
                disabled=other.id == record.id,
                on_click=gallery.select,
                args=(other.id,),
                icon=":material/radio_button_checked:" if other.id == record.id else None,
            )


def _summary(record: GenerationRecord, *, team: bool = False) -> None:
    components.status_badge(record.status)
    components.error_box(record)
    st.caption("Prompt")
    st.code(record.prompt or "(no prompt)", language=None, wrap_lines=True)
    st.markdown(components.run_line(record))
    facts = [
        ("By", author_label(record.author)) if team else ("", None),
        ("Model", components.model_label(record.model)),
        ("Created", f"{record.created_at:%Y-%m-%d %H:%M} UTC"),
        ("Latency", f"{record.latency_ms / 1000:.2f} s" if record.latency_ms is not None else None),
        ("Cost (list price)", f"${record.cost_usd:.4f}" if record.cost_usd is not None else None),
        ("Finish reason", record.finish_reason),
        ("Block reason", record.block_reason),
        ("Error kind", record.error_kind),
    ]
    # a few words, not a table: the first screen stays light (every setting is in the table below)
    st.caption(" · ".join(f"{name} **{components.escape_md(str(value))}**" for name, value in facts if value))


def author_label(author: str | None) -> str:
    """Who made a generation, in words ("local": on this machine before sign-in was on; None: before
    accounts existed)."""
    if not author:
        return "someone, before accounts"
    return "this machine, before sign-in" if author == LOCAL_EMAIL else author


def _set_private(studio: StudioSession, gen_id: int) -> None:
    value = bool(st.session_state.get(f"hist_private_{gen_id}"))
    organise.safely(
        studio.organise.set_private,
        [gen_id],
        value,
        done="Only you and the admins see it now." if value else "The team sees it again.",
    )


def _privacy(studio: StudioSession, record: GenerationRecord) -> None:
    """Private: seen only by its author and the admins. Its author or an admin may change it (the service
    checks); others see whether it is private, if they can see it at all."""
    actor = studio.actor
    if not studio.settings.team_mode:
        return
    mine = record.author is not None and record.author == actor.email
    key = f"hist_private_{record.id}"
    st.session_state[key] = bool(record.private)
    st.toggle(
        "Private",
        key=key,
        disabled=not (mine or actor.is_admin),
        on_change=_set_private,
        args=(studio, record.id),
        help="Seen only by the person who made it and the admins."
        + ("" if mine or actor.is_admin else " Only they can change this."),
    )


# -- organise ---------------------------------------------------------------------------------------


def _rate(studio: StudioSession, gen_id: int) -> None:
    value = st.session_state.get(f"hist_rate_{gen_id}")
    organise.safely(studio.organise.set_rating, [gen_id], None if value is None else int(value) + 1)


def _add_tag(studio: StudioSession, gen_id: int) -> None:
    key = f"hist_tag_new_{gen_id}"
    try:
        studio.organise.add_tags([gen_id], [st.session_state.get(key) or ""])
    except StudioError as exc:
        organise.flash(str(exc), "error")
        return
    st.session_state[key] = ""


def _add_to(studio: StudioSession, gen_id: int) -> None:
    cid = st.session_state.get(f"hist_coll_pick_{gen_id}")
    if cid is not None:
        organise.safely(studio.organise.add_to_collection, [gen_id], cid)


def _safely(action: Callable[..., Any], *args: Any) -> None:  # a button callback returns nothing
    organise.safely(action, *args)


def _organise(studio: StudioSession, record: GenerationRecord) -> None:
    organise.show_flash()
    key = f"hist_rate_{record.id}"
    st.session_state[key] = record.rating - 1 if record.rating else None
    st.caption("Rating")
    st.feedback("stars", key=key, on_change=_rate, args=(studio, record.id))
    st.caption("Tags")
    with st.container(horizontal=True, gap="small"):
        for name in record.tags:
            st.button(
                components.escape_md(name),
                key=f"hist_untag_{record.id}_{name}",
                icon=":material/close:",
                on_click=_safely,
                args=(studio.organise.remove_tag, [record.id], name),
                help="Remove this tag",
            )
        if not record.tags:
            st.caption("No tags yet.")
    tag, add = st.columns([3, 1], vertical_alignment="bottom")
    tag.text_input(
        "New tag",
        key=f"hist_tag_new_{record.id}",
        max_chars=60,
        label_visibility="collapsed",
        placeholder="Add a tag…",
    )
    add.button(
        "Add",
        key=f"hist_tag_add_{record.id}",
        icon=":material/sell:",
        on_click=_add_tag,
        args=(studio, record.id),
        width="stretch",
    )
    boards = {cid: name for cid, name, _ in studio.organise.collections()}
    st.caption("Collections")
    with st.container(horizontal=True, gap="small"):
        for cid in record.collections:
            st.button(
                components.escape_md(boards.get(cid, f"#{cid}")),
                key=f"hist_uncoll_{record.id}_{cid}",
                icon=":material/close:",
                on_click=_safely,
                args=(studio.organise.remove_from_collection, [record.id], cid),
                help="Take it out of this collection",
            )
    others = [cid for cid in boards if cid not in record.collections]
    if others:
        pick, add = st.columns([3, 1], vertical_alignment="bottom")
        pick.selectbox(
            "Collection",
            others,
            key=f"hist_coll_pick_{record.id}",
            format_func=boards.__getitem__,
            label_visibility="collapsed",
        )
        add.button(
            "Add",
            key=f"hist_coll_add_{record.id}",
            icon=":material/collections_bookmark:",
            on_click=_add_to,
            args=(studio, record.id),
            width="stretch",
        )
    elif not boards:
        st.caption("Create collections in the History sidebar.")


# -- everything else --------------------------------------------------------------------------------


def _composition(record: GenerationRecord) -> None:
    comp = record.composition or {}
    if not comp:
        return
    with st.expander("Composition", icon=":material/view_quilt:", expanded=True):
        fields = comp.get("fields")
        if isinstance(fields, dict):
            components.key_value_table([(k, v) for k, v in fields.items() if v], key="hist_comp_fields")
        for name in ("extra", "negative", "avoid"):
            if comp.get(name):
                st.caption(name.capitalize())
                st.text(str(comp[name]))
        chosen = comp.get("chosen") or comp.get("proposal")
        if chosen:
            st.caption("Chosen proposal")
            st.text(chosen.get("text", "") if isinstance(chosen, dict) else str(chosen))
        rest = {
            k: v
            for k, v in comp.items()
            if k not in ("fields", "extra", "negative", "avoid", "chosen", "proposal")
        }
        if rest:
            st.code(json.dumps(rest, ensure_ascii=False, indent=2, default=str), language="json")


def _flatten(usage: dict, prefix: str = "") -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = []
    for name, value in usage.items():
        if isinstance(value, dict):
            rows += _flatten(value, f"{prefix}{name}.")
        else:
            rows.append((f"{prefix}{name}", value))
    return rows


def _settings(record: GenerationRecord) -> None:
    st.subheader("Settings", anchor=False)
    components.settings_table(record.settings, key="hist_settings")
    if record.usage:
        with st.expander("Token usage", icon=":material/data_usage:"):
            components.key_value_table(_flatten(record.usage), key="hist_usage")


def source_generation(image: ImageRecord) -> int | None:
    """The generation a reference was taken from, when its stored name says so."""
    match = _FROM_HISTORY.match(image.name or "")
    return int(match.group(1)) if match else None


def _references(studio: StudioSession, record: GenerationRecord) -> None:
    if not record.references:
        return
    st.subheader(f"References ({len(record.references)})", anchor=False)
    columns = st.columns(6)
    for index, image in enumerate(record.references):
        with columns[index % 6]:
            _reference(studio, record, image, index)


def _reference(studio: StudioSession, record: GenerationRecord, image: ImageRecord, index: int) -> None:
    components.thumbnail(image)
    source = source_generation(image)
    if source is not None and source != record.id and studio.get(source) is not None:
        st.button(
            f"Open #{source}",
            key=f"hist_ref_open_{index}",
            icon=":material/open_in_new:",
            on_click=gallery.select,
            args=(source,),
            type="tertiary",
        )
    elif not Path(image.path).exists():
        st.caption("The original file is missing from the data directory.")
    else:
        # a popover's body runs even while it is closed: show the on-screen preview, not a 4K original
        with st.popover("View", icon=":material/zoom_in:", key=f"hist_ref_view_{index}"):
            components.stored_image(studio.gallery.preview(image))
            st.caption(f"{image.width} × {image.height} px")
    if image.name:
        st.text(components.excerpt(image.name, 40))


def _replies(record: GenerationRecord) -> None:
    if record.text:
        st.subheader("Text reply", anchor=False)
        st.text(record.text)
    if record.thoughts_text:
        with st.expander("Thoughts", icon=":material/psychology:"):
            st.text(record.thoughts_text)
    sources = conversation.sources(record)
    if sources:
        st.subheader("Sources", anchor=False)
        for index, (title, uri) in enumerate(sources):
            name, link = st.columns([5, 1], vertical_alignment="center")
            name.text(title)
            if uri.startswith(("https://", "http://")):
                link.link_button("Open", uri, icon=":material/open_in_new:", key=f"hist_src_{index}")


def _lineage(studio: StudioSession, record: GenerationRecord) -> None:
    if record.parent_id is None and not studio.gallery.children(record.id):
        return
    st.subheader("Lineage", anchor=False)
    try:
        root = studio.editing.tree(record.id)
    except StudioError as exc:
        st.caption(components.escape_md(str(exc)))
        return
    nodes = list(root.walk())
    for depth, node in nodes[:MAX_TREE]:
        label = f"{'↳ ' if depth else ''}#{node.id} · {components.excerpt(node.prompt, 60) or '(no prompt)'}"
        with st.container(horizontal=True, gap=None):
            if depth:
                st.space(size=24 * min(depth, 8))
            st.button(
                components.escape_md(label),
                key=f"hist_tree_{node.id}",
                type="tertiary",
                disabled=node.id == record.id,
                on_click=gallery.select,
                args=(node.id,),
                icon=":material/radio_button_checked:" if node.id == record.id else None,
            )
    if len(nodes) > MAX_TREE:
        st.caption(f"… and {len(nodes) - MAX_TREE} more turns.")
