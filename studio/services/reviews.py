"""Gallery review (issue 15), the service (``services/reviews.py``: module names are unique across packages,
and ``domain/review.py`` holds the values): decisions, comments pinned to the image, the review queues, the next version
made from a comment, and the review pack (``StudioSession.review``).

Who may review: admins and designers every generation they can see; reviewers only generations in a
collection shared with them (or the whole team) *for review* (a "view" share is read-only); the one local
person of ``STUDIO_LOGIN=none`` everything. Every public method asks the session's ``Access`` first, before
anything is read or written; a team studio's decisions and comments also go to the activity log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from studio.domain.errors import InputError, NotAllowed, StoreError
from studio.domain.people import Actor
from studio.domain.records import GenerationRecord, ImageRecord
from studio.domain.review import (
    DECISION_LABELS,
    DECISIONS,
    OPEN,
    ClientItem,
    ClientLink,
    ClientView,
    Comment,
    Decision,
    NextVersion,
    PackItem,
    Pin,
    ReviewCounts,
    check_decision,
    clean_body,
    decision_label,
    inert_markdown,
    parse_mentions,
    threaded,
    who,
)
from studio.imaging import review_pack
from studio.services import uploads
from studio.services.access import Access
from studio.storage import GalleryFilter, Store

#: the review values the pages show, importable from the service as the gallery's records are
__all__ = [
    "DECISIONS",
    "DECISION_LABELS",
    "OPEN",
    "VIEW_ONLY",
    "ClientItem",
    "ClientLink",
    "ClientView",
    "Comment",
    "Decision",
    "NextVersion",
    "Pin",
    "ReviewCounts",
    "ReviewService",
    "by_generation",
    "decision_label",
    "image_bytes",
    "inert_markdown",
    "pack_items",
    "who",
]

VIEW_ONLY = (
    "This collection is shared with you to view, not to review; ask whoever shared it to share it for "
    "review so you can approve and comment."
)
NOT_SHARED = (
    "Reviewers approve and comment only on images in collections shared with them for review; ask a "
    "designer to share the collection with you for review."
)


def _not_found(gen_id: int) -> InputError:
    return InputError(f"Generation {gen_id} is not in the history.")


def image_bytes(store: Store, image: ImageRecord, *, thumb: bool = False) -> bytes | None:
    """An image's stored bytes (``thumb``: its 384 px JPEG when there is one); None when unreadable."""
    paths = [image.thumb_path, image.path] if thumb and image.thumb_path else [image.path]
    for path in paths:
        if path is None:
            continue
        try:
            return store.files.get(store.files.key_of(path))
        except (StoreError, ValueError, OSError):
            continue
    return None


def pack_items(
    store: Store, records: Iterable[GenerationRecord], comments: dict[int, list[Comment]]
) -> list[PackItem]:
    """A review pack's tiles: each generation's first image, "#id · prompt", decision and comments."""
    out = []
    for r in records:
        image = image_bytes(store, r.images[0], thumb=True) if r.images else None
        lines = []
        for c in comments.get(r.id, []):
            marker = f"[{c.number}] " if c.number else ""
            indent = "    " if c.depth else ""
            lines.append(f"{indent}{marker}{who(c.author)}: {c.body}")
        prompt = " ".join(r.prompt.split())
        pins = tuple((c.number, c.pin) for c in comments.get(r.id, []) if c.number and c.pin)
        out.append(
            PackItem(
                image=image,
                caption=f"#{r.id} · {prompt}",
                status=r.review_status,
                comments=tuple(lines),
                pins=pins,
            )
        )
    return out


