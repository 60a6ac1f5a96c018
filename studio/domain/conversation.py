"""Conversational editing: a conversation is a chain of generations linked by ``parent_id``.

Each turn is sent as the real multi-turn ``contents``: for every earlier generation its user turn
(prompt + reference images) and its model turn exactly as received, thought signatures included
(Gemini 3 rejects a model turn whose signatures are missing or altered). Signatures are large, so
the request is kept under ``settings.max_request_mb`` by leaving out the oldest turns, whole, and the
designer is told which. Branching is continuing from any earlier turn: the tree lives in the history.

This module is the pure part (turns, trimming, the tree) over a ``History`` it is handed; starting and
continuing a conversation (validation, the request size, the submit) is ``studio.services.editing``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from studio.domain.errors import InputError
from studio.domain.records import GenerationRecord

MIB = 1024 * 1024
MAX_CHAIN = 500  # a guard against a parent cycle in a damaged database


class History(Protocol):
    """The reads a conversation needs from the history (``studio.storage.Store`` has them)."""

    def get(self, gen_id: int) -> GenerationRecord | None: ...

    def children(self, gen_id: int) -> list[GenerationRecord]: ...

    def model_content(self, gen_id: int) -> dict[str, Any] | None: ...


def body_bytes(value: Any) -> int:
    """Size of ``value`` as the client serialises it (compact UTF-8 JSON)."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def chain(store: History, gen_id: int) -> list[GenerationRecord]:
    """The generation and its ancestors, oldest first."""
    out: list[GenerationRecord] = []
    seen: set[int] = set()
    current: int | None = gen_id
    while current is not None and current not in seen and len(out) < MAX_CHAIN:
        record = store.get(current)
        if record is None:
            if not out:
                raise InputError(f"Generation {gen_id} is not in the history.")
            break
        seen.add(current)
        out.append(record)
        current = record.parent_id
    return out[::-1]


def _user_turn(record: GenerationRecord) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"text": record.prompt}] if record.prompt else []
    for image in record.references:
        data = base64.b64encode(image.read()).decode("ascii")
        parts.append({"inlineData": {"mimeType": image.mime_type, "data": data}})
    return {"role": "user", "parts": parts}


def _model_turn(store: History, record: GenerationRecord) -> dict[str, Any]:
    content = store.model_content(record.id) if record.has_model_content else None
    if content is None:
        raise InputError(
            f"Generation #{record.id} has no saved model reply to continue from; "
            "continue from a turn that produced an image."
        )
    return content  # verbatim: every thoughtSignature stays on the part that carried it


def _span(first: int, last: int) -> str:
    return f"turn {first}" if first == last else f"turns {first}–{last}"


def build_history(
    store: History, gen_id: int, *, max_request_mb: float = 32.0, reserve_bytes: int = 0
) -> tuple[list[dict[str, Any]], str]:
    """(contents, note): the conversation up to ``gen_id`` as Gemini turns, within the size limit.

    ``reserve_bytes`` is what the rest of the request (the new instruction, its references, the
    config) takes. The note is "" when nothing was left out.
    """
    records = chain(store, gen_id)
    pairs = [(_user_turn(r), _model_turn(store, r)) for r in records]
    sizes = [body_bytes(u) + body_bytes(m) + 2 for u, m in pairs]
    budget = int(max_request_mb * MIB) - reserve_bytes
    dropped = 0
    while dropped < len(pairs) - 1 and sum(sizes[dropped:]) > budget:
        dropped += 1
    if sum(sizes[dropped:]) > budget:
        raise InputError(
            f"The image being edited, with its thought signatures, does not fit in a {max_request_mb:g} MB "
            "request on its own. Raise STUDIO_MAX_REQUEST_MB if your endpoint allows it, or start a new "
            "conversation with this image as a reference."
        )
    kept = [turn for pair in pairs[dropped:] for turn in pair]
    if not dropped:
        return kept, ""
    note = f"Older {_span(1, dropped)} were left out to keep the request under {max_request_mb:g} MB."
    if dropped == 1:
        note = note.replace(" were ", " was ")
    first = records[0].prompt.strip()
    if first:
        context = {"text": f"(This conversation began with the instruction: {first})"}
        if sum(sizes[dropped:]) + body_bytes(context) + 1 <= budget:
            kept[0] = {**kept[0], "parts": [context, *kept[0]["parts"]]}
            note += " The first instruction was kept as text."
    return kept, note


# -- lineage -------------------------------------------------------------------------------------


@dataclass
class TreeNode:
    record: GenerationRecord
    children: list[TreeNode] = field(default_factory=list)

    def walk(self, depth: int = 0) -> Iterator[tuple[int, GenerationRecord]]:
        """(depth, record) depth first, for an indented list."""
        yield depth, self.record
        for child in self.children:
            yield from child.walk(depth + 1)


def root_of(store: History, gen_id: int) -> int:
    return chain(store, gen_id)[0].id


def tree(store: History, root_id: int) -> TreeNode:
    """The generation and every descendant (each turn's branches in creation order)."""
    root = store.get(root_id)
    if root is None:
        raise InputError(f"Generation {root_id} is not in the history.")
    nodes = {root.id: TreeNode(root)}
    frontier = [root.id]
    while frontier and len(nodes) < 10_000:
        kids = [k for parent in frontier for k in store.children(parent) if k.id not in nodes]
        for kid in kids:
            nodes[kid.id] = TreeNode(kid)
            nodes[kid.parent_id].children.append(nodes[kid.id])  # type: ignore[index]  # a child has a parent
        frontier = [k.id for k in kids]
    return nodes[root.id]


def sources(record: GenerationRecord) -> list[tuple[str, str]]:
    """Google Search grounding sources as (title, uri), in the order the model cited them."""
    chunks = (record.grounding or {}).get("groundingChunks")
    out: list[tuple[str, str]] = []
    for chunk in chunks if isinstance(chunks, list) else []:
        web = chunk.get("web") if isinstance(chunk, dict) else None
        if isinstance(web, dict) and isinstance(web.get("uri"), str):
            title = web.get("title") if isinstance(web.get("title"), str) else ""
            if (title or web["uri"], web["uri"]) not in out:
                out.append((title or web["uri"], web["uri"]))
    return out
