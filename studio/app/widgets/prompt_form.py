"""The Generate form's stateful widgets. Each function owns its ``gen_*`` session keys and returns
plain values; ``compose`` assembles them into a GenerationRequest (or None when one is impossible).

The prompt is written as plain text (``gen_prompt``) or as a form of fields (``gen_f_*``); the switch
happens in a callback, before either widget exists in the run, so nothing is lost either way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import streamlit as st

from studio.app.widgets import advanced_panel as advanced
from studio.app.widgets import references, sketch
from studio.app.widgets.components import escape_md
from studio.domain import catalogue, prompts
from studio.domain import composition as composer
from studio.domain.catalogue import ModelSpec
from studio.domain.errors import StudioError
from studio.domain.requests import GenerationRequest
from studio.services.session import StudioSession

CUSTOM = "__custom__"
MODE, TEXT, FORM = "gen_mode", "Text", "Form"
EXTRA = "gen_f_extra"
PROPOSALS = "gen_proposals"
CHOSEN = "gen_chosen"
#: what a remix or a Library template loaded (``composer.origin``); recorded only while its text holds
ORIGIN = "gen_origin"
PER_PROPOSAL = "gen_per_proposal"
PLACEHOLDERS = {
    "subject": "a red fox",
    "action": "reading a folded paper map",
    "scene": "misty pine forest at dawn",
    "composition": "medium shot, rule of thirds",
    "camera": "35 mm, f/2, shallow depth of field",
    "style": "watercolour illustration",
    "lighting": "soft backlight",
    "palette": "moss green, rust, cream",
    "text": "“TRAIL 7” on a wooden sign",
    "constraints": "no people, no watermark",
}
OUTPUTS = {"Image only": ("IMAGE",), "Text and image": ("TEXT", "IMAGE")}


def consume_remix() -> GenerationRequest | None:
    """Pre-fill the form from a request another page put in ``st.session_state['remix']``."""
    req = st.session_state.pop("remix", None)
    if req is None:
        return None
    ss = st.session_state
    fields = (req.composition or {}).get("fields")
    if (req.composition or {}).get("mode") == FORM.lower() and isinstance(fields, dict):
        ss[MODE] = FORM
        _set_form(
            {k: str(fields.get(k, "")) for k in composer.FIELD_KEYS}, str(req.composition.get("extra", ""))
        )
    else:
        ss[MODE] = TEXT
        ss["gen_prompt"] = req.prompt
    known = catalogue.is_known(req.model)
    ss["gen_model"] = req.model if known else CUSTOM
    ss["gen_custom_model"] = "" if known else req.model
    ss["gen_ratio"] = req.aspect_ratio
    ss["gen_size"] = req.image_size
    ss["gen_output"] = "Text and image" if "TEXT" in req.modalities else "Image only"
    ss["gen_variants"] = max(1, min(catalogue.MAX_VARIANTS, req.variants))
    # the base keeps the settings; provenance is derived again at submit (a remix is not a run's cell)
    ss["gen_base"] = replace(req, references=(), history=(), composition=None, run_id=None, cell_key=None)
    ss[ORIGIN] = composer.origin(current_prompt(), req.composition)
    advanced.prefill("gen", req.settings())
    references.carry(list(req.references))
    return req


def clear_remix() -> None:
    st.session_state.pop("gen_base", None)
    st.session_state.pop(ORIGIN, None)
    references.carry([])


# -- prompt: text or form -------------------------------------------------------------------------


def _field_key(key: str) -> str:
    return f"gen_f_{key}"


def _form_values() -> dict[str, str]:
    return {key: st.session_state.get(_field_key(key)) or "" for key in composer.FIELD_KEYS}


def _set_form(fields: dict[str, str], extra: str) -> None:
    for key in composer.FIELD_KEYS:
        st.session_state[_field_key(key)] = fields.get(key, "")
    st.session_state[EXTRA] = extra


def current_prompt() -> str:
    if st.session_state.get(MODE) == FORM:
        return composer.to_text(_form_values(), st.session_state.get(EXTRA) or "")
    return st.session_state.get("gen_prompt") or ""


def set_prompt(text: str) -> None:
    """Replace the prompt in whichever mode is shown (call from callbacks only)."""
    if st.session_state.get(MODE) == FORM:
        _set_form(*composer.to_form(text))
    else:
        st.session_state["gen_prompt"] = text


def append_instruction(instruction: str) -> None:
    set_prompt(composer.with_instruction(current_prompt(), instruction))


def _switch_mode() -> None:
    if st.session_state.get(MODE) == FORM:
        _set_form(*composer.to_form(st.session_state.get("gen_prompt") or ""))
    else:
        st.session_state["gen_prompt"] = composer.to_text(_form_values(), st.session_state.get(EXTRA) or "")


def prompt_editor() -> str:
    st.session_state.setdefault(MODE, TEXT)
    st.radio(
        "Write the prompt as",
        [TEXT, FORM],
        key=MODE,
        horizontal=True,
        on_change=_switch_mode,
        help="The form assembles a clean, labelled prompt; switching back and forth loses nothing.",
    )
    if st.session_state[MODE] == TEXT:
        return st.text_area(
            "Prompt",
            key="gen_prompt",
            height=110,
            placeholder="A watercolour fox reading a map in a misty forest, soft morning light",
        )
    # the fields scroll in a box of their own, so Generate below them stays in view at 900 px
    with st.container(height=300, key="gen_form_fields"):
        st.text_area(
            "Idea and anything else",
            key=EXTRA,
            height=68,
            placeholder="Free text; it goes first in the prompt",
        )
        columns = st.columns(2)
        for index, (key, label) in enumerate(prompts.FIELDS):
            columns[index % 2].text_input(label, key=_field_key(key), placeholder=PLACEHOLDERS.get(key, ""))
        prompt = current_prompt()
        with st.expander("Assembled prompt", expanded=False):
            st.code(prompt or " ", language=None, wrap_lines=True)
    return prompt


# -- enhancement ----------------------------------------------------------------------------------


def _use_proposal(index: int) -> None:
    proposal = st.session_state[PROPOSALS]
    text = st.session_state.get(f"gen_prop_{index}") or proposal["items"][index]
    st.session_state[MODE] = TEXT
    st.session_state["gen_prompt"] = text
    st.session_state[CHOSEN] = {
        "index": index,
        "text": text,
        "idea": proposal["idea"],
        "text_model": proposal["text_model"],
        "edited": text != proposal["items"][index],
    }


def _dismiss() -> None:
    st.session_state.pop(PROPOSALS, None)


def proposal_texts() -> list[str]:
    proposal = st.session_state.get(PROPOSALS) or {"items": []}
    texts = [st.session_state.get(f"gen_prop_{i}") or p for i, p in enumerate(proposal["items"])]
    return [t.strip() for t in texts if t.strip()]


def enhancer(studio: StudioSession, idea: str) -> None:
    left, right = st.columns([2, 3], vertical_alignment="center")
    pressed = left.button(
        "Enhance",
        key="gen_enhance",
        icon=":material/auto_fix_high:",
        width="stretch",
        disabled=not studio.settings.has_key,
    )
    right.caption(
        f"3 proposals from the text model **{escape_md(studio.settings.text_model)}** "
        "(set with `STUDIO_TEXT_MODEL`)"
    )
    if pressed:
        try:
            items = studio.enhance(idea, n=3)
        except StudioError as exc:
            st.warning(
                f"Enhancement failed; your prompt is unchanged. {escape_md(str(exc))}",
                icon=":material/warning:",
            )
        else:
            st.session_state[PROPOSALS] = {
                "idea": idea,
                "text_model": studio.settings.text_model,
                "items": items,
            }
            for index, text in enumerate(items):
                st.session_state[f"gen_prop_{index}"] = text
    proposal = st.session_state.get(PROPOSALS)
    if not proposal:
        return
    with st.container(border=True, key="gen_proposals_box"):
        st.markdown("**Proposals** · edit any, then use one or generate them all")
        for index in range(len(proposal["items"])):
            st.text_area(f"Proposal {index + 1}", key=f"gen_prop_{index}", height=110)
            st.button(
                "Use this",
                key=f"gen_use_{index}",
                icon=":material/check:",
                on_click=_use_proposal,
                args=(index,),
            )
        left, right = st.columns(2)
        left.button(
            "Generate one image per proposal",
            key=PER_PROPOSAL,
            icon=":material/burst_mode:",
            disabled=not studio.settings.has_key,
            width="stretch",
        )
        right.button(
            "Dismiss", key="gen_dismiss", icon=":material/close:", on_click=_dismiss, width="stretch"
        )


def _option_label(model_id: str) -> str:
    if model_id == CUSTOM:
        return "Custom model id…"
    return catalogue.display_label(model_id)


def model_picker(column=None) -> str:
    """A catalogue model, or whatever id the designer types (a relay may serve others)."""
    options = [*catalogue.MODELS, CUSTOM]
    st.session_state.setdefault("gen_model", catalogue.DEFAULT_MODEL)
    choice = (column or st).selectbox("Model", options, format_func=_option_label, key="gen_model")
    if choice != CUSTOM:
        return choice
    return st.text_input(
        "Custom model id", key="gen_custom_model", placeholder="e.g. gemini-3-pro-image-preview"
    ).strip()


def _keep_valid(key: str, options: tuple[str, ...], default: str | None) -> None:
    """A choice made for another model may not exist on this one: fall back to the default."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = default


