"""The composer's rules, free of Streamlit: the reference tray per model, the cost summary, the
structured-prompt transitions and what is stored in ``GenerationRequest.composition``.

Every tray operation is a pure function returning a new tuple, or raising InputError/ImageRejected
with the reason; a refused change therefore leaves the caller's tray exactly as it was.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from studio.domain import catalogue, prompts
from studio.domain.catalogue import ModelSpec
from studio.domain.errors import ImageRejected, InputError
from studio.domain.requests import GenerationRequest, Reference

Tray = tuple[Reference, ...]
ROLES = ("object", "character")
#: Long side a reference is sent at; larger ones only cost upload time and tokens.
REFERENCE_MAX_SIDE = 2048
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


# -- the reference tray ---------------------------------------------------------------------------


def roles_for(spec: ModelSpec) -> tuple[str, ...]:
    """Roles the designer can choose: only models with a character limit distinguish them."""
    return ROLES if spec.max_characters else ("object",)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def limit_sentence(spec: ModelSpec) -> str:
    """'6 objects + 5 characters on Nano Banana Pro (3 Pro Image)'."""
    if spec.max_characters:
        return (
            f"{_plural(spec.max_objects, 'object')} + {_plural(spec.max_characters, 'character')} "
            f"on {spec.label}"
        )
    return f"{_plural(spec.max_references, 'reference')} max on {spec.label}"


def _cap(spec: ModelSpec, role: str) -> int:
    if not spec.max_characters:
        return spec.max_references
    return spec.max_characters if role == "character" else spec.max_objects


def counts(tray: Sequence[Reference], spec: ModelSpec) -> dict[str, int]:
    out = {"object": 0, "character": 0}
    for ref in tray:
        out[_role(ref.role, spec)] += 1
    return out


def _role(role: str, spec: ModelSpec) -> str:
    return role if role in roles_for(spec) else "object"


def _refusal(spec: ModelSpec, role: str, ref: Reference | None = None) -> str:
    what = (
        _plural(_cap(spec, role), role) if spec.max_characters else _plural(spec.max_references, "reference")
    )
    who = f"“{display_name(ref)}” was not added: " if ref is not None else ""
    return f"{who}{spec.label} takes at most {what} ({limit_sentence(spec)}). Remove one first."


def add(tray: Sequence[Reference], new: Sequence[Reference], spec: ModelSpec) -> Tray:
    """``tray`` plus ``new`` (all or none). Raises InputError when the model's limit would be passed."""
    out = tuple(tray)
    seen = {ref.sha256 for ref in out}
    for ref in new:
        ref = replace(ref, role=_role(ref.role, spec))
        if ref.sha256 in seen:
            raise InputError(f"“{display_name(ref)}” is already in the tray.")
        if counts(out, spec)[ref.role] >= _cap(spec, ref.role) or len(out) >= spec.max_references:
            raise InputError(_refusal(spec, ref.role, ref))
        seen.add(ref.sha256)
        out += (ref,)
    return out


def remove(tray: Sequence[Reference], index: int) -> Tray:
    return tuple(ref for i, ref in enumerate(tray) if i != index)


def move(tray: Sequence[Reference], index: int, delta: int) -> Tray:
    """Swap ``index`` with its neighbour ``delta`` (-1 up, +1 down); at either end nothing changes."""
    target = index + delta
    if not (0 <= index < len(tray) and 0 <= target < len(tray)):
        return tuple(tray)
    out = list(tray)
    out[index], out[target] = out[target], out[index]
    return tuple(out)


def set_role(tray: Sequence[Reference], index: int, role: str, spec: ModelSpec) -> Tray:
    """Change one reference's role; refused when the model does not know the role or its pool is full."""
    if role not in roles_for(spec):
        raise InputError(f"{spec.label} does not distinguish character references; all are objects.")
    if tray[index].role == role:
        return tuple(tray)
    others = remove(tray, index)
    if counts(others, spec)[role] >= _cap(spec, role):
        raise InputError(_refusal(spec, role))
    return tuple(replace(ref, role=role) if i == index else ref for i, ref in enumerate(tray))


def fit(tray: Sequence[Reference], spec: ModelSpec) -> tuple[Tray, list[str]]:
    """After a model change: the references the new model takes, and why each other one is left out."""
    kept: Tray = ()
    reasons: list[str] = []
    for ref in tray:
        try:
            kept = add(kept, [ref], spec)
        except InputError:
            reasons.append(f"“{display_name(ref)}” is not sent: {limit_sentence(spec)} at most.")
    return kept, reasons


