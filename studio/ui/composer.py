"""The Generate form's stateful widgets. Each function owns its ``gen_*`` session keys and returns
plain values; ``compose`` assembles them into a GenerationRequest (or None when one is impossible).
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from studio import catalogue
from studio.catalogue import ModelSpec
from studio.domain import GenerationRequest, Reference
from studio.ui import references

CUSTOM = "__custom__"
OUTPUTS = {"Image only": ("IMAGE",), "Text and image": ("TEXT", "IMAGE")}
MAX_VARIANTS = 8


def consume_remix() -> GenerationRequest | None:
    """Pre-fill the form from a request another page put in ``st.session_state['remix']``."""
    req = st.session_state.pop("remix", None)
    if req is None:
        return None
    ss = st.session_state
    ss["gen_prompt"] = req.prompt
    known = catalogue.is_known(req.model)
    ss["gen_model"] = req.model if known else CUSTOM
    ss["gen_custom_model"] = "" if known else req.model
    ss["gen_ratio"] = req.aspect_ratio
    ss["gen_size"] = req.image_size
    ss["gen_output"] = "Text and image" if "TEXT" in req.modalities else "Image only"
    ss["gen_variants"] = max(1, min(MAX_VARIANTS, req.variants))
    ss["gen_base"] = replace(req, references=(), history=())
    references.carry(list(req.references))
    return req


def clear_remix() -> None:
    st.session_state.pop("gen_base", None)
    references.carry([])


def _option_label(model_id: str) -> str:
    if model_id == CUSTOM:
        return "Custom model id…"
    spec = catalogue.MODELS[model_id]
    stage = "" if spec.stage == "stable" else f" ({spec.stage})"
    return f"{spec.label}{stage}"


def model_picker() -> str:
    """A catalogue model, or whatever id the designer types (a relay may serve others)."""
    options = [*catalogue.MODELS, CUSTOM]
    st.session_state.setdefault("gen_model", catalogue.DEFAULT_MODEL)
    choice = st.selectbox("Model", options, format_func=_option_label, key="gen_model")
    if choice != CUSTOM:
        st.caption(f"`{choice}`")
        return choice
    return st.text_input("Custom model id", key="gen_custom_model",
                         placeholder="e.g. gemini-3-pro-image-preview").strip()


def _keep_valid(key: str, options: tuple[str, ...], default: str | None) -> None:
    """A choice made for another model may not exist on this one: fall back to the default."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = default


def ratio_and_size(spec: ModelSpec) -> tuple[str, str | None]:
    _keep_valid("gen_ratio", spec.ratios, "1:1" if "1:1" in spec.ratios else spec.ratios[0])
    left, right = st.columns(2)
    ratio = left.selectbox("Aspect ratio", spec.ratios, key="gen_ratio")
    if not spec.sizes:
        right.caption("Image size  \n1K only on this model")
        return ratio, None
    _keep_valid("gen_size", spec.sizes, spec.default_size)
    return ratio, right.selectbox("Image size", spec.sizes, key="gen_size")


def output_and_variants() -> tuple[tuple[str, ...], int]:
    left, right = st.columns(2)
    st.session_state.setdefault("gen_output", "Image only")
    output = left.radio("Output", list(OUTPUTS), key="gen_output", horizontal=True)
    st.session_state.setdefault("gen_variants", 1)
    variants = right.number_input("Variants", min_value=1, max_value=MAX_VARIANTS, step=1, key="gen_variants",
                                  help="Each variant is a separate call, run in parallel.")
    return OUTPUTS[output], int(variants or 1)


def estimate(model: str, ratio: str, size: str | None, variants: int, refs: list[Reference],
             prompt: str) -> None:
    est = catalogue.estimate(model, size=size, ratio=ratio, variants=variants,
                             references=len(refs), prompt_chars=len(prompt))
    pixels = f"{est.pixels[0]} × {est.pixels[1]} px" if est.pixels else "size decided by the endpoint"
    images = "1 image" if est.images == 1 else f"{est.images} images"
    with st.container(border=True):
        st.markdown(f":material/payments: **\\${est.usd:.3f}** estimated · :material/aspect_ratio: "
                    f"**{pixels}** · {images}")
        st.caption("List prices; the endpoint decides the final bill and pixel size.")


def compose() -> GenerationRequest | None:
    """Render the form; return the request it describes, or None (with the reason shown)."""
    prompt = st.text_area("Prompt", key="gen_prompt", height=140,
                          placeholder="A watercolour fox reading a map in a misty forest, soft morning light")
    model = model_picker()
    spec = catalogue.lookup(model or catalogue.DEFAULT_MODEL)
    if spec.notes:
        st.caption(spec.notes)
    ratio, size = ratio_and_size(spec)
    modalities, variants = output_and_variants()
    refs = references.uploader(spec)
    estimate(model or catalogue.DEFAULT_MODEL, ratio, size, variants, refs, prompt)
    if not model:
        st.warning("Type a model id, or pick one from the list.", icon=":material/edit:")
        return None
    base = st.session_state.get("gen_base") or GenerationRequest(prompt="", model=model)
    return replace(base, prompt=prompt, model=model, aspect_ratio=ratio, image_size=size,
                   modalities=modalities, references=tuple(refs), variants=variants)
