"""Prompt building: structured prompts, templates with {variables}, style presets and matrix expansion.

Pure functions; the composer, the matrix runner and ``studio batch`` share them.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from typing import Any

from studio.domain.errors import InputError

#: Structured prompt fields in the order they are assembled, with the label each gets in the prompt.
FIELDS: tuple[tuple[str, str], ...] = (
    ("subject", "Subject"),
    ("action", "Action"),
    ("scene", "Scene"),
    ("composition", "Composition"),
    ("camera", "Camera and lens"),
    ("style", "Style"),
    ("lighting", "Lighting"),
    ("palette", "Colour palette"),
    ("text", "Text to render in the image"),
    ("constraints", "Constraints"),
)
_LABEL_TO_KEY = {label.lower(): key for key, label in FIELDS}
_LINE = re.compile(r"^\s*([A-Za-z][A-Za-z ]*?)\s*:\s?(.*)$")


def _one_line(value: str) -> str:
    return " ".join(str(value).split())


def assemble(fields: Mapping[str, str], extra: str = "") -> str:
    """A clean prompt with one labelled line per filled field; ``extra`` free text goes first."""
    lines = [_one_line(extra)] if _one_line(extra) else []
    for key, label in FIELDS:
        value = _one_line(fields.get(key, ""))
        if value:
            lines.append(f"{label}: {value}")
    return "\n".join(lines)


def parse(prompt: str) -> tuple[dict[str, str], str]:
    """Inverse of ``assemble``: (fields, extra). Lines that are not labelled fields are kept as ``extra``."""
    fields: dict[str, str] = {}
    extra: list[str] = []
    for line in prompt.splitlines():
        match = _LINE.match(line)
        key = _LABEL_TO_KEY.get(match.group(1).strip().lower()) if match else None
        if match and key and key not in fields:
            fields[key] = _one_line(match.group(2))
        elif line.strip():
            extra.append(line.strip())
    return fields, " ".join(extra)


# -- templates ------------------------------------------------------------------------------------

#: ``{name}`` with a plain identifier only: no attribute or index access (str.format would allow
#: ``{x.__class__}``); ``{{`` and ``}}`` are literal braces.
_VAR = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def variables(template: str) -> list[str]:
    """Variable names in order of first appearance."""
    seen: dict[str, None] = {}
    for match in _VAR.finditer(template):
        if match.group(1):
            seen.setdefault(match.group(1))
    return list(seen)


def fill(template: str, values: Mapping[str, Any]) -> str:
    missing = [name for name in variables(template) if _one_line(values.get(name, "")) == ""]
    if missing:
        raise InputError("Fill in the template's variables: " + ", ".join(f"{{{m}}}" for m in missing) + ".")

    def sub(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        return _one_line(values[match.group(1)])

    return _VAR.sub(sub, template)


def apply_presets(prompt: str, presets: Sequence[str]) -> str:
    """Style presets are snippets appended to the prompt, each once."""
    out = prompt.rstrip()
    for preset in (p.strip() for p in presets):
        if preset and preset not in out:
            out = f"{out}, {preset}" if out else preset
    return out


# -- matrices -------------------------------------------------------------------------------------


def expand(axes: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Cartesian product of the axes, in row-major order; an axis with no values is ignored."""
    live = {name: list(values) for name, values in axes.items() if len(values) > 0}
    if not live:
        return [{}]
    names = list(live)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(live[n] for n in names))]


def cell_count(axes: Mapping[str, Sequence[Any]]) -> int:
    count = 1
    for values in axes.values():
        count *= max(1, len(values))
    return count
