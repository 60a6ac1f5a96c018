"""Helpers for the UI tests: element walking and test images (kept out of conftest so they can be imported)."""

from __future__ import annotations

import io
from collections.abc import Iterator

from PIL import Image
from streamlit.testing.v1 import AppTest


def png(color: tuple[int, int, int] = (200, 80, 40), size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


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
