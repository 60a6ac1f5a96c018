"""Client links (issue 15): a collection shown to someone outside the studio, without sign-in
(``StudioSession.links``).

A link's token is ``secrets.token_urlsafe(24)`` (192 random bits) and only its sha256 is stored, so the
database never holds a working link. Making and revoking links asks the session's ``Access`` (designers and
admins). Opening a link needs no access: **the token is the capability**, so ``open``, ``image`` and the
feedback methods ``guest_decide`` / ``guest_comment`` are the explicit exceptions of
``tests/service/test_access_walk.py``; they check the token instead, and a tampered, expired or revoked one
is refused with the one ``LinkInvalid`` sentence, whichever it is. What a link shows is one collection:
its images (not private ones, not the trash), their decisions, the prompts only when the sharer included
them, and on a feedback link the guests' threads. Never other collections, History, the key or the endpoint.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from studio.domain.errors import InputError, LinkInvalid, NotAllowed, StoreError
from studio.domain.review import (
    ClientItem,
    ClientLink,
    ClientView,
    Comment,
    Decision,
    Pin,
    ReviewCounts,
    check_decision,
    clean_body,
    guest,
    threaded,
)
from studio.domain.settings import Settings
from studio.services.access import Access
from studio.storage import Store
from studio.storage.link_repo import LinkRow

__all__ = [
    "DEFAULT_BASE",
    "GUEST_COMMENTS_PER_HOUR",
    "MAX_DAYS",
    "LinkInfo",
    "LinkService",
    "token_hash",
    "token_of",
]

DEFAULT_BASE = "http://localhost:8501"
MAX_DAYS = 365
#: Comments guests may leave through one collection's links in an hour: a feedback link is a public form
#: (anyone holding the URL, no sign-in), so a leaked or scripted one cannot bury the team's review.
GUEST_COMMENTS_PER_HOUR = 60
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
VIEW_ONLY_LINK = (
    "This link is for looking only; ask whoever sent it for a feedback link to approve or comment."
)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_of(url_or_token: str) -> str | None:
    """The token of a client link's URL (its ``link`` query value), or the token itself; None when the
    text holds none."""
    text = (url_or_token or "").strip()
    if "?" in text or "://" in text:
        values = parse_qs(urlsplit(text).query).get("link") or []
        text = values[0] if values else ""
    return text if _TOKEN.fullmatch(text) else None


@dataclass(frozen=True)
class LinkInfo:
    """A link as the share dialog lists it (its URL is not kept: only who made it and when it ends)."""

    id: int
    created_by: str
    created_at: str
    expires: str
    feedback: bool
    include_prompts: bool
    state: str  # "active" | "expired" | "revoked"


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds")


class LinkService:
    def __init__(
        self,
        store: Store,
        access: Access,
        settings: Settings | None = None,
        *,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._store = store
        self._access = (
            access  # required: a forgotten one must never mean "the local owner"; a guest's is signed out
        )
        self._base = ((settings.public_url if settings else None) or DEFAULT_BASE).rstrip("/")
        self._team = bool(settings and settings.team_mode)
        self._clock = clock

    # -- made and revoked by the studio's people ------------------------------------------------------

    def create(
        self, collection_id: int, *, days: int = 14, feedback: bool = False, include_prompts: bool = False
    ) -> ClientLink:
        """A new client link to the collection, valid ``days`` days (1 to 365). ``feedback``: visitors may
        approve and comment under a name they type; ``include_prompts``: the prompts are shown."""
        import secrets

        actor = self._access.require_organise()
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
            raise InputError(f"A link lasts between 1 and {MAX_DAYS} days, not {days!r}.")
        token = secrets.token_urlsafe(24)
        now = self._clock()
        expires = now + timedelta(days=days)
        self._store.links.create(
            collection_id,
            token_hash(token),
            created_by=actor.email or "",
            created_at=_iso(now),
            expires_at=_iso(expires),
            feedback=feedback,
            include_prompts=include_prompts,
        )
        if not actor.local and actor.email:
            self._store.activity.record(
                actor.email,
                "link.create",
                f"collection:{collection_id}",
                {"days": days, "feedback": feedback},
            )
        return ClientLink(url=f"{self._base}/?link={token}", expires=_iso(expires), token=token)

    def revoke(self, url_or_token: str) -> bool:
        """Stop a link working at once (its URL or token); False when no working link has it."""
        actor = self._access.require_organise()
        token = token_of(url_or_token)
        if token is None:
            return False
        gone = self._store.links.revoke(at=_iso(self._clock()), token_hash=token_hash(token))
        if gone and not actor.local and actor.email:
            self._store.activity.record(actor.email, "link.revoke", "link", {})
        return gone

    def revoke_id(self, link_id: int) -> bool:
        """Revoke a link the share dialog lists (by its id)."""
        actor = self._access.require_organise()
        gone = self._store.links.revoke(at=_iso(self._clock()), link_id=link_id)
        if gone and not actor.local and actor.email:
            self._store.activity.record(actor.email, "link.revoke", f"link:{link_id}", {})
        return gone

    def links(self, collection_id: int) -> list[LinkInfo]:
        """The links made for a collection, newest first, each active, expired or revoked."""
        self._access.require_organise()
        now = _iso(self._clock())
        return [
            LinkInfo(
                id=r.id,
                created_by=r.created_by,
                created_at=r.created_at,
                expires=r.expires_at,
                feedback=r.feedback,
                include_prompts=r.include_prompts,
                state="revoked" if r.revoked_at else "expired" if r.expires_at <= now else "active",
            )
            for r in self._store.links.for_collection(collection_id)
        ]

    # -- opened by anyone holding the token -----------------------------------------------------------

    def _valid(self, token: str) -> LinkRow:
        """The link ``token`` opens; LinkInvalid (one sentence) when tampered with, expired or revoked."""
        clean = token_of(token or "")
        row = self._store.links.find(token_hash(clean)) if clean else None
        if row is None or row.revoked_at is not None or row.expires_at <= _iso(self._clock()):
            raise LinkInvalid()
        return row

    def _items(self, row: LinkRow) -> tuple[list[int], str]:
        title = self._store.links.collection_name(row.collection_id)
        if title is None:
            raise LinkInvalid()
        return self._store.review.in_collection(row.collection_id, public_only=True), title

    def open(self, token: str) -> ClientView:
        """What the link shows (no sign-in: the token is the capability)."""
        row = self._valid(token)
        ids, title = self._items(row)
        records = [r for r in self._store.gallery.records(ids) if r.images]
        comments: dict[int, list[Comment]] = {}
        if row.feedback:
            for c in self._store.review.comments([r.id for r in records]):
                comments.setdefault(c.generation_id, []).append(c)
        items = []
        counts = {"approved": 0, "changes": 0, "rejected": 0, "open": 0}
        for r in records:
            counts[r.review_status or "open"] = counts.get(r.review_status or "open", 0) + 1
            items.append(
                ClientItem(
                    generation_id=r.id,
                    images=tuple(replace(i, locator="", fetch=None) for i in r.images),
                    status=r.review_status,
                    prompt=r.prompt if row.include_prompts else None,
                    comments=_guest_threads(comments.get(r.id, []), row.collection_id),
                )
            )
        return ClientView(
            title=title,
            items=tuple(items),
            expires=row.expires_at,
            feedback=row.feedback,
            include_prompts=row.include_prompts,
            counts=ReviewCounts(**counts),
        )

    def image(self, token: str, sha256: str, *, thumb: bool = False) -> bytes | None:
        """The bytes of an image the link shows (``thumb``: its 384 px JPEG); None for any other image.
        The token is checked, then that one image: the page fetches each of its images this way, so no
        fetch rebuilds the whole view."""
        row = self._valid(token)
        if not _SHA256.fullmatch(sha256 or ""):
            return None
        found = self._store.links.shown_image(row.collection_id, sha256)
        if found is None:
            return None
        original, small = found
        for key in [small, original] if thumb and small else [original]:
            if key is None:
                continue
            try:
                return self._store.files.get(key)
            except (StoreError, ValueError, OSError):
                continue
        return None

    def _guest_target(self, token: str, gen_id: int) -> LinkRow:
        row = self._valid(token)
        if not row.feedback:
            raise NotAllowed(VIEW_ONLY_LINK)
        ids, _title = self._items(row)
        if gen_id not in ids:
            raise InputError(f"Image {gen_id} is not part of this link.")
        return row

    def guest_decide(self, token: str, gen_id: int, status: str | None, name: str) -> Decision:
        """A feedback link's visitor approves (or requests changes, rejects) an image, as ``guest:<name>``."""
        value = check_decision(status)
        by = guest(name)
        row = self._guest_target(token, gen_id)
        decision = self._store.review.decide(gen_id, value, by, row.collection_id)
        if self._team:
            self._store.activity.record(
                by, "review.decide", f"generation:{gen_id}", {"status": decision.status}
            )
        return replace(decision, collection_id=None)

    def guest_comment(
        self, token: str, gen_id: int, body: str, name: str, pin: Pin | dict[str, float] | None = None
    ) -> Comment:
        """A feedback link's visitor comments on an image (optionally pinned), as ``guest:<name>``."""
        text = clean_body(body)
        where = Pin.of(pin)
        by = guest(name)
        row = self._guest_target(token, gen_id)
        hour_ago = (self._clock() - timedelta(hours=1)).astimezone(UTC).isoformat(timespec="microseconds")
        made = self._store.review.add_comment(
            gen_id,
            by,
            text,
            pin=where,
            collection_id=row.collection_id,
            guest_cap=(GUEST_COMMENTS_PER_HOUR, hour_ago),
        )
        if self._team:
            self._store.activity.record(by, "review.comment", f"generation:{gen_id}", {"comment": made.id})
        return replace(made, collection_id=None)


STUDIO_AUTHOR = "studio"


def _guest_threads(comments: list[Comment], collection_id: int) -> tuple[Comment, ...]:
    """Of a generation's comments, the threads a guest started through a link to ``collection_id`` (the
    team's own threads, and guests' of other links or collections, stay inside), in reading order. The
    team's replies show as "studio" (no member's email), and no collection id, mention or version id
    rides along."""
    roots = {
        c.id for c in comments if c.parent_id is None and c.by_guest and c.collection_id == collection_id
    }
    shown = [c for c in comments if c.id in roots or c.parent_id in roots]
    return tuple(
        replace(
            c,
            author=c.author if c.by_guest else STUDIO_AUTHOR,
            collection_id=None,
            mentions=(),
            version_id=None,
        )
        for c in threaded(shown)
    )
