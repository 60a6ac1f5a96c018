"""What the history hands out: plain records of a generation and its images, never live ORM rows.

``storage`` builds them from its tables; every other package reads them. ``studio.storage`` re-exports them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from studio.domain.errors import InputError, StoreError
from studio.domain.requests import Reference


@dataclass
class ImageRecord:
    id: int
    sha256: str
    mime_type: str
    width: int
    height: int
    size_bytes: int
    path: Path  # absolute
    thumb_path: Path | None
    role: str
    position: int
    name: str = ""
    #: Where the original lives for the JSON contract when it is not ``path``: ``s3://bucket/key``.
    locator: str = ""
    #: Object storage: fetches the original (into the local cache at ``path``); None: ``path`` is the file.
    fetch: Callable[[], bytes] | None = field(default=None, repr=False, compare=False)

    def read(self) -> bytes:
        """The stored bytes; a missing or unreadable file is a StoreError with a sentence, not a traceback."""
        if self.fetch is not None:
            return self.fetch()
        try:
            return self.path.read_bytes()
        except OSError as exc:
            raise StoreError(
                f"The image file {self.path.name} is missing or unreadable in the data directory "
                "(run `studio doctor`); pick another image or generate it again."
            ) from exc

    def reference(self, role: str = "object", name: str | None = None) -> Reference:
        """This stored image as a reference for a new request."""
        return Reference(
            data=self.read(),
            mime_type=self.mime_type,
            sha256=self.sha256,
            width=self.width,
            height=self.height,
            role=role,
            name=self.name if name is None else name,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.locator or str(self.path),
            "sha256": self.sha256,
            "mime_type": self.mime_type,
            "width": self.width,
            "height": self.height,
        }


@dataclass
class GenerationRecord:
    id: int
    created_at: datetime
    updated_at: datetime
    status: str
    prompt: str
    model: str
    settings: dict[str, Any]
    composition: dict[str, Any] | None
    text: str
    thoughts_text: str
    finish_reason: str | None
    block_reason: str | None
    error_kind: str | None
    error_message: str | None
    usage: dict[str, Any]
    cost_usd: float | None
    latency_ms: int | None
    parent_id: int | None
    run_id: int | None
    variant_index: int
    owner: str
    favourite: bool
    rating: int | None
    deleted_at: datetime | None
    images: list[ImageRecord] = field(default_factory=list)
    thought_images: list[ImageRecord] = field(default_factory=list)
    references: list[ImageRecord] = field(default_factory=list)
    grounding: dict[str, Any] | None = None
    has_model_content: bool = False
    tags: list[str] = field(default_factory=list)
    collections: list[int] = field(default_factory=list)  # collection ids
    author: str | None = None  # who asked for it: an email, "local" without sign-in, None before accounts
    private: bool = False  # seen only by its author and admins
    review_status: str | None = (
        None  # the latest review decision ("approved", "changes", "rejected"); None: open
    )

    @property
    def error(self) -> dict[str, str] | None:
        if not self.error_kind:
            return None
        return {"kind": self.error_kind, "message": self.error_message or ""}

    def to_json(self) -> dict[str, Any]:
        """The CLI's public contract (``--json``); add keys, never rename them."""
        return {
            "id": self.id,
            "status": self.status,
            "model": self.model,
            "prompt": self.prompt,
            "finish_reason": self.finish_reason,
            "block_reason": self.block_reason,
            "text": self.text,
            "images": [image.to_json() for image in self.images],
            "usage": self.usage,
            "error": self.error,
            "created_at": self.created_at.isoformat(),
            "settings": self.settings,
            "latency_ms": self.latency_ms,
            "cost_usd": self.cost_usd,
            "parent_id": self.parent_id,
            "favourite": self.favourite,
            "rating": self.rating,
            "tags": self.tags,
            # how the prompt was composed (form fields, proposal, template, sketches); null when typed plainly
            "composition": self.composition,
            "author": self.author,
            "private": self.private,
        }


def settings_diff(records: Sequence[GenerationRecord]) -> list[tuple[str, list[Any]]]:
    """For 2-4 records: (setting, value per record) for the prompt, model and every setting that differs."""
    if not 2 <= len(records) <= 4:
        raise InputError("Choose between 2 and 4 generations to compare.")
    rows: list[tuple[str, list[Any]]] = [
        ("prompt", [r.prompt for r in records]),
        ("model", [r.model for r in records]),
    ]
    keys = sorted(set().union(*(r.settings.keys() for r in records)))
    rows += [(key, [r.settings.get(key) for r in records]) for key in keys]
    rows.append(("references", [[i.sha256[:12] for i in r.references] for r in records]))
    return [(key, values) for key, values in rows if any(v != values[0] for v in values[1:])]
