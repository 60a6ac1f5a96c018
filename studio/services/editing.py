"""Editing in conversation: start a conversation, continue (or branch) it, read its turns and its tree.

The Edit page and the History lineage call this service. The conversation rules (turns, trimming to the
request size, the tree) are pure and stay in ``studio.domain.conversation``; here they meet the store,
the one validation rule, the wire body's size and the submit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from studio.domain import catalogue, conversation
from studio.domain.conversation import TreeNode
from studio.domain.errors import InputError
from studio.domain.records import GenerationRecord, ImageRecord
from studio.domain.requests import SUCCEEDED, GenerationRequest, Reference
from studio.gemini import wire
from studio.services.gallery import GalleryFilter

if TYPE_CHECKING:
    from studio.services.session import StudioSession
    from studio.services.studio import Studio

__all__ = ["Branch", "EditService", "TreeNode", "continue_edit", "start_edit"]

#: how many recent generations the Edit page offers as sources
SOURCES = 12


@dataclass(frozen=True)
class Branch:
    """One line of a conversation: its first turn down to ``tip`` (a turn nothing continues yet)."""

    tip: GenerationRecord
    turns: int  # how many turns from the first to ``tip``
    ids: tuple[int, ...]  # every turn on it, first to tip


def branches(root: TreeNode) -> list[Branch]:
    """Every branch of a conversation tree, in the order its turns were made (the first branch first)."""
    out: list[Branch] = []

    def walk(node: TreeNode, path: tuple[int, ...]) -> None:
        here = (*path, node.record.id)
        if not node.children:
            out.append(Branch(node.record, len(here), here))
        for child in node.children:
            walk(child, here)

    walk(root, ())
    return out


def input_image(studio: Studio | StudioSession, record: GenerationRecord) -> ImageRecord | None:
    """What a turn changed: its parent's image, or (a first turn) the image it started from."""
    if record.parent_id is not None:
        parent = studio.get(record.parent_id)
        if parent is not None and parent.images:
            return parent.images[0]
    return record.references[0] if record.references else None


def continue_edit(
    studio: Studio | StudioSession,
    parent_id: int,
    instruction: str,
    extra_refs: Sequence[Reference] = (),
    *,
    private: bool = False,
    **changes: Any,
) -> list[int]:
    """The next turn after ``parent_id`` (any earlier turn: that is a branch). Returns the new ids.

    The turn is private when ``private`` is asked for or its parent is private (a public child would show
    the private original); the conversation sent to the model stops at the first earlier turn the caller
    may not see."""
    parent = studio.get(parent_id)
    if parent is None:
        raise InputError(f"Generation {parent_id} is not in the history.")
    if parent.status != SUCCEEDED or not parent.has_model_content:
        raise InputError(
            f"Generation #{parent_id} did not produce an image, so there is nothing to edit; "
            "continue from an earlier turn instead."
        )
    if not instruction.strip() and not extra_refs:
        raise InputError("Write what to change.")
    base = studio.request_for(parent_id)
    req = replace(
        base,
        prompt=instruction.strip(),
        references=tuple(extra_refs),
        parent_id=parent_id,
        run_id=None,
        cell_key=None,
        variants=1,
        history=(),
        composition=None,
        **changes,
    )
    catalogue.validate(req)  # the one rule (Studio.submit enforces it too), before the history is read
    reserve = conversation.body_bytes(wire.build_body(req))
    contents, note = conversation.build_history(
        _Seen(studio), parent_id, max_request_mb=studio.settings.max_request_mb, reserve_bytes=reserve
    )
    req = replace(
        req, history=tuple(contents), composition={"conversation": {"trimmed": note}} if note else None
    )
    return studio.submit(req, private=private or parent.private)


