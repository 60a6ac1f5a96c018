"""Edit: refine an image in conversation. Each turn is a generation linked to its parent; any turn can
be branched. The real multi-turn request is built by ``studio.services.editing``."""

from __future__ import annotations

import streamlit as st

from studio.app import resources
from studio.app.widgets import advanced_panel as controls
from studio.app.widgets import before_after, components, guard, references
from studio.domain import catalogue
from studio.domain.errors import StudioError
from studio.domain.requests import SUCCEEDED
from studio.domain.review import NextVersion
from studio.imaging import images
from studio.services import editing
from studio.services import search_box as search
from studio.services.gallery import GenerationRecord

HEAD = "edit_head"  # the turn the next instruction continues from
SOURCE = "edit_source_id"  # a history generation another page sent here to start from
FROM_ID = "edit_from_id"  # the number box of the start form (a widget: dropped on runs that do not draw it)
#: the history generation picked on the start form: plain session state, which Streamlit never drops, so
#: the pick survives switching "Start from" away and back, and other pages
CHOSEN = "edit_chosen"
COMPARE = "edit_compare"  # the turn the before/after slider shows
BRANCH = "edit_branch"  # the branch switcher (follows HEAD)
PICKS, PER_ROW = 16, 8  # recent generations offered as sources, thumbnails per row
#: "Make the next version" from a review comment (set by the lightbox's review panel): the comment, and the
#: comment the instruction was last filled from (filled once, so the designer's changes to it stay)
NEXT_COMMENT, NEXT_FILLED = "edit_next_comment", "edit_next_filled"
PREFILLED = "edit_adv_for"  # the turn whose settings the Advanced controls were filled from
EDIT_MODELS = [m for m, spec in catalogue.MODELS.items() if spec.stage != "retired"]
#: the picker starts where Generate and Experiment start
DEFAULT_INDEX = EDIT_MODELS.index(catalogue.DEFAULT_MODEL) if catalogue.DEFAULT_MODEL in EDIT_MODELS else 0

studio = resources.session_or_stop()
components.page_header(
    "Edit", "Refine an image turn by turn. Branch from any earlier turn.", demo=studio.is_demo
)


def _error(exc: StudioError) -> None:
    st.error(components.escape_md(str(exc)), icon=":material/error:")


def _refs(files) -> list:
    out = []
    for upload in files or []:
        try:
            out.append(images.sanitize_upload(upload.getvalue(), upload.name))
        except StudioError as exc:
            _error(exc)
    return out


def _leave_source() -> None:
    st.session_state.pop(SOURCE, None)
    st.session_state.pop(NEXT_COMMENT, None)


def _next_version(source_id: int) -> NextVersion | None:
    """The review comment this edit answers ("Make the next version"), its text put in the instruction once."""
    cid = st.session_state.get(NEXT_COMMENT)
    if cid is None:
        return None
    try:
        nv = studio.review.next_version(int(cid))
    except StudioError as exc:
        _error(exc)
        st.session_state.pop(NEXT_COMMENT, None)
        return None
    if nv.source_id != source_id:
        st.session_state.pop(NEXT_COMMENT, None)
        return None
    if st.session_state.get(NEXT_FILLED) != nv.comment_id:
        st.session_state["edit_first"] = nv.instruction
        st.session_state[NEXT_FILLED] = nv.comment_id
    return nv


def _annotation(nv: NextVersion | None) -> list:
    """The source with the comment's box drawn on it, as a reference image (none for an unpinned comment)."""
    if nv is None or nv.annotation is None:
        return []
    try:
        return [images.sanitize_upload(nv.annotation, nv.annotation_name)]
    except StudioError as exc:
        _error(exc)
        return []


def _link_version(nv: NextVersion | None, ids: list[int]) -> None:
    """The new version belongs to the comment, and to the collection(s) its source is in."""
    st.session_state.pop(NEXT_COMMENT, None)
    if nv is None or not ids:
        return
    try:
        studio.review.link_version(nv.comment_id, ids[0])
    except StudioError as exc:
        st.session_state["edit_link_error"] = str(exc)


