"""The "Advanced" controls (system instruction, sampling, thinking, grounding, safety) and the thoughts and
grounding sources of a finished generation. Shared by Generate, Edit and Experiment.

Each page passes a key ``prefix``; widgets live in ``{prefix}_adv_*``. A control the model does not accept
is disabled with the reason as its help and caption, and its value is never returned, so a value left
over from another model cannot reach the request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import streamlit as st

from studio.app.widgets.components import escape_md
from studio.domain import advanced_controls as controls
from studio.domain.advanced_controls import Support
from studio.domain.conversation import sources
from studio.services.gallery import GenerationRecord, ImageRecord

DEFAULT = "Model default"
#: The "Model default" choice of a select box. Not None: a select box whose value is set to None from code
#: (a remix, the turn an edit continues) is drawn blank instead of showing "Model default".
DEFAULT_CHOICE = ""
THOUGHTS_TITLE = "Thoughts (not billed as output)"


def key(prefix: str, name: str) -> str:
    return f"{prefix}_adv_{name}"


def _safety_key(prefix: str, category: str) -> str:
    return key(prefix, "safety_" + category.removeprefix("HARM_CATEGORY_").lower())


def prefill(prefix: str, settings: Mapping[str, Any]) -> None:
    """Set the widgets from a stored request's settings (a remix, or the turn a conversation continues)."""
    ss = st.session_state
    ss[key(prefix, "system")] = settings.get(controls.SYSTEM) or ""
    for name in (controls.TEMPERATURE, controls.TOP_P, controls.SEED):
        ss[key(prefix, name)] = settings.get(name)
    ss[key(prefix, "thinking")] = settings.get(controls.THINKING) or DEFAULT_CHOICE
    for name in (controls.THOUGHTS, controls.SEARCH, controls.IMAGE_SEARCH):
        ss[key(prefix, name)] = bool(settings.get(name))
    chosen = {
        s.get("category"): s.get("threshold")
        for s in settings.get(controls.SAFETY) or []
        if isinstance(s, Mapping)
    }
    for category in controls.HARM_CATEGORIES:
        ss[_safety_key(prefix, category)] = chosen.get(category) or DEFAULT_CHOICE


def _why_not(support: Support) -> None:
    if not support.ok:
        st.caption(f":material/block: {escape_md(support.reason)}")


def _help(support: Support, text: str = "") -> str | None:
    return " ".join(t for t in (text, support.reason) if t) or None


def _number(
    prefix: str,
    name: str,
    label: str,
    support: Support,
    *,
    lo,
    hi,
    step,
    fmt: str | None = None,
    text: str = "",
) -> Any:
    value = st.number_input(
        label,
        min_value=lo,
        max_value=hi,
        step=step,
        value=None,
        format=fmt,
        key=key(prefix, name),
        disabled=not support.ok,
        help=_help(support, text),
        placeholder=DEFAULT,
    )
    return value if support.ok else None


