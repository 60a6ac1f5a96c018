"""Gallery review (issue 15): decisions, comments pinned to the image, @mentions, client links, and
Markdown made inert. Plain values and pure functions, no IO: ``services.reviews`` and ``services.links``
apply them, ``storage.review_repo`` and ``storage.link_repo`` keep them.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from studio.domain.errors import InputError
from studio.domain.records import ImageRecord
from studio.domain.requests import Reference

#: A generation in review is approved, has changes requested, or is rejected; none of these: open.
DECISIONS = ("approved", "changes", "rejected")
OPEN = "open"
DECISION_LABELS = {
    "approved": "Approved",
    "changes": "Changes requested",
    "rejected": "Rejected",
    OPEN: "Open",
}
#: What a guest's name is recorded as: ``guest:<name>``.
GUEST_PREFIX = "guest:"
BODY_MAX = 4000
GUEST_NAME_MAX = 40


def decision_label(status: str | None) -> str:
    """ "Approved", "Changes requested", "Rejected", or "Open" (None: no decision)."""
    return DECISION_LABELS.get(status or OPEN, DECISION_LABELS[OPEN])


def check_decision(status: str | None) -> str | None:
    """A decision as stored (None, "" and "open" clear it); InputError for anything else."""
    if status is None:
        return None
    value = str(status).strip().lower()
    if value in ("", OPEN):
        return None
    if value not in DECISIONS:
        raise InputError(f"A decision is one of {', '.join(DECISIONS)} (or open), not {status!r}.")
    return value


def check_review_filter(value: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """History's decision filter: one or more of the decisions or "open"; InputError for anything else."""
    if value is None or value == "":
        return None
    values = (value,) if isinstance(value, str) else tuple(value)
    out = []
    for v in values:
        v = str(v).strip().lower()
        if v not in (*DECISIONS, OPEN):
            raise InputError(f"Filter by a decision ({', '.join(DECISIONS)}) or open, not {v!r}.")
        out.append(v)
    return tuple(dict.fromkeys(out)) or None


# -- pins -----------------------------------------------------------------------------------------------


def _fraction(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"A pin's {name} is a fraction of the image between 0 and 1.")
    f = float(value)
    if math.isnan(f) or not 0.0 <= f <= 1.0:
        raise InputError(f"A pin's {name} is a fraction of the image between 0 and 1, not {value!r}.")
    return f


@dataclass(frozen=True)
class Pin:
    """A point (``x``, ``y``) or a box (also ``w``, ``h``) on an image, as fractions 0..1 of its width and
    height from the top-left corner. Built only through ``Pin.of`` or the constructor, both validated."""

    x: float
    y: float
    w: float | None = None
    h: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "x", _fraction(self.x, "x"))
        object.__setattr__(self, "y", _fraction(self.y, "y"))
        if (self.w is None) != (self.h is None):
            raise InputError("A pinned box has both a width and a height.")
        if self.w is not None and self.h is not None:
            w, h = _fraction(self.w, "width"), _fraction(self.h, "height")
            if w <= 0 or h <= 0:
                raise InputError("A pinned box has a width and a height above zero.")
            if self.x + w > 1.0 + 1e-9 or self.y + h > 1.0 + 1e-9:
                raise InputError("A pinned box must lie inside the image.")
            object.__setattr__(self, "w", w)
            object.__setattr__(self, "h", h)

    @property
    def is_box(self) -> bool:
        return self.w is not None

    @classmethod
    def of(cls, value: Pin | dict[str, Any] | None) -> Pin | None:
        """A pin from a dict {"x", "y"[, "w", "h"]} (the app's component sends one), validated."""
        if value is None or isinstance(value, Pin):
            return value
        if not isinstance(value, dict) or "x" not in value or "y" not in value:
            raise InputError('A pin is {"x": .., "y": ..} or a box {"x", "y", "w", "h"} of fractions 0..1.')
        return cls(value["x"], value["y"], value.get("w"), value.get("h"))

    def to_dict(self) -> dict[str, float]:
        out = {"x": round(self.x, 6), "y": round(self.y, 6)}
        if self.w is not None and self.h is not None:
            out.update(w=round(self.w, 6), h=round(self.h, 6))
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> Pin | None:
        """The stored pin; None for none (or a row that no longer reads as one)."""
        if not text:
            return None
        try:
            return cls.of(json.loads(text))
        except (ValueError, InputError):
            return None

    def pixels(self, width: int, height: int) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) in pixels of a ``width`` x ``height`` image (a point: a 0-size box)."""
        left, top = round(self.x * width), round(self.y * height)
        if self.w is None or self.h is None:
            return left, top, left, top
        return left, top, round((self.x + self.w) * width), round((self.y + self.h) * height)


# -- records --------------------------------------------------------------------------------------------


def who(by: str) -> str:
    """A person or guest as the page names them: "Ada (guest)" for ``guest:Ada``."""
    if by.startswith(GUEST_PREFIX):
        return f"{by[len(GUEST_PREFIX) :]} (guest)"
    return by


@dataclass(frozen=True)
class Decision:
    """One line of a generation's decision log; ``status`` "open" when a decision was cleared."""

    id: int
    generation_id: int
    status: str
    by: str
    at: str
    collection_id: int | None = None

    @property
    def label(self) -> str:
        return decision_label(self.status)

    @property
    def by_guest(self) -> bool:
        return self.by.startswith(GUEST_PREFIX)