def display_name(ref: Reference) -> str:
    return "".join(ch for ch in ref.name if ch.isprintable())[:60] or "reference"


def decode_data_url(payload: str, name: str) -> bytes:
    """Bytes of a ``data:image/...;base64,`` URL sent by the paste or sketch component."""
    if not isinstance(payload, str) or not payload.startswith("data:"):
        raise ImageRejected(f"“{name}” is not an image; paste a PNG, JPEG or WebP picture.")
    head, _, body = payload.partition(",")
    if ";base64" not in head:
        raise ImageRejected(f"“{name}” is not an image; paste a PNG, JPEG or WebP picture.")
    if len(body) > MAX_UPLOAD_BYTES * 4 // 3 + 4:
        raise ImageRejected(f"“{name}” is larger than {MAX_UPLOAD_BYTES // 2**20} MB; make it smaller.")
    try:
        return base64.b64decode(body, validate=True)
    except ValueError:
        raise ImageRejected(f"“{name}” could not be read; copy the image again.") from None


# -- cost and size --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    pixels: tuple[int, int] | None
    calls: int
    images: int
    input_images: int
    output_tokens: int
    usd: float

    def line(self) -> str:
        px = f"{self.pixels[0]} × {self.pixels[1]} px" if self.pixels else "size decided by the endpoint"
        inputs = f" + {_plural(self.input_images, 'input image')}" if self.input_images else ""
        return (
            f"{px} · {_plural(self.images, 'image')}{inputs} · ~{self.output_tokens:,} output tokens · "
            f"${self.usd:.3f}"
        )


def summary(
    model: str, *, ratio: str | None, size: str | None, variants: int, references: int, texts: Sequence[str]
) -> Summary:
    """What the whole request costs: ``variants`` calls for each prompt (one prompt, or one per proposal)."""
    ests = [
        catalogue.estimate(
            model, size=size, ratio=ratio, variants=variants, references=references, prompt_chars=len(text)
        )
        for text in texts or [""]
    ]
    calls = variants * len(ests)
    return Summary(
        pixels=ests[0].pixels,
        calls=calls,
        images=sum(e.images for e in ests),
        input_images=references * calls,
        output_tokens=sum(e.output_tokens for e in ests),
        usd=round(sum(e.usd for e in ests), 4),
    )


# -- structured prompt ----------------------------------------------------------------------------

FIELD_KEYS = tuple(key for key, _ in prompts.FIELDS)


def to_form(text: str) -> tuple[dict[str, str], str]:
    """Text → form: labelled lines become fields, the rest is kept as the free-text part."""
    fields, extra = prompts.parse(text)
    return {key: fields.get(key, "") for key in FIELD_KEYS}, " ".join(extra.split())


def to_text(fields: Mapping[str, str], extra: str) -> str:
    return prompts.assemble(fields, extra)


def with_instruction(prompt: str, instruction: str) -> str:
    """Append a sketch's instruction on its own line, once."""
    instruction = " ".join(instruction.split())
    if not instruction or instruction in prompt:
        return prompt
    return f"{prompt.rstrip()}\n{instruction}" if prompt.strip() else instruction


def composition(
    *,
    mode: str,
    fields: Mapping[str, str] | None = None,
    extra: str = "",
    proposal: Mapping[str, Any] | None = None,
    sketches: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any] | None:
    """The JSON stored with the generation, or None when the composer added nothing to plain text.

    This only assembles what it is given; ``at_submit`` decides what still holds."""
    out: dict[str, Any] = {"mode": mode}
    if mode == "form" and fields is not None:
        out["fields"] = {k: v for k, v in fields.items() if k in FIELD_KEYS and v.strip()}
        out["extra"] = extra
    if proposal:
        out["proposal"] = dict(proposal)
    if sketches:
        out["sketches"] = [dict(s) for s in sketches]
    return out if len(out) > 1 else None


#: Pieces of a stored composition that come with the prompt text they produced (a Library template
#: with its presets, an Enhance proposal). Anything else a remixed generation recorded (an experiment
#: cell, an edit conversation) describes how *that* generation was made and is never inherited.
PROMPT_SOURCES = ("template", "presets")