def _source_start(source_id: int) -> None:
    """Start from the generation another page sent: continue its conversation, or edit its image."""
    record = studio.get(source_id)
    if record is None or not record.images:
        st.warning(f"Generation #{source_id} has no image to start from.", icon=":material/broken_image:")
        st.button(
            "Start another way", key="edit_source_clear", on_click=st.session_state.pop, args=(SOURCE, None)
        )
        return
    nv = _next_version(source_id)
    continues = record.status == SUCCEEDED and record.has_model_content
    st.markdown(
        f"**Starting from generation #{record.id}**"
        + (" · continues its conversation" if continues else " · its image is the first reference")
    )
    left, right = st.columns([1, 3])
    with left:
        components.thumbnail(record.images[0])
    right.caption(components.escape_md(components.excerpt(record.prompt or "(no prompt)", 200)))
    right.button(
        "Start another way",
        key="edit_source_clear",
        icon=":material/close:",
        on_click=_leave_source,
    )
    if nv is not None:
        with st.container(border=True, key="edit_from_comment"):
            st.markdown(":material/rate_review: **The next version, from a review comment**")
            st.caption("The comment is the instruction below; change it as you like.")
            if nv.annotation is not None:
                st.image(
                    nv.annotation, width=260, caption="Annotation reference: the part the comment points at"
                )
    if continues:
        model = record.model
        _model_line(model, "continues on the model of its conversation")
        _prefill(record)
    else:
        model = _picker()
    instruction = st.text_area("Instruction", key="edit_first", placeholder="Make the background a sunset")
    extra = controls.section("edit", model)
    if st.button("Start", type="primary", icon=":material/play_arrow:", key="edit_start"):
        refs = _annotation(nv)
        _begin(
            instruction,
            model=model,
            from_generation=record.id,
            references=refs,
            on_made=lambda ids: _link_version(nv, ids),
            **extra,
        )


def _print(*parts, refs=()) -> str:
    """What makes two presses the same request: the text, every setting and the images' hashes."""
    return guard.fingerprint(*parts, [ref.sha256 for ref in refs if ref is not None])


def _begin(instruction: str, on_made=None, **kwargs) -> None:
    image, references = kwargs.get("image"), kwargs.get("references") or ()
    plain = {k: v for k, v in kwargs.items() if k not in ("image", "references")}
    if not guard.allow("edit", _print("start", instruction, plain, refs=(image, *references))):
        return
    try:
        ids = studio.editing.start(instruction, **kwargs)
    except StudioError as exc:
        guard.forget("edit")
        _error(exc)
        return
    st.session_state[HEAD] = ids[0]
    st.session_state.pop(SOURCE, None)
    if on_made is not None:
        on_made(ids)
    st.rerun()


def _prefill(record: GenerationRecord) -> None:
    """Fill the Advanced controls from the turn being continued, once per turn."""
    if st.session_state.get(PREFILLED) != record.id:
        controls.prefill("edit", record.settings)
        st.session_state[PREFILLED] = record.id


def _continued_model(gen_id: int) -> str | None:
    """The model a history generation with a model reply is continued on (its own); None for any other."""
    record = studio.get(gen_id)
    if record is not None and record.status == SUCCEEDED and record.has_model_content:
        return record.model
    return None


def _picker() -> str:
    return st.selectbox(
        "Model", EDIT_MODELS, index=DEFAULT_INDEX, key="edit_model", format_func=components.model_label
    )


def _model_line(model: str, why: str) -> None:
    """The model a turn runs on where no picker decides it: the page shows what the turn uses."""
    st.markdown(f":material/memory: Model: **{components.escape_md(components.model_label(model))}** · {why}")


