"""Editing in conversation: start a conversation, continue (or branch) it, read its turns and its tree.

The Edit page and the History lineage call this service; the conversation rules stay in
``studio.domain.conversation``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from studio.domain import conversation
from studio.domain.conversation import TreeNode
from studio.domain.requests import Reference
from studio.storage import GenerationRecord

if TYPE_CHECKING:
    from studio.services.studio import Studio

__all__ = ["EditService", "TreeNode"]


class EditService:
    def __init__(self, studio: Studio) -> None:
        self._studio = studio

    def chain(self, head_id: int) -> list[GenerationRecord]:
        """The turn ``head_id`` and the turns before it, oldest first."""
        return conversation.chain(self._studio.store, head_id)

    def tree(self, gen_id: int) -> TreeNode:
        """Every turn of the conversation ``gen_id`` belongs to, from its first turn down."""
        store = self._studio.store
        return conversation.tree(store, conversation.root_of(store, gen_id))

    def start(self, instruction: str, **options: Any) -> list[int]:
        """A new conversation from an uploaded image, a history image or a prompt alone; the new ids."""
        return conversation.start_edit(self._studio, instruction, **options)

    def continue_(
        self, parent_id: int, instruction: str, extra_refs: Sequence[Reference] = (), **changes: Any
    ) -> list[int]:
        """The next turn after ``parent_id`` (an earlier turn: a branch); the new ids."""
        return conversation.continue_edit(self._studio, parent_id, instruction, extra_refs, **changes)