class ReviewService:
    def __init__(self, store: Store, access: Access) -> None:
        self._store = store
        self._access = (
            access  # required: a forgotten one must never mean "the local owner, who may do anything"
        )

    # -- checks ---------------------------------------------------------------------------------------

    def _seen(self, gen_id: int) -> Actor:
        """A member who can see ``gen_id`` (InputError "not in the history" otherwise, as the gallery says)."""
        actor = self._access.require_member()
        if not self._store.gallery.visible_ids([gen_id], self._access.visibility()):
            raise _not_found(gen_id)
        if not (actor.local or actor.role in ("admin", "designer")) and not self._store.review.is_live(
            gen_id
        ):
            raise _not_found(gen_id)  # the trash is the designers': reviewers see live generations only
        return actor

    def _may_review(self, gen_id: int, collection_id: int | None) -> tuple[Actor, int | None]:
        """The caller, who may decide and comment on ``gen_id``, and the collection it is reviewed in."""
        actor = self._access.require_member()
        if actor.role not in ("admin", "designer") and not actor.local:
            shares = self._store.review.share_access(actor.email or "")
            if not shares:
                raise NotAllowed(NOT_SHARED)
        actor = self._seen(gen_id)
        holding = self._store.review.collections_of(gen_id)
        if collection_id is not None and collection_id not in holding:
            raise InputError(f"Generation {gen_id} is not in collection {collection_id}.")
        if actor.local or actor.role in ("admin", "designer"):
            return actor, collection_id
        shares = self._store.review.share_access(actor.email or "")
        where = [collection_id] if collection_id is not None else holding
        review = [c for c in where if shares.get(c) == "review"]
        if not review:
            raise NotAllowed(VIEW_ONLY if any(c in shares for c in where) else NOT_SHARED)
        return actor, review[0]

    def _record(self, actor: Actor, action: str, gen_id: int, **detail: object) -> None:
        if actor.local or actor.email is None:
            return
        self._store.activity.record(actor.email, action, f"generation:{gen_id}", dict(detail))

    def _members(self) -> list[str]:
        return [p.email for p in self._store.people.list() if not p.disabled]

    def _with_mentions(self, comments: list[Comment]) -> list[Comment]:
        if not any("@" in c.body for c in comments):
            return comments
        members = self._members()
        return [
            replace(c, mentions=parse_mentions(c.body, members)) if "@" in c.body else c for c in comments
        ]

    def mentionable(self) -> list[str]:
        """The members a comment can @mention (enabled members' emails, sorted): the page's suggestions."""
        self._access.require_member()
        return sorted(self._members())

    # -- decisions ------------------------------------------------------------------------------------

    def decide(self, gen_id: int, status: str | None, *, collection_id: int | None = None) -> Decision:
        """Approve, request changes on or reject a generation (None: clear the decision, back to open)."""
        value = check_decision(status)
        actor, cid = self._may_review(gen_id, collection_id)
        decision = self._store.review.decide(gen_id, value, actor.email or "", cid)
        self._record(actor, "review.decide", gen_id, status=decision.status)
        return decision

    def decisions(self, gen_id: int) -> list[Decision]:
        """Who decided what on a generation, and when, oldest first."""
        self._seen(gen_id)
        return self._store.review.decisions(gen_id)

    def counts(self, collection_id: int) -> ReviewCounts:
        """A collection's generations by latest decision (those the caller may see, not in the trash)."""
        self._access.require_member()
        vis = self._access.visibility()
        if vis.shared_only and collection_id not in self._store.review.share_access(vis.email or ""):
            # a reviewer: only collections shared with them exist
            raise InputError(f"Collection {collection_id} does not exist (it may have been deleted).")
        f = GalleryFilter(collection_id=collection_id, visibility=vis)
        by = self._store.review.counts(f)
        return ReviewCounts(
            approved=by.get("approved", 0),
            changes=by.get("changes", 0),
            rejected=by.get("rejected", 0),
            open=by.get(None, 0),
        )

    # -- comments -------------------------------------------------------------------------------------

    def comment(
        self,
        gen_id: int,
        body: str,
        *,
        pin: Pin | dict[str, float] | None = None,
        parent_id: int | None = None,
        collection_id: int | None = None,
    ) -> Comment:
        """Add a comment (``pin``: a point or a box of the image, fractions 0..1; ``parent_id``: a reply)."""
        text = clean_body(body)
        where = Pin.of(pin)
        actor, cid = self._may_review(gen_id, collection_id)
        made = self._store.review.add_comment(
            gen_id, actor.email or "", text, pin=where, parent_id=parent_id, collection_id=cid
        )
        self._record(actor, "review.comment", gen_id, comment=made.id)
        return self._with_mentions([made])[0]

    def comments(self, gen_id: int) -> list[Comment]:
        """A generation's comments in reading order (threads, replies under them), pinned ones numbered."""
        self._seen(gen_id)
        return self._with_mentions(threaded(self._store.review.comments([gen_id])))

    def resolve(self, comment_id: int, value: bool) -> bool:
        """Mark a comment resolved (or open again); whoever may comment on its generation may."""
        self._access.require_member()
        found = self._store.review.comment(comment_id)
        if found is None:
            raise InputError(f"Comment {comment_id} does not exist (it may have been deleted).")
        self._may_review(found.generation_id, None)
        return self._store.review.set_resolved(comment_id, value)

    # -- queues ---------------------------------------------------------------------------------------

    def _waiting_ids(self) -> list[int]:
        actor = self._access.require_member()
        vis = self._access.visibility()
        shares = self._store.review.share_access(actor.email or "")
        review = [cid for cid, access in shares.items() if access == "review"]
        return self._store.review.open_in(review, GalleryFilter(visibility=vis))

    def waiting_for_me(self) -> list[GenerationRecord]:
        """Open generations (no decision yet) of the collections shared with the caller for review,
        newest first."""
        ids = self._waiting_ids()
        return self._store.gallery.records(ids, self._access.visibility())

    def feedback_on_my_work(self) -> list[Comment]:
        """Comments by others on generations the caller made, and comments that @mention them, newest first."""
        actor = self._access.require_member()
        email = actor.email or ""
        mention = "@" + email.split("@", 1)[0] if "@" in email else None
        found = self._store.review.feedback_for(email, mention)
        if not found:
            return []
        authors = self._store.review.authored(c.generation_id for c in found)
        found = self._with_mentions(found)
        mine = [c for c in found if authors.get(c.generation_id) == email or email in c.mentions]
        visible = set(
            self._store.gallery.visible_ids({c.generation_id for c in mine}, self._access.visibility())
        )
        return [c for c in mine if c.generation_id in visible]

    def unread(self) -> dict[str, int]:
        """The sidebar's counts: {"waiting": open items to review, "feedback": unread feedback comments}."""
        actor = self._access.require_member()
        feedback = self.feedback_on_my_work()
        seen = self._store.review.seen(actor.email or "", [c.id for c in feedback])
        return {"waiting": len(self._waiting_ids()), "feedback": sum(c.id not in seen for c in feedback)}

    def mark_read(self, comment_ids: Iterable[int]) -> None:
        """The caller has read these comments (they leave the unread count)."""
        actor = self._access.require_member()
        self._store.review.mark_seen(actor.email or "", comment_ids)

    # -- from feedback to the next version ------------------------------------------------------------

    def next_version(self, comment_id: int) -> NextVersion:
        """What "Make the next version" opens Edit with: the comment's generation as the source, its text as
        the instruction, and, when it is pinned, the source with the pin drawn as an annotation reference."""
        self._access.require_generate()
        found = self._store.review.comment(comment_id)
        if found is None:
            raise InputError(f"Comment {comment_id} does not exist (it may have been deleted).")
        self._seen(found.generation_id)
        numbered = next((c for c in self.comments(found.generation_id) if c.id == comment_id), found)
        annotation = None
        if found.pin is not None:
            records = self._store.gallery.records([found.generation_id])
            first = records[0].images[0] if records and records[0].images else None
            data = image_bytes(self._store, first) if first is not None else None
            if data is not None:
                try:
                    annotation = review_pack.annotate(data, found.pin, numbered.number)
                except ValueError:
                    annotation = None
        name = f"annotation-{numbered.number or comment_id}.png"
        return NextVersion(
            comment_id=comment_id,
            source_id=found.generation_id,
            instruction=found.body,
            pin=found.pin,
            annotation=annotation,
            annotation_name=name,
            reference=uploads.prepare(annotation, name) if annotation is not None else None,
        )

    def link_version(self, comment_id: int, new_gen_id: int) -> None:
        """Record that ``new_gen_id`` was made from the comment, and put it in the same collection(s) as its
        source, where it shows as the next version."""
        actor = self._access.require_organise()
        found = self._store.review.comment(comment_id)
        if found is None:
            raise InputError(f"Comment {comment_id} does not exist (it may have been deleted).")
        self._seen(found.generation_id)
        self._seen(new_gen_id)
        # the comment's collection has no foreign key: it may be gone, or the source moved out of it; the
        # new version goes where the source is now (the comment's collection first, when it still holds it)
        holding = self._store.review.collections_of(found.generation_id)
        where = [found.collection_id] if found.collection_id in holding else holding
        self._store.review.link_version(comment_id, new_gen_id, where)
        self._record(actor, "review.version", found.generation_id, comment=comment_id, version=new_gen_id)

    # -- the review pack ------------------------------------------------------------------------------

    def pack_pdf(self, collection_id: int) -> bytes:
        """A collection as a PDF contact sheet: each image with its decision and its comments."""
        self._access.require_member()
        vis = self._access.visibility()
        names = {cid: name for cid, name, _n in self._store.organise.collections()}
        if vis.shared_only and collection_id not in self._store.review.share_access(vis.email or ""):
            names.pop(collection_id, None)  # a reviewer: only collections shared with them exist
        if collection_id not in names:
            raise InputError(f"Collection {collection_id} does not exist (it may have been deleted).")
        ids = self._store.review.in_collection(collection_id, public_only=False)
        records = self._store.gallery.records(ids, vis)
        comments = by_generation(self._store.review.comments([r.id for r in records]))
        counts = self.counts(collection_id)
        subtitle = f"{counts.sentence()} · review pack"
        return review_pack.render_pack(
            names[collection_id], pack_items(self._store, records, comments), subtitle=subtitle
        )


def by_generation(comments: Iterable[Comment]) -> dict[int, list[Comment]]:
    """Comments grouped by generation, each group threaded and numbered on its own."""
    groups: dict[int, list[Comment]] = {}
    for c in comments:
        groups.setdefault(c.generation_id, []).append(c)
    return {gen_id: threaded(group) for gen_id, group in groups.items()}