def _start() -> None:
    # With images in the history, the page opens on them: picking one is the common start.
    # (the index only matters on a first visit: later the kept choice decides, and index 0 is the default)
    first = "edit_source" not in st.session_state and bool(studio.editing.sources(limit=1))
    source = st.radio(
        "Start from",
        ["A prompt", "An uploaded image", "A history image"],
        index=2 if first else 0,
        horizontal=True,
        key="edit_source",
    )
    upload, from_id = None, None
    if source == "An uploaded image":
        upload = st.file_uploader("Image to edit", type=["png", "jpg", "jpeg", "webp"], key="edit_upload")
        if upload is not None:  # a studio-made image can also bring back its prompt and settings
            references.restore_elsewhere(studio, [upload], key="edit_upload")
    elif source == "A history image":
        from_id = _source_picker()
    # a history generation with a model reply continues its conversation, so on its own model: no picker
    continued = _continued_model(int(from_id)) if from_id else None
    if continued and from_id:
        model = continued
        _model_line(model, f"generation #{int(from_id)} continues on the model of its conversation")
    else:
        model = _picker()
    instruction = st.text_area(
        "Instruction", key="edit_first", placeholder="A ceramic teapot on a wooden table"
    )
    extra = controls.section("edit", model)
    if st.button("Start", type="primary", icon=":material/play_arrow:", key="edit_start"):
        if source == "A history image" and not from_id:
            st.warning("Pick an image above (or type its number) to start from.", icon=":material/touch_app:")
            return
        try:
            image = _refs([upload])[0] if upload is not None else None
        except IndexError:  # the upload was refused; _refs said why
            return
        _begin(
            instruction, model=model, image=image, from_generation=int(from_id) if from_id else None, **extra
        )


def _pick(gen_id: int) -> None:
    st.session_state[CHOSEN] = st.session_state[FROM_ID] = gen_id


def _typed() -> None:
    st.session_state[CHOSEN] = st.session_state.get(FROM_ID)


def _source_picker() -> int | None:
    """Recent generations as thumbnails to click, a search over them, and the number as a fallback."""
    query = st.text_input(
        "Find an image",
        key="edit_pick_search",
        icon=":material/search:",
        placeholder='teapot, "red car", -sketch, yesterday',
        help='The History search: words, "a phrase", -word to leave out, and today, yesterday, last week.',
    )
    understood = search.understand(query)
    if understood.dates or understood.excluded or understood.phrases:  # say how the box was read
        st.caption(f"Showing images {components.escape_md(understood.describe())}")
    try:
        found = studio.editing.sources(query, limit=PICKS)
    except StudioError as exc:
        _error(exc)
        found = []
    chosen = st.session_state.get(CHOSEN)
    if FROM_ID not in st.session_state or st.session_state[FROM_ID] != chosen:  # not drawn last run
        st.session_state[FROM_ID] = chosen
    if not found:
        st.caption(
            "Nothing with an image matches." if (query or "").strip() else "No image in the history yet."
        )
    for start in range(0, len(found), PER_ROW):
        cells = st.columns(PER_ROW)
        for cell, record in zip(cells, found[start : start + PER_ROW], strict=False):
            with cell:
                components.thumbnail(record.images[0])
                st.button(
                    f"#{record.id}",
                    key=f"edit_pick_{record.id}",
                    type="primary" if record.id == chosen else "secondary",
                    icon=":material/check_circle:" if record.id == chosen else None,
                    width="stretch",
                    help=components.escape_md(components.excerpt(record.prompt or "(no prompt)", 160)),
                    on_click=_pick,
                    args=(record.id,),
                )
    st.number_input("…or type a generation number", min_value=1, step=1, key=FROM_ID, on_change=_typed)
    chosen = st.session_state.get(CHOSEN)
    if chosen:
        source = studio.get(int(chosen))
        if source is None or not source.images:
            st.warning(
                f"Generation #{int(chosen)} has no image to start from.", icon=":material/broken_image:"
            )
        else:
            st.markdown(
                f":material/check_circle: **Source: #{source.id}** · "
                f"{components.escape_md(components.excerpt(source.prompt or '(no prompt)', 120))}"
            )
    return int(chosen) if chosen else None