def _sampling(prefix: str, support: Mapping[str, Support], skip: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    left, middle, right = st.columns(3)
    with left:
        lo, hi = controls.TEMPERATURE_RANGE
        out[controls.TEMPERATURE] = _number(
            prefix,
            controls.TEMPERATURE,
            "Temperature",
            support[controls.TEMPERATURE],
            lo=lo,
            hi=hi,
            step=0.1,
            text="0 to 2; default 1.0.",
        )
    with middle:
        lo, hi = controls.TOP_P_RANGE
        out[controls.TOP_P] = _number(
            prefix,
            controls.TOP_P,
            "Top-p",
            support[controls.TOP_P],
            lo=lo,
            hi=hi,
            step=0.05,
            text="0 to 1; default 0.95.",
        )
    if controls.SEED not in skip:
        with right:
            lo, hi = controls.SEED_RANGE
            seed = _number(
                prefix, controls.SEED, "Seed", support[controls.SEED], lo=lo, hi=hi, step=1, fmt="%d"
            )
            out[controls.SEED] = int(seed) if seed is not None else None
            _why_not(support[controls.SEED])
    return out


def _thinking(prefix: str, support: Mapping[str, Support], levels: tuple[str, ...]) -> dict[str, Any]:
    level_support, thoughts_support = support[controls.THINKING], support[controls.THOUGHTS]
    options = [DEFAULT_CHOICE, *levels] if level_support.ok else [DEFAULT_CHOICE]
    if (
        key(prefix, "thinking") in st.session_state
        and st.session_state[key(prefix, "thinking")] not in options
    ):
        st.session_state[key(prefix, "thinking")] = DEFAULT_CHOICE  # a level chosen for another model
    left, right = st.columns(2)
    with left:
        level = st.selectbox(
            "Thinking level",
            options,
            key=key(prefix, "thinking"),
            format_func=lambda v: DEFAULT if not v else v.title(),
            disabled=not level_support.ok,
            help=_help(level_support),
        )
        _why_not(level_support)
    with right:
        thoughts = st.checkbox(
            "Show thoughts",
            key=key(prefix, controls.THOUGHTS),
            disabled=not thoughts_support.ok,
            help=_help(thoughts_support, "Sends thinkingConfig.includeThoughts."),
        )
        _why_not(thoughts_support)
    return {
        controls.THINKING: (level or None) if level_support.ok else None,
        controls.THOUGHTS: bool(thoughts) and thoughts_support.ok,
    }


def _grounding(prefix: str, support: Mapping[str, Support], skip: tuple[str, ...]) -> dict[str, Any]:
    web, images = support[controls.SEARCH], support[controls.IMAGE_SEARCH]
    left, right = st.columns(2)
    with left:
        search = st.checkbox(
            "Google Search grounding",
            key=key(prefix, controls.SEARCH),
            disabled=not web.ok,
            help=_help(web, "The model may look things up; sources are listed under the image."),
        )
        _why_not(web)
    out = {controls.SEARCH: bool(search) and web.ok}
    if controls.IMAGE_SEARCH in skip:
        return out
    with right:
        image = st.checkbox(
            "Include image search",
            key=key(prefix, controls.IMAGE_SEARCH),
            disabled=not (images.ok and out[controls.SEARCH]),
            help=_help(images, "Needs Google Search grounding on."),
        )
        _why_not(images)
    out[controls.IMAGE_SEARCH] = bool(image) and images.ok and out[controls.SEARCH]
    return out


def _safety(prefix: str, support: Support) -> tuple[dict[str, str], ...]:
    st.markdown("**Safety settings**")
    columns = st.columns(2)
    chosen: dict[str, str | None] = {}
    for index, (category, label) in enumerate(controls.HARM_CATEGORIES.items()):
        chosen[category] = (
            columns[index % 2].selectbox(
                label,
                [DEFAULT_CHOICE, *controls.THRESHOLDS],
                key=_safety_key(prefix, category),
                disabled=not support.ok,
                format_func=lambda v: DEFAULT if not v else v.replace("_", " ").capitalize(),
            )
            or None
        )
    st.caption(escape_md(controls.SAFETY_NOTE))
    return controls.safety(chosen) if support.ok else ()


def advanced(
    prefix: str, support: Mapping[str, Support], levels: tuple[str, ...], *, skip: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Render the controls (call inside an expander); return GenerationRequest fields for ``replace``."""
    ss = st.session_state
    ss.setdefault(key(prefix, "system"), "")
    # a one-line input: the page's only text area stays the prompt (shortcuts and tests look for it)
    system = st.text_input(
        "System instruction",
        key=key(prefix, "system"),
        disabled=not support[controls.SYSTEM].ok,
        help=_help(support[controls.SYSTEM]),
        placeholder="e.g. You are a product photographer. Always use a white seamless backdrop.",
    )
    out: dict[str, Any] = {controls.SYSTEM: (system.strip() or None) if support[controls.SYSTEM].ok else None}
    out |= _sampling(prefix, support, skip)
    reason = support[controls.TEMPERATURE].reason
    if reason and support[controls.TEMPERATURE].ok:
        st.caption(escape_md(reason))
    out |= _thinking(prefix, support, levels)
    out |= _grounding(prefix, support, skip)
    out[controls.SAFETY] = _safety(prefix, support[controls.SAFETY])
    return {k: v for k, v in out.items() if k not in skip}


def section(prefix: str, model: str, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """An "Advanced" expander for one model."""
    with st.expander("Advanced", icon=":material/tune:", key=key(prefix, "box")):
        return advanced(prefix, controls.supported(model), controls.thinking_levels(model), skip=skip)


# -- what came back ----------------------------------------------------------------------------------


def thoughts(record: GenerationRecord, preview: Callable[[ImageRecord], Path], *, key_prefix: str) -> None:
    """Thought text and interim images, apart from the final image (they are not billed as output).
    Each image is shown from its ``preview``: st.image re-encodes a wide original every rerun."""
    if not record.thoughts_text and not record.thought_images:
        return
    with st.expander(THOUGHTS_TITLE, icon=":material/psychology:", key=f"{key_prefix}_thoughts_{record.id}"):
        if record.thoughts_text:
            st.text(record.thoughts_text)  # plain text: the model's words are never rendered as Markdown
        for image in record.thought_images:
            if Path(image.path).exists():
                shown = preview(image)
                st.image(str(shown), width="stretch", caption="Interim thought image")


def is_web_url(uri: str) -> bool:
    parsed = urlparse(uri)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def grounding_sources(record: GenerationRecord, *, key_prefix: str) -> None:
    """Google Search sources as inert text; a link button only for http(s) addresses."""
    found = sources(record)
    if not found:
        return
    st.caption(":material/travel_explore: Sources (Google Search)")
    for index, (title, uri) in enumerate(found):
        text, button = st.columns([4, 1], vertical_alignment="center")
        text.text(f"{title}\n{uri}" if title != uri else uri)
        if is_web_url(uri):
            button.link_button(
                "Open",
                uri,
                icon=":material/open_in_new:",
                key=f"{key_prefix}_src_{record.id}_{index}",
                help="Opens the source page in a new tab",
            )
        else:
            button.caption("not a web link")


def outputs(record: GenerationRecord, preview: Callable[[ImageRecord], Path], *, key_prefix: str) -> None:
    """Everything shown under a final image: grounding sources, then the thoughts."""
    grounding_sources(record, key_prefix=key_prefix)
    thoughts(record, preview, key_prefix=key_prefix)
