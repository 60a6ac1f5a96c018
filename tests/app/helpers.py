"""Helpers for the UI tests: element walking and text (kept out of conftest so they can be imported)."""

from __future__ import annotations

from collections.abc import Iterator

from streamlit.testing.v1 import AppTest


def walk(node) -> Iterator:
    """Every node of an AppTest element tree, depth first."""
    yield node
    children = getattr(node, "children", None) or {}
    for child in children.values():
        yield from walk(child)


def all_text(at: AppTest) -> str:
    """Everything the page sends to the browser (each element's protobuf, as text)."""
    return "\n".join(str(node.proto) for node in walk(at._tree) if getattr(node, "proto", None) is not None)


def texts(at: AppTest) -> list[str]:
    return [t.value for t in at.text]