def start_edit(
    studio: Studio | StudioSession,
    instruction: str,
    *,
    model: str = catalogue.DEFAULT_MODEL,
    image: Reference | None = None,
    from_generation: int | None = None,
    references: Sequence[Reference] = (),
    aspect_ratio: str | None = None,
    image_size: str | None = None,
    modalities: tuple[str, ...] = ("TEXT", "IMAGE"),
    private: bool = False,
    **changes: Any,
) -> list[int]:
    """Start a conversation from an uploaded image, a history image or a prompt alone.

    ``changes`` are further GenerationRequest fields (system instruction, thinking, ...). Started from a
    private generation, the conversation is private too."""
    if from_generation is not None:
        source = studio.get(from_generation)
        if source is None:
            raise InputError(f"Generation {from_generation} is not in the history.")
        if source.status == SUCCEEDED and source.has_model_content:
            return continue_edit(studio, from_generation, instruction, references, private=private, **changes)
        if not source.images:
            raise InputError(f"Generation #{from_generation} has no image to start from.")
        image = _reference(source)
        private = private or source.private
    refs = ((image,) if image is not None else ()) + tuple(references)
    req = GenerationRequest(
        prompt=instruction.strip(),
        model=model,
        aspect_ratio=aspect_ratio,
        image_size=image_size,
        modalities=modalities,
        references=refs,
        composition={"conversation": {"started_from": from_generation}}
        if from_generation is not None
        else None,
        **changes,
    )
    return studio.submit(req, private=private)


def _reference(record: GenerationRecord) -> Reference:
    return record.images[0].reference(name=f"generation-{record.id}")


class _Seen:
    """The conversation reads (``domain.conversation.History``) through the caller's gallery: turns they
    may not see (another's private generation) are not there."""

    def __init__(self, studio: Studio | StudioSession) -> None:
        self._studio = studio

    def get(self, gen_id: int) -> GenerationRecord | None:
        return self._studio.gallery.get(gen_id)

    def children(self, gen_id: int) -> list[GenerationRecord]:
        return self._studio.gallery.children(gen_id)

    def model_content(self, gen_id: int) -> dict[str, Any] | None:
        return self._studio._store.history.model_content(gen_id)


class EditService:
    """Conversations, as one person (``studio``: their ``StudioSession``, or a ``Studio`` acting as its
    default actor): reading needs a member, a new turn needs someone who may generate."""

    def __init__(self, studio: Studio | StudioSession) -> None:
        self._studio = studio

    def _seen(self, gen_id: int) -> None:
        """NotSignedIn / NotAllowed for a caller who may not read; InputError for a turn they may not see."""
        if self._studio.gallery.get(gen_id) is None:
            raise InputError(f"Generation {gen_id} is not in the history.")

    def chain(self, head_id: int) -> list[GenerationRecord]:
        """The turn ``head_id`` and the turns before it, oldest first (those the caller may see)."""
        self._seen(head_id)
        return conversation.chain(_Seen(self._studio), head_id)

    def tree(self, gen_id: int) -> TreeNode:
        """Every turn of the conversation ``gen_id`` belongs to that the caller may see, from its first
        (seen) turn down."""
        self._seen(gen_id)
        seen = _Seen(self._studio)
        return conversation.tree(seen, conversation.root_of(seen, gen_id))

    def branches(self, gen_id: int) -> list[Branch]:
        """The branches of the conversation ``gen_id`` belongs to, first made first."""
        return branches(self.tree(gen_id))

    def before(self, record: GenerationRecord) -> ImageRecord | None:
        """The image a turn started from (its "before"); None for a turn made from a prompt alone."""
        self._seen(record.id)
        return input_image(self._studio, record)

    def sources(self, search: str | None = None, *, limit: int = SOURCES) -> list[GenerationRecord]:
        """Recent generations with an image to start from, newest first (``search``: the History box's
        language: words, "phrases", -exclusions, dates)."""
        f = GalleryFilter(search=(search or "").strip() or None, status=SUCCEEDED)
        return [r for r in self._studio.gallery.page(f, limit=limit) if r.images]

    def start(self, instruction: str, **options: Any) -> list[int]:
        """A new conversation from an uploaded image, a history image or a prompt alone; the new ids."""
        self._studio.access.require_generate()
        return start_edit(self._studio, instruction, **options)

    def continue_(
        self, parent_id: int, instruction: str, extra_refs: Sequence[Reference] = (), **changes: Any
    ) -> list[int]:
        """The next turn after ``parent_id`` (an earlier turn: a branch); the new ids."""
        self._studio.access.require_generate()
        return continue_edit(self._studio, parent_id, instruction, extra_refs, **changes)