@st.dialog("Turn", width="large")
def _enlarge(gen_id: int) -> None:
    record = studio.get(gen_id)
    if record is None:
        st.caption("This turn is no longer in the history.")
        return
    st.text(record.prompt or "(no instruction)")
    components.image_viewer(record, studio.gallery.preview, key=f"edit_big_{record.id}")
    if record.text:
        st.text(record.text)


def _turn(record: GenerationRecord, head: int, number: int, forks: int = 0) -> None:
    """One turn, compact: the image it started from, the image it made, the instruction and actions."""
    with st.container(border=True, key=f"edit_turn_{record.id}"):
        before = studio.editing.before(record)
        left, mid, text = st.columns([1, 1, 3])
        with left:
            if before is not None:
                components.thumbnail(before)
                st.caption("Before")
        with mid:
            if record.images:
                components.thumbnail(record.images[0])
                st.caption("After")
        with text:
            where = f" · :material/call_split: {forks} branches" if forks > 1 else ""
            st.markdown(f"**Turn {number}**{where}")
            st.text(components.excerpt(record.prompt or "(no instruction)", 240))
            components.status_badge(record.status)
            note = ((record.composition or {}).get("conversation") or {}).get("trimmed")
            if note:
                st.info(components.escape_md(note), icon=":material/compress:")
            if studio.is_active(record.id):
                progress = studio.progress(record.id)
                st.caption(components.escape_md(progress.message if progress else "Queued"))
                return
            components.error_box(record)
            if record.text:
                st.caption(components.escape_md(components.excerpt(record.text, 300)))
            controls.outputs(record, studio.gallery.preview, key_prefix="edit")  # sources, thoughts
            actions = st.container(horizontal=True)
            if record.images:
                if actions.button(
                    "",
                    key=f"edit_enlarge_{record.id}",
                    icon=":material/open_in_full:",
                    help="Enlarge",
                ):
                    _enlarge(record.id)
                if before is not None:
                    actions.button(
                        "Compare",
                        help="Show this turn's before and after",
                        key=f"edit_cmp_{record.id}",
                        icon=":material/compare:",
                        type="primary" if st.session_state.get(COMPARE) == record.id else "secondary",
                        on_click=st.session_state.__setitem__,
                        args=(COMPARE, record.id),
                    )
            if record.id != head and record.status == SUCCEEDED:
                actions.button(
                    "Branch",
                    help="Branch from here: the next instruction continues from this turn",
                    key=f"edit_branch_{record.id}",
                    icon=":material/call_split:",
                    on_click=st.session_state.__setitem__,
                    args=(HEAD, record.id),
                )


@st.fragment(run_every=1.0)
@resources.rerun_when_refused
def _live(head: int, number: int) -> None:
    if not studio.is_active(head):
        st.rerun()
    record = studio.get(head)
    if record is not None:
        _turn(record, head, number)


def _switch_branch() -> None:
    st.session_state[HEAD] = st.session_state[BRANCH]
    st.session_state.pop(COMPARE, None)


def _branches(head: int, turns: list[GenerationRecord]) -> dict[int, int]:
    """The branch switcher (when the conversation has more than one); returns children per turn."""
    try:
        tree = studio.editing.tree(head)
    except StudioError:
        return {}
    lines = editing.branches(tree)
    forks = {node.record.id: len(node.children) for node in _nodes(tree)}
    if len(lines) < 2:
        return forks
    number = {line.tip.id: i for i, line in enumerate(lines, start=1)}
    options = [line.tip.id for line in lines]
    label = {line.tip.id: line for line in lines}
    if head not in number:  # "Branch from here": the next instruction starts a new branch
        options.insert(0, head)

    def name(tip: int) -> str:
        if tip not in label:
            return f"New branch from turn {len(turns)}"
        line = label[tip]
        last = components.excerpt(line.tip.prompt or "(no instruction)", 40)
        return f"Branch {number[tip]} · {line.turns} turns · “{last}”"

    st.session_state[BRANCH] = head
    st.selectbox(
        f"Branch ({len(lines)} in this conversation)",
        options,
        key=BRANCH,
        format_func=name,
        on_change=_switch_branch,
    )
    return forks