def ratio_and_size(spec: ModelSpec, left=None, right=None) -> tuple[str, str | None]:
    _keep_valid("gen_ratio", spec.ratios, "1:1" if "1:1" in spec.ratios else spec.ratios[0])
    if left is None or right is None:
        left, right = st.columns(2)
    ratio = left.selectbox("Ratio", spec.ratios, key="gen_ratio")
    if not spec.sizes:
        right.selectbox("Size", ["1K"], key="gen_size_fixed", disabled=True, help="1K only on this model")
        return ratio, None
    _keep_valid("gen_size", spec.sizes, spec.default_size)
    return ratio, right.selectbox("Size", spec.sizes, key="gen_size")


def variants_input(column=None) -> int:
    st.session_state.setdefault("gen_variants", 1)
    variants = (column or st).number_input(
        "Variants",
        min_value=1,
        max_value=catalogue.MAX_VARIANTS,
        step=1,
        key="gen_variants",
        help="Each variant is a separate call, run in parallel.",
    )
    return int(variants or 1)


def output_choice() -> tuple[str, ...]:
    st.session_state.setdefault("gen_output", "Image only")
    output = st.radio("Output", list(OUTPUTS), key="gen_output", horizontal=True)
    return OUTPUTS[output]


def estimate(
    model: str, ratio: str, size: str | None, variants: int, refs: int, prompt: str, *, details: bool = False
) -> None:
    """One line next to Generate (cost and pixels); with ``details``, the tokens and per-proposal cost."""
    total = composer.summary(
        model, ratio=ratio, size=size, variants=variants, references=refs, texts=[prompt]
    )
    if not details:
        with st.container(key="gen_estimate", gap=None):
            st.markdown(
                f":material/payments: **{escape_md(f'${total.usd:.3f}')}** estimated · "
                f":material/aspect_ratio: **{escape_md(_pixels(total.pixels))}**",
                help="List prices; the endpoint decides the final bill and pixel size.",
            )
        return
    with st.container(key="gen_estimate_details", gap=None):
        st.caption(":material/payments: Estimate: " + escape_md(total.line()))
        texts = proposal_texts()
        if texts:
            each = composer.summary(model, ratio=ratio, size=size, variants=1, references=refs, texts=texts)
            st.caption("One image per proposal: " + escape_md(each.line()))


