"""What each Gemini image model accepts: sizes, ratios, reference limits, features and list prices.

Figures come from docs/gemini-wire.md §5 (models, sizes, list prices, late 2026). They are nominal:
the studio measures every decoded image rather than trusting these tables. A model id that is not in
the catalogue can still be used; it gets permissive defaults (``lookup`` never fails).

``validate`` is the one rule a request must pass before a pending row is written or anything is paid for,
on every path (Generate, Edit, Experiment, ``studio batch``, ``studio generate``); ``resolve_model`` turns
what a person types (an id, a display name, an alias, any case) into the catalogue id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from studio.domain.errors import InputError

if TYPE_CHECKING:
    from studio.domain.requests import GenerationRequest

RATIOS_10 = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
RATIOS_14 = RATIOS_10 + ("1:4", "4:1", "1:8", "8:1")

# Gemini 2.5 Flash Image: one size (1K), pixel sizes per ratio.
_FLASH25_1K = {
    "1:1": (1024, 1024),
    "2:3": (832, 1248),
    "3:2": (1248, 832),
    "3:4": (864, 1184),
    "4:3": (1184, 864),
    "4:5": (896, 1152),
    "5:4": (1152, 896),
    "9:16": (768, 1344),
    "16:9": (1344, 768),
    "21:9": (1536, 672),
}
# Gemini 3 Pro / 3.1 Flash at 1K; 2K and 4K are exact multiples (x2, x4).
_G3_1K = {
    "1:1": (1024, 1024),
    "2:3": (848, 1264),
    "3:2": (1264, 848),
    "3:4": (896, 1200),
    "4:3": (1200, 896),
    "4:5": (928, 1152),
    "5:4": (1152, 928),
    "9:16": (768, 1376),
    "16:9": (1376, 768),
    "21:9": (1584, 672),
    "1:4": (512, 2048),
    "4:1": (2048, 512),
    "1:8": (384, 3072),
    "8:1": (3072, 384),
}
# 3.1 Flash's 512 tier is not an exact half of 1K for every ratio; 21:9 is printed as 792x168 in
# the docs, which is a typo for the ratio-true 792x336.
_G31_512 = {
    "1:1": (512, 512),
    "2:3": (424, 632),
    "3:2": (632, 424),
    "3:4": (448, 600),
    "4:3": (600, 448),
    "4:5": (464, 576),
    "5:4": (576, 464),
    "9:16": (384, 688),
    "16:9": (688, 384),
    "21:9": (792, 336),
    "1:4": (256, 1024),
    "4:1": (1024, 256),
    "1:8": (192, 1536),
    "8:1": (1536, 192),
}


def _scaled(
    table: dict[str, tuple[int, int]], factor: int, ratios: tuple[str, ...]
) -> dict[str, tuple[int, int]]:
    return {r: (table[r][0] * factor, table[r][1] * factor) for r in ratios}


@dataclass(frozen=True)
class ModelSpec:
    id: str
    label: str
    sizes: tuple[str, ...]  # values for imageConfig.imageSize; () = do not send it
    ratios: tuple[str, ...]
    pixels: dict[str, dict[str, tuple[int, int]]]  # size -> ratio -> (w, h); size "1K" when sizes == ()
    max_objects: int  # reference images of objects
    max_characters: int  # reference images of people/characters (0: no distinction)
    output_tokens: dict[str, int]  # size -> output tokens per image
    usd_per_image: dict[str, float]  # size -> list price per output image
    usd_per_input_image: float = 0.0
    usd_per_m_text_in: float = 0.30  # input tokens (text, and images counted in tokens)
    usd_per_m_text_out: float = 2.50  # text and thinking tokens out (a reply's image tokens: usd_per_image)
    thinking_levels: tuple[str, ...] = ()  # () = no thinkingConfig.thinkingLevel
    signs_parts: bool = False  # Gemini 3: thoughtSignature on parts, must be sent back
    google_search: bool = False
    image_search: bool = False
    supports_seed: bool = True
    stage: str = "stable"  # stable | preview | retired
    notes: str = ""
    output_mime: str = "image/png"

    @property
    def max_references(self) -> int:
        return self.max_objects + self.max_characters

    @property
    def default_size(self) -> str | None:
        return "1K" if "1K" in self.sizes else (self.sizes[0] if self.sizes else None)

    def pixel_size(self, ratio: str | None, size: str | None) -> tuple[int, int] | None:
        table = self.pixels.get(size or "1K") or self.pixels.get("1K") or {}
        return table.get(ratio or "1:1")

    def price(self, size: str | None) -> float:
        return self.usd_per_image.get(size or "1K", next(iter(self.usd_per_image.values()), 0.0))

    def tokens(self, size: str | None) -> int:
        return self.output_tokens.get(size or "1K", next(iter(self.output_tokens.values()), 0))


# Family templates: each catalogue entry below is one of these with its id and label (and stage) replaced.
_FLASH25 = ModelSpec(
    id="",
    label="",
    sizes=(),
    ratios=RATIOS_10,
    pixels={"1K": _FLASH25_1K},
    max_objects=3,
    max_characters=0,
    output_tokens={"1K": 1290},
    usd_per_image={"1K": 0.039},
    usd_per_input_image=0.0004,
    output_mime="image/png",
)
_PRO3 = ModelSpec(
    id="",
    label="",
    sizes=("1K", "2K", "4K"),
    ratios=RATIOS_10,
    pixels={
        "1K": _scaled(_G3_1K, 1, RATIOS_10),
        "2K": _scaled(_G3_1K, 2, RATIOS_10),
        "4K": _scaled(_G3_1K, 4, RATIOS_10),
    },
    max_objects=6,
    max_characters=5,
    output_tokens={"1K": 1120, "2K": 1120, "4K": 2000},
    usd_per_image={"1K": 0.134, "2K": 0.134, "4K": 0.24},
    usd_per_input_image=0.0011,
    usd_per_m_text_in=2.0,
    usd_per_m_text_out=12.0,
    signs_parts=True,
    google_search=True,
    supports_seed=True,
    output_mime="image/jpeg",
    notes="Thinking is always on; up to two interim thought images.",
)
_FLASH31 = ModelSpec(
    id="",
    label="",
    sizes=("512", "1K", "2K", "4K"),
    ratios=RATIOS_14,
    pixels={
        "512": _G31_512,
        "1K": _scaled(_G3_1K, 1, RATIOS_14),
        "2K": _scaled(_G3_1K, 2, RATIOS_14),
        "4K": _scaled(_G3_1K, 4, RATIOS_14),
    },
    max_objects=10,
    max_characters=4,
    output_tokens={"512": 747, "1K": 1120, "2K": 1680, "4K": 2520},
    usd_per_image={"512": 0.045, "1K": 0.067, "2K": 0.101, "4K": 0.151},
    usd_per_input_image=0.0006,
    usd_per_m_text_in=0.50,
    usd_per_m_text_out=3.0,
    thinking_levels=("MINIMAL", "HIGH"),
    signs_parts=True,
    google_search=True,
    image_search=True,
    output_mime="image/jpeg",
)
_LITE31 = ModelSpec(
    id="",
    label="",
    sizes=(),
    ratios=RATIOS_14,
    pixels={"1K": _scaled(_G3_1K, 1, RATIOS_14)},
    max_objects=3,
    max_characters=0,
    output_tokens={"1K": 1120},
    usd_per_image={"1K": 0.039},
    thinking_levels=("MINIMAL", "HIGH"),
    signs_parts=True,
    output_mime="image/jpeg",
    notes="1K only; reference limits are not documented, 3 assumed.",
)

MODELS: dict[str, ModelSpec] = {
    spec.id: spec
    for spec in (
        replace(_FLASH31, id="gemini-3.1-flash-image", label="Nano Banana 2 (3.1 Flash Image)"),
        replace(_PRO3, id="gemini-3-pro-image", label="Nano Banana Pro (3 Pro Image)"),
        replace(_FLASH25, id="gemini-2.5-flash-image", label="Nano Banana (2.5 Flash Image)"),
        replace(_LITE31, id="gemini-3.1-flash-lite-image", label="Nano Banana 2 Lite (3.1 Flash-Lite Image)"),
        replace(
            _FLASH31, id="gemini-3.1-flash-image-preview", label="Nano Banana 2 preview", stage="preview"
        ),
        replace(_PRO3, id="gemini-3-pro-image-preview", label="Nano Banana Pro preview", stage="preview"),
        replace(
            _FLASH25,
            id="gemini-2.5-flash-image-preview",
            label="Nano Banana preview (retired by Google)",
            stage="retired",
            notes="Google answers 404 since 2025-10-31; relays may still serve it.",
        ),
    )
}

#: The spec's relay documents these four ids; the default is the first stable id that a relay also serves.
SPEC_MODELS = (
    "gemini-2.5-flash-image",
    "gemini-2.5-flash-image-preview",
    "gemini-3-pro-image-preview",
    "gemini-3.1-flash-image-preview",
)
DEFAULT_MODEL = "gemini-2.5-flash-image"
#: Text model used for prompt enhancement (a setting; the emulator answers it too).
DEFAULT_TEXT_MODEL = "gemini-2.5-flash"


def _fallback(model_id: str) -> ModelSpec:
    """Permissive defaults for an id we do not know: every ratio and size, 14 references."""
    return ModelSpec(
        model_id,
        model_id,
        sizes=_FLASH31.sizes,
        ratios=RATIOS_14,
        pixels=_FLASH31.pixels,
        max_objects=14,
        max_characters=0,
        output_tokens=_FLASH31.output_tokens,
        usd_per_image=_FLASH31.usd_per_image,
        stage="unknown",
        notes="Not in the studio's catalogue: settings are passed through unchecked.",
    )


def lookup(model_id: str) -> ModelSpec:
    return MODELS.get(model_id) or _fallback(model_id)


def is_known(model_id: str) -> bool:
    return model_id in MODELS


def display_label(model_id: str) -> str:
    """The name a model list shows: its label, and its stage only when the label does not already say it
    ("Nano Banana 2 preview", never "Nano Banana 2 preview (preview)")."""
    spec = lookup(model_id)
    if spec.stage in ("stable", "unknown") or spec.stage in spec.label.lower():
        return spec.label
    return f"{spec.label} ({spec.stage})"


@dataclass(frozen=True)
class Estimate:
    images: int
    output_tokens: int
    usd: float
    pixels: tuple[int, int] | None
    notes: list[str] = field(default_factory=list)


def estimate(
    model_id: str,
    *,
    size: str | None,
    ratio: str | None,
    variants: int = 1,
    references: int = 0,
    prompt_chars: int = 0,
) -> Estimate:
    """List-price estimate of a request of ``variants`` calls: output images + input images + text."""
    spec = lookup(model_id)
    size = size if size in spec.sizes else spec.default_size
    per_call = spec.price(size) + references * spec.usd_per_input_image
    per_call += (prompt_chars / 4) * spec.usd_per_m_text_in / 1_000_000
    return Estimate(
        images=variants,
        output_tokens=spec.tokens(size) * variants,
        usd=round(per_call * variants, 4),
        pixels=spec.pixel_size(ratio, size),
    )


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def reply_usd(
    model_id: str, usage: Mapping[str, Any], *, size: str | None, references: int = 0, prompt_chars: int = 0
) -> float:
    """List price of a call whose reply holds no image (blocked, filtered, text only): the endpoint still
    bills the tokens it reports in ``usage`` (``usageMetadata``). Input tokens at the text input rate,
    text and thinking tokens out at the output rate, image tokens (``candidatesTokensDetails``, modality
    IMAGE) at the image's list price per token. A reply reporting no ``promptTokenCount`` is priced as the
    input part of the estimate (reference images and prompt text), never as nothing."""
    spec = lookup(model_id)
    size = size if size in spec.sizes else spec.default_size
    prompt = _count(usage.get("promptTokenCount"))
    if prompt is None:
        text_in = (prompt_chars / 4) * spec.usd_per_m_text_in / 1_000_000
        return round(references * spec.usd_per_input_image + text_in, 6)
    details = usage.get("candidatesTokensDetails")
    image_tokens = sum(
        _count(d.get("tokenCount")) or 0
        for d in (details if isinstance(details, list) else [])
        if isinstance(d, dict) and str(d.get("modality", "")).upper() == "IMAGE"
    )
    text_out = max(0, (_count(usage.get("candidatesTokenCount")) or 0) - image_tokens)
    text_out += _count(usage.get("thoughtsTokenCount")) or 0
    per_image_token = spec.price(size) / spec.tokens(size) if spec.tokens(size) else 0.0
    usd = prompt * spec.usd_per_m_text_in / 1_000_000 + text_out * spec.usd_per_m_text_out / 1_000_000
    return round(usd + image_tokens * per_image_token, 6)


# -- the one rule: what a request may ask of its model -------------------------------------------

MAX_VARIANTS = 8
MODALITIES = ("TEXT", "IMAGE")


def validate(req: GenerationRequest, *, reference_roles: Sequence[str] | None = None) -> None:
    """Raise InputError, with a sentence, for a request its model is documented not to accept.

    The single home of the rule: ``Studio.submit`` enforces it before a pending row is written, and every
    path calls it earlier for its own messages (a batch per line, a run's plan per cell). ``reference_roles``
    stands in for ``req.references`` when the images are not loaded yet (a run knows them by path). An id
    the catalogue does not know is checked only for what holds for every model.
    """
    spec = lookup(req.model)
    roles = [ref.role for ref in req.references] if reference_roles is None else list(reference_roles)
    if not req.prompt.strip() and not roles:
        raise InputError("Write a prompt or add at least one reference image.")
    if not 1 <= req.variants <= MAX_VARIANTS:
        raise InputError(f"Ask for between 1 and {MAX_VARIANTS} variants (got {req.variants}).")
    modalities = {str(m).upper() for m in req.modalities}
    if "IMAGE" not in modalities or not modalities <= set(MODALITIES):
        asked = ", ".join(map(str, req.modalities)) or "nothing"
        raise InputError(f"Ask for an image, or for text and an image (this request asks for {asked}).")
    _check_references(spec, roles)
    if not is_known(req.model):
        return
    if req.aspect_ratio and req.aspect_ratio not in spec.ratios:
        raise InputError(
            f"{spec.label} does not accept the aspect ratio {req.aspect_ratio}. "
            f"Choose one of {', '.join(spec.ratios)}."
        )
    if req.image_size and req.image_size not in (spec.sizes or ("1K",)):
        accepted = ", ".join(spec.sizes) if spec.sizes else "1K only"
        raise InputError(
            f"{spec.label} does not accept the image size {req.image_size} ({accepted}). "
            "Pick a listed size or another model."
        )
    _check_features(spec, req)


def _check_references(spec: ModelSpec, roles: list[str]) -> None:
    if len(roles) > spec.max_references:
        raise InputError(
            f"{spec.label} accepts at most {spec.max_references} reference images; "
            f"remove {len(roles) - spec.max_references} of the {len(roles)}."
        )
    if not spec.max_characters:  # no distinction between objects and characters
        return
    characters = sum(1 for role in roles if role == "character")
    for what, used, cap in (
        ("character", characters, spec.max_characters),
        ("object", len(roles) - characters, spec.max_objects),
    ):
        if used > cap:
            raise InputError(
                f"{spec.label} accepts at most {cap} {what} reference images; "
                f"remove {used - cap} of the {used}."
            )


def _check_features(spec: ModelSpec, req: GenerationRequest) -> None:
    level = (req.thinking_level or "").upper()
    if level and level not in spec.thinking_levels:
        if spec.thinking_levels:
            raise InputError(
                f"{spec.label} takes the thinking level {' or '.join(spec.thinking_levels)}, "
                f"not {req.thinking_level}."
            )
        raise InputError(f"{spec.label} has no thinking level to set; leave it empty.")
    if req.google_search and not spec.google_search:
        raise InputError(
            f"{spec.label} has no Google Search grounding; turn it off or pick Nano Banana Pro "
            "or Nano Banana 2."
        )
    if req.google_search and req.image_search and not spec.image_search:
        raise InputError(
            f"Image search is available on Nano Banana 2 (3.1 Flash Image) only, not on {spec.label}; "
            "turn it off."
        )


# -- what a person types: ids, display names, aliases --------------------------------------------

#: A model id as a relay may name one the catalogue does not know (no spaces).
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:-]*")


def _norm(name: str) -> str:
    """'Nano-Banana_PRO', 'nano banana pro' and ' models/nano-banana-pro ' compare equal."""
    text = name.strip().lower().removeprefix("models/")
    return " ".join(re.split(r"[\s_-]+", text)).strip()


def _names(spec: ModelSpec) -> list[str]:
    """How the studio shows a model: its id, its label, the label's parts, the picker's 'label (stage)'."""
    names = [spec.id, spec.label, spec.label.split(" (")[0]]
    names += [part for part in re.findall(r"\(([^()]*)\)", spec.label) if "retired" not in part.lower()]
    if spec.stage != "stable":
        names.append(f"{spec.label} ({spec.stage})")
    return names


def _name_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for spec in MODELS.values():  # stable models come first and keep a name they share
        for name in _names(spec):
            index.setdefault(_norm(name), spec.id)
    return index


def find_model(name: str) -> str | None:
    """The catalogue id for an id, a display name or an alias (any case, '-' or ' '), or None."""
    return _name_index().get(_norm(name or ""))


def resolve_model(name: str) -> str:
    """The model id to record for what a person typed (``--model``, a batch's model column).

    "Nano Banana Pro", ``nano-banana-pro`` and ``GEMINI-3-PRO-IMAGE`` all give ``gemini-3-pro-image``. An id
    the catalogue does not know is kept as typed when it names an image model (it contains "image": a relay
    may serve newer ones); anything else is refused with a sentence listing the known models.
    """
    found = find_model(name)
    if found is not None:
        return found
    typed = (name or "").strip().removeprefix("models/")
    if _ID.fullmatch(typed) and "image" in typed.lower():
        return typed
    known = "; ".join(
        f"{spec.id} ({spec.label.split(' (')[0]}{', retired' if spec.stage == 'retired' else ''})"
        for spec in MODELS.values()
    )
    what = f"“{typed}” is not a model the studio knows" if typed else "No model was named"
    raise InputError(
        f"{what}. Use one of: {known}. An id the studio does not list is sent as typed "
        "only when it names an image model (it contains “image”)."
    )