def _nodes(node):
    yield node
    for child in node.children:
        yield from _nodes(child)


def _compare(turns: list[GenerationRecord]) -> None:
    """The before/after slider of the chosen turn (the latest one with an image, unless one was chosen)."""
    ids = {t.id for t in turns}
    chosen = st.session_state.get(COMPARE)
    pool = [t for t in turns if t.images]
    record = next((t for t in pool if t.id == chosen), None) if chosen in ids else None
    record = record or (pool[-1] if pool else None)
    if record is None:
        st.caption("The turns' images appear here, before and after each change.")
        return
    before = studio.editing.before(record)
    number = turns.index(record) + 1
    if before is None:
        st.markdown(f"**Turn {number}** · made from a prompt alone, so there is no before")
        components.stored_image(studio.gallery.preview(record.images[0]))
        return
    st.markdown(f"**Turn {number} · before / after** · drag across the image")
    before_after.slider(studio, before, record.images[0], key="edit_ba")
    st.caption(components.escape_md(components.excerpt(record.prompt or "(no instruction)", 200)))


def _thread(head: int) -> None:
    try:
        turns = studio.editing.chain(head)
    except StudioError as exc:
        _error(exc)
        st.session_state.pop(HEAD, None)
        return
    top, new = st.columns([4, 1], vertical_alignment="center")
    top.subheader(f"Conversation · {len(turns)} turn{'s' if len(turns) != 1 else ''}", anchor=False)
    new.button(
        "New conversation",
        key="edit_new",
        icon=":material/add:",
        on_click=lambda: st.session_state.pop(HEAD, None),
    )
    thread, view = st.columns([5, 6], gap="large")
    with view:
        _compare(turns)
    with thread:
        _continue(head, turns)


def _continue(head: int, turns: list[GenerationRecord]) -> None:
    forks = _branches(head, turns)
    for number, record in enumerate(turns[:-1], start=1):
        _turn(record, head, number, forks.get(record.id, 0))
    if studio.is_active(head):
        _live(head, len(turns))
        return
    _turn(turns[-1], head, len(turns), forks.get(turns[-1].id, 0))
    if turns[-1].status != SUCCEEDED:
        st.caption("This turn has no image to continue from: branch from an earlier turn.")
        return
    instruction = st.text_area("Next instruction", key="edit_instruction", placeholder="Make the teapot blue")
    extra = st.file_uploader(
        "More reference images (optional)",
        type=["png", "jpg", "jpeg", "webp"],
        accept_multiple_files=True,
        key="edit_extra",
    )
    _prefill(turns[-1])
    _model_line(turns[-1].model, "a conversation keeps its model")
    changes = controls.section("edit", turns[-1].model)
    if st.button("Send", type="primary", icon=":material/send:", key="edit_send"):
        refs = _refs(extra)
        if not guard.allow("edit", _print("continue", head, instruction, changes, refs=refs)):
            return
        try:
            ids = studio.editing.continue_(head, instruction, refs, **changes)
        except StudioError as exc:
            guard.forget("edit")
            _error(exc)
            return
        st.session_state[HEAD] = ids[0]
        st.session_state.pop("edit_instruction", None)
        st.rerun()


link_error = st.session_state.pop("edit_link_error", None)
if link_error:  # the version was made, but could not be tied to its comment
    st.warning(components.escape_md(link_error), icon=":material/link_off:")
head_id = st.session_state.get(HEAD)
if st.session_state.get(SOURCE) is not None:
    _source_start(int(st.session_state[SOURCE]))
elif head_id is None:
    _start()
else:
    _thread(int(head_id))