def _pixels(pixels: tuple[int, int] | None) -> str:
    return f"{pixels[0]} × {pixels[1]} px" if pixels else "size decided by the endpoint"


def _composition(prompt: str, refs: tuple) -> dict | None:
    """Derived from what the form holds now (see ``composer.at_submit``), never carried from an earlier run."""
    ss = st.session_state
    return composer.at_submit(
        prompt=prompt,
        mode=FORM.lower() if ss.get(MODE) == FORM else TEXT.lower(),
        fields=_form_values(),
        extra=ss.get(EXTRA) or "",
        chosen=ss.get(CHOSEN),
        came_from=ss.get(ORIGIN),
        sketches=ss.get(references.SKETCHES) or [],
        references=refs,
    )


def compose(studio: StudioSession, submit_area: Callable[[bool], None]) -> GenerationRequest | None:
    """Render the form; return the request it describes, or None (with the reason shown).

    What a designer touches on every run comes first (prompt; model, ratio, size and variants in one
    row), then ``submit_area(ready)`` (the Generate button and its status line), then everything used less
    often, in a part of the panel that scrolls on its own (``gen_more``), so Generate never moves."""
    prompt = prompt_editor()
    model_col, variants_col = st.columns([3, 1], gap="small")
    model = model_picker(model_col)
    variants = variants_input(variants_col)
    spec = catalogue.lookup(model or catalogue.DEFAULT_MODEL)
    ratio_col, size_col = st.columns(2, gap="small")
    ratio, size = ratio_and_size(spec, ratio_col, size_col)
    if not model:
        st.warning("Type a model id, or pick one from the list.", icon=":material/edit:")
    summary = (model or catalogue.DEFAULT_MODEL, ratio, size, variants, len(references.tray()), prompt)
    estimate(*summary)
    submit_area(bool(model))
    with st.container(key="gen_more", gap="small"):
        enhancer(studio, prompt)
        if spec.notes:
            st.caption(spec.notes)
        modalities = output_choice()
        refs = tuple(references.section(studio, spec))
        pad = st.expander(
            "Sketch and annotate", icon=":material/draw:", key="gen_sketch_pad", on_change="rerun"
        )
        if pad.open:  # the canvas (and its backdrop) is sent only while the pad is open
            with pad:
                sketch.section(spec, append_instruction)
        extra = advanced.section("gen", model or catalogue.DEFAULT_MODEL)
        estimate(*summary, details=True)
    if not model:
        return None
    base = st.session_state.get("gen_base")
    return replace(
        base or GenerationRequest(prompt="", model=model),
        prompt=prompt,
        model=model,
        aspect_ratio=ratio,
        image_size=size,
        modalities=modalities,
        references=refs,
        variants=variants,
        composition=_composition(prompt, refs),
        **extra,
    )


def per_proposal(request: GenerationRequest, studio: StudioSession) -> list[GenerationRequest]:
    proposal = st.session_state.get(PROPOSALS) or {}
    return composer.per_proposal(
        request,
        proposal_texts(),
        idea=proposal.get("idea", ""),
        text_model=proposal.get("text_model", studio.settings.text_model),
        came_from=st.session_state.get(ORIGIN),
    )