@dataclass(frozen=True)
class Comment:
    """A comment on a generation. ``number``: its marker's number among the generation's pinned comments
    (1, 2, ... in the order they were made; None when not pinned). ``depth`` 0 for a thread's first
    comment, 1 for a reply. ``mentions``: the members it @mentions (emails)."""

    id: int
    generation_id: int
    author: str
    body: str
    created_at: str
    parent_id: int | None = None
    collection_id: int | None = None
    pin: Pin | None = None
    resolved: bool = False
    version_id: int | None = None
    number: int | None = None
    depth: int = 0
    mentions: tuple[str, ...] = ()

    @property
    def by_guest(self) -> bool:
        return self.author.startswith(GUEST_PREFIX)


def threaded(comments: Iterable[Comment]) -> list[Comment]:
    """Comments in reading order: each thread's first comment (oldest first) followed by its replies
    (oldest first), with marker numbers given to pinned ones in the order they were made."""
    items = sorted(comments, key=lambda c: c.id)
    numbers: dict[int, int] = {}
    for c in items:
        if c.pin is not None:
            numbers[c.id] = len(numbers) + 1
    ids = {c.id for c in items}
    roots = [c for c in items if c.parent_id is None or c.parent_id not in ids]
    replies: dict[int, list[Comment]] = {}
    for c in items:
        if c.parent_id is not None and c.parent_id in ids:
            replies.setdefault(c.parent_id, []).append(c)
    out: list[Comment] = []

    def add(c: Comment, depth: int) -> None:
        out.append(_with(c, number=numbers.get(c.id), depth=depth))
        for r in replies.get(c.id, []):
            add(r, min(depth + 1, 1))

    for root in roots:
        add(root, 0)
    return out


def _with(c: Comment, **changes: Any) -> Comment:
    return replace(c, **changes)


@dataclass(frozen=True)
class ReviewCounts:
    """How many generations of a collection are approved, have changes requested, are rejected or open."""

    approved: int = 0
    changes: int = 0
    rejected: int = 0
    open: int = 0

    @property
    def total(self) -> int:
        return self.approved + self.changes + self.rejected + self.open

    def sentence(self) -> str:
        """ "12 approved · 3 changes requested · 5 open" (parts that are zero left out)."""
        parts = [
            (self.approved, "approved"),
            (self.changes, "changes requested"),
            (self.rejected, "rejected"),
            (self.open, "open"),
        ]
        shown = [f"{n} {word}" for n, word in parts if n]
        return " · ".join(shown) if shown else "Nothing to review yet"


@dataclass(frozen=True)
class NextVersion:
    """What "Make the next version" opens Edit with: the source generation, the comment's text as the
    instruction, and (for a pinned comment) the source with the pin drawn on it, as an annotation
    reference image (PNG bytes)."""

    comment_id: int
    source_id: int
    instruction: str
    pin: Pin | None = None
    annotation: bytes | None = None
    annotation_name: str = "annotation.png"
    #: the annotation ready to send as an extra reference (``session.editing.continue_(source_id,
    #: instruction, [reference])``), then ``session.review.link_version(comment_id, new_id)``
    reference: Reference | None = None


# -- client links ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientLink:
    """A client link as made: the URL to send (it holds the token) and when it stops working."""

    url: str
    expires: str  # UTC ISO text
    token: str


@dataclass(frozen=True)
class ClientItem:
    """One generation as a client link shows it: its images, the prompt only when the sharer included
    prompts, the latest decision and (for a feedback link) the comments. Never its other collections."""

    generation_id: int
    images: tuple[ImageRecord, ...]
    status: str | None = None
    prompt: str | None = None
    comments: tuple[Comment, ...] = ()

    @property
    def label(self) -> str:
        return decision_label(self.status)


@dataclass(frozen=True)
class ClientView:
    """What a client link opens: one collection's name and items, and what the visitor may do."""

    title: str
    items: tuple[ClientItem, ...]
    expires: str
    feedback: bool = False
    include_prompts: bool = False
    counts: ReviewCounts = field(default_factory=ReviewCounts)

    def item(self, gen_id: int) -> ClientItem | None:
        return next((i for i in self.items if i.generation_id == gen_id), None)


@dataclass(frozen=True)
class PackItem:
    """One tile of a review pack (a PDF contact sheet): the image's bytes, its caption and status, and
    the lines of its comments."""

    image: bytes | None
    caption: str
    status: str | None = None
    comments: tuple[str, ...] = ()
    pins: tuple[tuple[int, Pin], ...] = ()  # (marker number, pin) of the pinned comments

    @property
    def label(self) -> str:
        return decision_label(self.status)


