"""``ReviewRepository`` (``store.review``): decisions, comments and read marks (revision 0004).

A decision is a row of the ``decision`` log and ``generation.review_status`` set in the same transaction,
so History's decision filter and a collection's counts read one indexed column. Comments are threaded by
``parent_id`` (a reply to a reply joins its thread's first comment). Rows are plain records
(``domain.review``), never live ORM objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select

from studio.domain.errors import InputError
from studio.domain.review import OPEN, Comment, Decision, Pin
from studio.storage.database import Database, rowcount, upsert
from studio.storage.filter_sql import GalleryFilter, chunks, conditions, unique_ids
from studio.storage.tables import (
    CollectionItem,
    CollectionShare,
    CommentSeen,
    Generation,
    utc_now,
)
from studio.storage.tables import Comment as CommentRow
from studio.storage.tables import Decision as DecisionRow


def _decision(row: DecisionRow) -> Decision:
    return Decision(
        id=int(row.id or 0),
        generation_id=row.generation_id,
        status=row.status,
        by=row.by,
        at=row.at,
        collection_id=row.collection_id,
    )


def _comment(row: CommentRow) -> Comment:
    return Comment(
        id=int(row.id or 0),
        generation_id=row.generation_id,
        author=row.author,
        body=row.body,
        created_at=row.created_at,
        parent_id=row.parent_id,
        collection_id=row.collection_id,
        pin=Pin.from_json(row.pin_json),
        resolved=bool(row.resolved),
        version_id=row.version_id,
    )


def _missing(gen_id: int) -> InputError:
    return InputError(f"Generation {gen_id} is not in the history.")


class ReviewRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- decisions ------------------------------------------------------------------------------------

    def decide(self, gen_id: int, status: str | None, by: str, collection_id: int | None = None) -> Decision:
        """Log a decision (None: cleared, logged as "open") and make it the generation's latest, in one
        transaction. The generation's row is locked first (``FOR UPDATE`` on PostgreSQL; SQLite's write
        transaction already holds the file), and only then is the time taken, the status set and the log
        row inserted: two reviewers deciding at once queue on the row, so the log's newest entry (its
        highest id, its latest time) is always the generation's status."""
        with self.db.write() as session:
            locked = session.exec(
                select(Generation.id).where(col(Generation.id) == gen_id).with_for_update()
            ).first()
            if locked is None:
                raise _missing(gen_id)
            now = utc_now()
            session.exec(update(Generation).where(col(Generation.id) == gen_id).values(review_status=status))
            row = DecisionRow(
                generation_id=gen_id, collection_id=collection_id, status=status or OPEN, by=by, at=now
            )
            session.add(row)
            session.flush()
            return _decision(row)

    def decisions(self, gen_id: int) -> list[Decision]:
        """The decision log of a generation, oldest first."""
        stmt = (
            select(DecisionRow).where(col(DecisionRow.generation_id) == gen_id).order_by(col(DecisionRow.id))
        )
        with self.db.read() as session:
            return [_decision(r) for r in session.exec(stmt).all()]

    def counts(self, f: GalleryFilter) -> dict[str | None, int]:
        """How many generations ``f`` matches, by latest decision (None: open)."""
        stmt = (
            select(Generation.review_status, func.count())
            .where(*conditions(f))
            .group_by(col(Generation.review_status))
        )
        with self.db.read() as session:
            return {status: int(n) for status, n in session.exec(stmt).all()}

    # -- comments -------------------------------------------------------------------------------------

    def add_comment(
        self,
        gen_id: int,
        author: str,
        body: str,
        *,
        pin: Pin | None = None,
        parent_id: int | None = None,
        collection_id: int | None = None,
        guest_cap: tuple[int, str] | None = None,
    ) -> Comment:
        """A new comment; a reply joins the thread of ``parent_id`` (which must be on the same generation).
        ``guest_cap`` (most, since): refused when guests have left ``most`` comments through
        ``collection_id``'s links since then, counted in the transaction that would add this one."""
        with self.db.write() as session:
            if session.get(Generation, gen_id) is None:
                raise _missing(gen_id)
            if guest_cap is not None:
                most, since = guest_cap
                recent = select(func.count()).where(
                    col(CommentRow.collection_id) == collection_id,
                    col(CommentRow.author).startswith("guest:"),
                    col(CommentRow.created_at) >= since,
                )
                if session.exec(recent).one() >= most:
                    raise InputError(
                        f"This link has taken {most} comments in the last hour, the most it takes; "
                        "please send the rest a little later."
                    )
            if parent_id is not None:
                parent = session.get(CommentRow, parent_id)
                if parent is None or parent.generation_id != gen_id:
                    raise InputError(f"Comment {parent_id} is not a comment on generation {gen_id}.")
                parent_id = parent.parent_id or parent.id
            row = CommentRow(
                generation_id=gen_id,
                collection_id=collection_id,
                parent_id=parent_id,
                author=author,
                body=body,
                pin_json=pin.to_json() if pin else None,
                created_at=utc_now(),
            )
            session.add(row)
            session.flush()
            return _comment(row)

    def comment(self, comment_id: int) -> Comment | None:
        with self.db.read() as session:
            row = session.get(CommentRow, comment_id)
            return _comment(row) if row is not None else None

    def comments(self, gen_ids: Iterable[int]) -> list[Comment]:
        """Every comment on ``gen_ids``, oldest first."""
        out: list[Comment] = []
        with self.db.read() as session:
            for chunk in chunks(unique_ids(gen_ids)):
                stmt = select(CommentRow).where(col(CommentRow.generation_id).in_(chunk))
                out += [_comment(r) for r in session.exec(stmt).all()]
        return sorted(out, key=lambda c: c.id)

    def set_resolved(self, comment_id: int, value: bool) -> bool:
        with self.db.write() as session:
            stmt = update(CommentRow).where(col(CommentRow.id) == comment_id).values(resolved=bool(value))
            return rowcount(session.exec(stmt)) > 0

    def link_version(self, comment_id: int, version_id: int, collection_ids: Sequence[int]) -> None:
        """``comment.version_id`` set and the new version added to ``collection_ids``, in one transaction."""
        now = utc_now()
        with self.db.write() as session:
            if session.get(Generation, version_id) is None:
                raise _missing(version_id)
            stmt = update(CommentRow).where(col(CommentRow.id) == comment_id).values(version_id=version_id)
            if rowcount(session.exec(stmt)) == 0:
                raise InputError(f"Comment {comment_id} does not exist (it may have been deleted).")
            for cid in unique_ids(collection_ids):
                session.exec(
                    upsert(session, CollectionItem)
                    .values(collection_id=cid, generation_id=version_id, added_at=now)
                    .on_conflict_do_nothing()
                )

    def feedback_for(self, email: str, mention: str | None = None, limit: int = 500) -> list[Comment]:
        """Comments by others on live generations ``email`` made, and (``mention``: "@dan") comments that
        may mention them (the caller checks), newest first."""
        author_is_me = col(Generation.author) == email
        terms: Any = author_is_me
        if mention:
            terms = author_is_me | col(CommentRow.body).contains(mention, autoescape=True)
        stmt = (
            select(CommentRow)
            .join(Generation, col(Generation.id) == CommentRow.generation_id)
            .where(col(Generation.deleted_at).is_(None), col(CommentRow.author) != email, terms)
            .order_by(col(CommentRow.id).desc())
            .limit(limit)
        )
        with self.db.read() as session:
            return [_comment(r) for r in session.exec(stmt).all()]

    def authored(self, gen_ids: Iterable[int]) -> dict[int, str | None]:
        """The author of each of ``gen_ids``."""
        out: dict[int, str | None] = {}
        with self.db.read() as session:
            for chunk in chunks(unique_ids(gen_ids)):
                stmt = select(Generation.id, Generation.author).where(col(Generation.id).in_(chunk))
                out.update((int(i or 0), a) for i, a in session.exec(stmt).all())
        return out

    # -- read marks -----------------------------------------------------------------------------------

    def seen(self, email: str, comment_ids: Iterable[int]) -> set[int]:
        """Of ``comment_ids``, the ones ``email`` has read."""
        out: set[int] = set()
        with self.db.read() as session:
            for chunk in chunks(unique_ids(comment_ids)):
                stmt = select(CommentSeen.comment_id).where(
                    col(CommentSeen.email) == email, col(CommentSeen.comment_id).in_(chunk)
                )
                out.update(int(i) for i in session.exec(stmt).all())
        return out

    def mark_seen(self, email: str, comment_ids: Iterable[int]) -> int:
        """Mark comments read for ``email`` (unknown ids are ignored); returns how many were new."""
        n = 0
        with self.db.write() as session:
            for chunk in chunks(unique_ids(comment_ids)):
                known = session.exec(select(CommentRow.id).where(col(CommentRow.id).in_(chunk))).all()
                for cid in known:
                    stmt = (
                        upsert(session, CommentSeen)
                        .values(email=email, comment_id=int(cid or 0))
                        .on_conflict_do_nothing()
                    )
                    n += rowcount(session.exec(stmt))
        return n

    # -- what is shared for review --------------------------------------------------------------------

    def share_access(self, email: str) -> dict[int, str]:
        """Collection id -> "review" or "view": what is shared with ``email`` or the whole team (the wider
        of the two when both are)."""
        stmt = select(CollectionShare.collection_id, CollectionShare.access).where(
            col(CollectionShare.email).in_([email, "*"])
        )
        out: dict[int, str] = {}
        with self.db.read() as session:
            for cid, access in session.exec(stmt).all():
                if out.get(cid) != "review":
                    out[int(cid)] = access
        return out

    def is_live(self, gen_id: int) -> bool:
        """Whether ``gen_id`` exists and is not in the trash."""
        stmt = select(Generation.id).where(col(Generation.id) == gen_id, col(Generation.deleted_at).is_(None))
        with self.db.read() as session:
            return session.exec(stmt).first() is not None

    def collections_of(self, gen_id: int) -> list[int]:
        stmt = select(CollectionItem.collection_id).where(col(CollectionItem.generation_id) == gen_id)
        with self.db.read() as session:
            return sorted(int(i) for i in session.exec(stmt).all())

    def open_in(self, collection_ids: Sequence[int], f: GalleryFilter, limit: int = 500) -> list[int]:
        """Live generations of ``collection_ids`` with no decision, newest first (within ``f``)."""
        if not collection_ids:
            return []
        items = select(CollectionItem.generation_id).where(
            col(CollectionItem.collection_id).in_(unique_ids(collection_ids))
        )
        stmt = (
            select(Generation.id)
            .where(col(Generation.id).in_(items), col(Generation.review_status).is_(None), *conditions(f))
            .order_by(col(Generation.id).desc())
            .limit(limit)
        )
        with self.db.read() as session:
            return [int(i or 0) for i in session.exec(stmt).all()]

    def in_collection(self, cid: int, *, public_only: bool = True) -> list[int]:
        """The live generations of collection ``cid`` in the order they were added (``public_only``:
        not private ones)."""
        stmt = (
            select(Generation.id)
            .join(CollectionItem, col(CollectionItem.generation_id) == Generation.id)
            .where(col(CollectionItem.collection_id) == cid, col(Generation.deleted_at).is_(None))
            .order_by(col(CollectionItem.added_at), col(Generation.id))
        )
        if public_only:
            stmt = stmt.where(col(Generation.private).is_(False))
        with self.db.read() as session:
            return [int(i or 0) for i in session.exec(stmt).all()]
