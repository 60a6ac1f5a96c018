"""Reading the History grid in AppTest: it is one browser component, so tests read what it is sent."""

from __future__ import annotations

import json

from .helpers import walk


def grid(at) -> dict:
    """What the page sends the grid component (tiles in stacks, chips for generations without an image)."""
    for node in walk(at._tree):
        proto = getattr(node, "proto", None)
        if type(proto).__name__ == "BidiComponent" and proto.component_name == "studio_grid":
            return json.loads(proto.json)
    return {"groups": [], "chips": [], "selected": []}


def tiles(at) -> list[dict]:
    return [t for g in grid(at)["groups"] for t in g["tiles"]]


def shown(at) -> list[str]:
    """The prompts of every generation on the grid (tiles, stacked variants and chips), newest first.
    The grid sets them as text (``textContent``), never as HTML."""
    data = grid(at)
    items = [(t["id"], t["prompt"]) for g in data["groups"] for t in g["tiles"]]
    items += [(c["id"], c["prompt"]) for c in data["chips"]]
    return [prompt for _, prompt in sorted(items, reverse=True)]