def _words(text: Any) -> str:
    return " ".join(str(text or "").split())


def _still_in(text: Any, prompt_words: str) -> bool:
    """``text`` appears in the prompt word for word (line breaks and runs of spaces aside), as whole words:
    a template "cat" is not in "A cathedral at dusk"."""
    words = _words(text)
    return bool(words) and re.search(rf"(?<!\w){re.escape(words)}(?!\w)", prompt_words) is not None


def origin(prompt: str, stored: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a remix or a Library template brings into the form: the prompt text it loaded, the pieces
    that produced that text (template and values, presets, proposal) and its sketches."""
    stored = stored or {}
    out: dict[str, Any] = {"prompt": prompt}
    out.update({key: stored[key] for key in PROMPT_SOURCES if key in stored})
    if isinstance(stored.get("proposal"), Mapping):
        out["proposal"] = dict(stored["proposal"])
    sketches = stored.get("sketches")
    if isinstance(sketches, list):
        out["sketches"] = [dict(s) for s in sketches if isinstance(s, Mapping)]
    return out


def at_submit(
    *,
    prompt: str,
    mode: str,
    fields: Mapping[str, str] | None = None,
    extra: str = "",
    chosen: Mapping[str, Any] | None = None,
    came_from: Mapping[str, Any] | None = None,
    sketches: Sequence[Mapping[str, Any]] = (),
    references: Sequence[Reference] = (),
) -> dict[str, Any] | None:
    """The composition of the request the form holds at the moment of submission, or None.

    Session state outlives the text it produced, so each piece is recorded only while the form still
    holds what it made:

    - structured fields and free text: as the form shows them (form mode only);
    - the proposal chosen with "Use this" (``chosen``): while its text is still in the prompt word for
      word; appending to it (a sketch's instruction, a preset) keeps it, rewriting or replacing it,
      or emptying the prompt, drops it;
    - a Library template with its values and presets, or what a remixed generation recorded
      (``came_from``, see ``origin``): while the prompt text it loaded is still in the prompt word for
      word. Change a variable's value, remove a preset or type a new prompt and it is not recorded.
      A remixed generation's proposal follows the proposal rule above;
    - sketches: those whose drawing is among the references sent; a sketch's instruction only while
      it is still in the prompt (otherwise it is recorded as "").

    "Word for word" ignores line breaks and runs of spaces only: switching between text and form
    keeps a piece whose text the form does not reorder.
    """
    said = _words(prompt)
    proposal = chosen if chosen and _still_in(chosen.get("text"), said) else None
    came_from = came_from or {}
    if (
        proposal is None
        and isinstance(came_from.get("proposal"), Mapping)
        and _still_in(came_from["proposal"].get("text"), said)
    ):
        proposal = came_from["proposal"]
    sent = {ref.sha256 for ref in references}
    drawn: list[dict[str, Any]] = []
    for sketch in [*(came_from.get("sketches") or []), *sketches]:
        if sketch.get("sha256") in sent and all(d["sha256"] != sketch["sha256"] for d in drawn):
            instruction = sketch.get("instruction") or ""
            drawn.append({**sketch, "instruction": instruction if _still_in(instruction, said) else ""})
    out = composition(mode=mode, fields=fields, extra=extra, proposal=proposal, sketches=drawn) or {}
    if _still_in(came_from.get("prompt"), said):
        out.update({key: came_from[key] for key in PROMPT_SOURCES if key in came_from})
    return out or None


def per_proposal(
    request: GenerationRequest,
    proposals: Sequence[str],
    *,
    idea: str,
    text_model: str,
    came_from: Mapping[str, Any] | None = None,
) -> list[GenerationRequest]:
    """One single-image request per proposal, each recording which proposal it came from.

    Each prompt is the proposal's text alone, so its composition is derived for that text (plain text,
    not the form's fields); the references, and the sketches among them, are the request's."""
    sketches = (request.composition or {}).get("sketches") or []
    out = []
    for index, text in enumerate(proposals):
        chosen = {"index": index, "text": text, "idea": idea, "text_model": text_model}
        comp = at_submit(
            prompt=text,
            mode="text",
            chosen=chosen,
            came_from=came_from,
            sketches=sketches,
            references=request.references,
        )
        out.append(replace(request, prompt=text, variants=1, composition=comp))
    return out
