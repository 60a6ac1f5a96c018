"""Plain data passed between the layers: what the designer asked for and what the endpoint answered.

No IO here. ``wire`` turns a GenerationRequest into a request body and a response body into an
Outcome; ``service`` stores both.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """History statuses. A generation is ``succeeded`` only when at least one image file was saved.

    Members are strings ("pending" == Status.PENDING), so rows, JSON and exports hold the plain word."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    BLOCKED = "blocked"
    NO_IMAGE = "no_image"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    #: nothing was sent: the budget (team accounts) did not allow it
    REFUSED = "refused"


PENDING, RUNNING, SUCCEEDED = Status.PENDING, Status.RUNNING, Status.SUCCEEDED
FAILED, BLOCKED, NO_IMAGE = Status.FAILED, Status.BLOCKED, Status.NO_IMAGE
CANCELLED, INTERRUPTED, REFUSED = Status.CANCELLED, Status.INTERRUPTED, Status.REFUSED
FINAL_STATUSES = (SUCCEEDED, FAILED, BLOCKED, NO_IMAGE, CANCELLED, INTERRUPTED, REFUSED)
ACTIVE_STATUSES = (PENDING, RUNNING)


@dataclass(frozen=True)
class Reference:
    """A reference image, already sanitised (metadata stripped, re-encoded) and ready to send."""

    data: bytes
    mime_type: str
    sha256: str
    width: int
    height: int
    role: str = "object"  # "object" | "character"
    name: str = ""  # the upload's display name; never used to build a path


@dataclass
class GenerationRequest:
    prompt: str
    model: str
    aspect_ratio: str | None = None
    image_size: str | None = None
    #: ("IMAGE",) for image only, ("TEXT", "IMAGE") for text and image
    modalities: tuple[str, ...] = ("IMAGE",)
    references: tuple[Reference, ...] = ()
    variants: int = 1
    system_instruction: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    thinking_level: str | None = None
    include_thoughts: bool = False
    google_search: bool = False
    #: with google_search: also image search (3.1 Flash Image only)
    image_search: bool = False
    #: earlier turns for conversational editing: Gemini ``contents`` entries, model turns verbatim
    history: tuple[dict[str, Any], ...] = ()
    parent_id: int | None = None
    run_id: int | None = None
    #: what the composer produced (structured fields, chosen proposal, template values); stored as JSON
    composition: dict[str, Any] | None = None
    #: top-level ``safetySettings``: ({"category": ..., "threshold": ...}, ...)
    safety_settings: tuple[dict[str, str], ...] = ()
    #: a matrix/batch cell's identity (hash of its settings); stored in ``generation.cell_key``
    cell_key: str | None = None

    def settings(self) -> dict[str, Any]:
        """Every setting except the prompt and the reference bytes, as stored in the history."""
        d = asdict(self)
        for key in ("prompt", "references", "history", "composition", "cell_key"):
            d.pop(key)
        d["modalities"] = list(self.modalities)
        d["safety_settings"] = [dict(s) for s in self.safety_settings]
        return d


@dataclass(frozen=True)
class ImagePart:
    data: bytes
    mime_type: str  # sniffed from the bytes, not trusted from the response
    thought: bool = False
    signature: str | None = None


@dataclass
class Outcome:
    """A parsed 200 response. ``images`` are the final (non-thought) images, in order."""

    images: list[ImagePart] = field(default_factory=list)
    thought_images: list[ImagePart] = field(default_factory=list)
    text: str = ""
    thoughts_text: str = ""
    finish_reason: str | None = None
    finish_message: str | None = None
    block_reason: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    #: candidates[0].content exactly as received (signatures included) for the next turn
    model_content: dict[str, Any] | None = None
    grounding: dict[str, Any] | None = None
    model_version: str | None = None
    response_id: str | None = None