# -- text -----------------------------------------------------------------------------------------------


def clean_body(body: str) -> str:
    """A comment's text: trimmed, not empty, at most ``BODY_MAX`` characters (line breaks kept)."""
    text = "".join(ch for ch in str(body or "") if ch.isprintable() or ch in "\n\t").strip()
    if not text:
        raise InputError("A comment cannot be empty.")
    if len(text) > BODY_MAX:
        raise InputError(f"A comment can be at most {BODY_MAX} characters long.")
    return text


def clean_guest_name(name: str) -> str:
    """A guest's typed name as recorded after ``guest:``: printable, single-spaced, no markup characters,
    at most ``GUEST_NAME_MAX`` characters; InputError when nothing is left."""
    text = "".join(ch for ch in str(name or "") if ch.isprintable() and ch not in "<>@:[]()`*_#\\\"'&")
    text = " ".join(text.split())[:GUEST_NAME_MAX].strip()
    if not text:
        raise InputError("Type your name so the studio knows who the feedback is from.")
    return text


def guest(name: str) -> str:
    return GUEST_PREFIX + clean_guest_name(name)


_MENTION = re.compile(r"(?<![\w.@])@([A-Za-z0-9._%+-]+(?:@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)?)")


def parse_mentions(body: str, members: Iterable[str]) -> tuple[str, ...]:
    """The members ``body`` @mentions, as emails: ``@dan@studio.test`` or ``@dan`` when exactly one
    member's address starts with ``dan@``. Unknown names are left as text."""
    emails = sorted({m.lower() for m in members if m and "@" in m})
    found: list[str] = []
    for m in _MENTION.finditer(body or ""):
        name = m.group(1).rstrip(".").lower()
        if "@" in name:
            hit = name if name in emails else None
        else:
            local = [e for e in emails if e.split("@", 1)[0] == name]
            hit = local[0] if len(local) == 1 else None
        if hit and hit not in found:
            found.append(hit)
    return tuple(found)


# -- inert Markdown -------------------------------------------------------------------------------------

_LINK = re.compile(r"(!?)\[([^\[\]\n]*)\]\(\s*([^()\s]*)(?:\s+\"[^\"\n]*\")?\s*\)")
# No word-boundary anchors: GFM autolinks an address after any non-letter ("_https://", "1https://",
# "éhttps://", "_www."), and an email wherever "@" sits between address characters; so every scheme, every
# "www." and every "@" is broken, wherever it is.
_SCHEME = re.compile(r"(?i)(https?|ftp|mailto|xmpp|javascript|vbscript|data|file|blob)(:)")
_WWW = re.compile(r"(?i)(www)(\.)")
_AT = re.compile(r"@")
_SAFE_URL = re.compile(r"[A-Za-z0-9/?#&=._~%+\-]*")
_ZWSP = "\u200b"


def _plain(text: str) -> str:
    """Text that renders as itself: HTML escaped, brackets escaped (no link or image can form), and web
    addresses broken with a zero-width space so no renderer turns them into live links."""
    out = html.escape(text, quote=False)
    out = out.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
    out = _SCHEME.sub(lambda m: m.group(1) + _ZWSP + m.group(2), out)
    out = _WWW.sub(lambda m: m.group(1) + _ZWSP + m.group(2), out)
    return _AT.sub("@" + _ZWSP, out)


def studio_link(url: str, studio_url: str | None = None) -> bool:
    """Whether ``url`` stays inside the studio: a path on it ("/history?id=3"), a query or an anchor, or
    an address under ``studio_url`` (its public URL). Never another scheme, host or protocol-relative."""
    if not url:
        return False
    if studio_url:
        base = studio_url.rstrip("/")
        rest = url[len(base) :] if url.startswith(base) else None
        if rest is not None and (rest == "" or rest[0] in "/?#") and _SAFE_URL.fullmatch(rest):
            return True
    if not _SAFE_URL.fullmatch(url) or url.startswith("//"):
        return False
    return url[0] in "/?#"


def inert_markdown(text: str, studio_url: str | None = None) -> str:
    """Markdown that renders with no HTML and no live link outside the studio: HTML is escaped (it shows
    as text), images become their alt text and address as plain text (nothing is fetched), links to
    anywhere but the studio become their text and address as plain text, and bare addresses are broken so
    no renderer links them. Emphasis, lists and code keep working."""
    out: list[str] = []
    pos = 0
    source = str(text or "")
    for m in _LINK.finditer(source):
        out.append(_plain(source[pos : m.start()]))
        bang, label, url = m.groups()
        if not bang and studio_link(url, studio_url):
            out.append(f"[{_plain(label) or _plain(url)}]({url})")
        else:
            kind = "image" if bang else "link"
            shown = _plain(label).strip()
            out.append(f"{shown} ({kind}: {_plain(url)})" if shown else f"({kind}: {_plain(url)})")
        pos = m.end()
    out.append(_plain(source[pos:]))
    return "".join(out)
