"""Organising the gallery: favourites, ratings, tags and collections (``OrganiseRepository``).

Every organising action takes a list of ids and is one IMMEDIATE transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, func, literal, true, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from studio.domain.errors import InputError
from studio.storage.database import Database, rowcount, upsert
from studio.storage.filter_sql import (
    COLLECTION_MAX,
    TAG_MAX,
    Visibility,
    chunks,
    clean_name,
    unique_ids,
    visibility_terms,
)
from studio.storage.tables import (
    Collection,
    CollectionItem,
    CollectionShare,
    Generation,
    GenerationTag,
    Tag,
    drop_unused_tags,
    utc_now,
)


def _taken_name(name: str) -> InputError:
    return InputError(f"A collection called “{name}” already exists; choose another name.")


class OrganiseRepository:
    """Favourites, ratings, tags and collections; each action is one IMMEDIATE transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- favourites, ratings, tags -------------------------------------------------------------

    def _set(self, ids: Iterable[int], **values: Any) -> int:
        wanted = unique_ids(ids)
        changed = 0
        with self.db.write() as session:
            for chunk in chunks(wanted):
                stmt = (
                    update(Generation)
                    .where(col(Generation.id).in_(chunk))
                    .values(updated_at=utc_now(), **values)
                )
                changed += rowcount(session.exec(stmt))
        return changed

    def set_favourite(self, ids: Iterable[int], favourite: bool) -> int:
        """Returns how many generations were updated."""
        return self._set(ids, favourite=bool(favourite))

    def set_private(self, ids: Iterable[int], private: bool) -> int:
        """Private generations are seen only by their author and admins. Returns how many were updated."""
        return self._set(ids, private=bool(private))

    def set_author(self, ids: Iterable[int], author: str) -> int:
        """Who made these generations (an import records the person who imported it)."""
        return self._set(ids, author=author)

    def set_rating(self, ids: Iterable[int], rating: int | None) -> int:
        if rating is not None and (
            isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5
        ):
            raise InputError("A rating is a whole number of stars from 1 to 5 (or none).")
        return self._set(ids, rating=rating)

    def add_tags(self, ids: Iterable[int], names: Iterable[str]) -> int:
        """Tag every generation with every name (created on first use). Returns links added."""
        tags = list(dict.fromkeys(clean_name(n, TAG_MAX, "tag") for n in names))
        wanted = unique_ids(ids)
        if not tags or not wanted:
            return 0
        added = 0
        with self.db.write() as session:
            session.exec(upsert(session, Tag).values([{"name": t} for t in tags]).on_conflict_do_nothing())
            tag_ids = select(Tag.id).where(col(Tag.name).in_(tags))
            for chunk in chunks(wanted):
                pairs = (
                    select(Generation.id, Tag.id)
                    .select_from(Generation)
                    .join(Tag, true())  # every pair
                    .where(col(Generation.id).in_(chunk), col(Tag.id).in_(tag_ids))
                )
                stmt = (
                    upsert(session, GenerationTag)
                    .from_select(["generation_id", "tag_id"], pairs)
                    .on_conflict_do_nothing()
                )
                added += rowcount(session.exec(stmt))
        return added

    def remove_tag(self, ids: Iterable[int], name: str) -> int:
        """Untag; a tag no generation uses any more disappears. Returns links removed."""
        tag = clean_name(name, TAG_MAX, "tag")
        removed = 0
        with self.db.write() as session:
            tag_id = session.exec(select(Tag.id).where(col(Tag.name) == tag)).first()
            if tag_id is None:
                return 0
            for chunk in chunks(unique_ids(ids)):
                stmt = delete(GenerationTag).where(
                    col(GenerationTag.tag_id) == tag_id, col(GenerationTag.generation_id).in_(chunk)
                )
                removed += rowcount(session.exec(stmt))
            drop_unused_tags(session)
        return removed

    def tags(self) -> list[tuple[str, int]]:
        """Every tag with the number of live generations carrying it, most used first."""
        live = (
            select(GenerationTag.tag_id, func.count().label("n"))
            .join(Generation, col(Generation.id) == GenerationTag.generation_id)
            .where(col(Generation.deleted_at).is_(None))
            .group_by(col(GenerationTag.tag_id))
            .subquery()
        )
        n = func.coalesce(live.c.n, 0)
        stmt = select(Tag.name, n).outerjoin(live, live.c.tag_id == Tag.id).order_by(n.desc(), Tag.name)
        with self.db.read() as session:
            return [(name, int(count)) for name, count in session.exec(stmt)]

    # -- collections ---------------------------------------------------------------------------

    def _collection_exists(self, session: Session, cid: int) -> None:
        if session.get(Collection, cid) is None:
            raise InputError(f"Collection {cid} does not exist (it may have been deleted).")

    def _name_free(self, session: Session, name: str, cid: int | None = None) -> None:
        other = session.exec(select(Collection.id).where(col(Collection.name) == name)).first()
        if other is not None and other != cid:
            raise _taken_name(name)

    def create_collection(self, name: str) -> int:
        clean = clean_name(name, COLLECTION_MAX, "collection")
        with self.db.write() as session:
            self._name_free(session, clean)
            row = Collection(name=clean, created_at=utc_now())
            session.add(row)
            try:  # PostgreSQL: the unique name decides a race the check above cannot see
                session.flush()
            except IntegrityError:
                raise _taken_name(clean) from None
            assert row.id is not None
            return row.id

    def rename_collection(self, cid: int, name: str) -> None:
        clean = clean_name(name, COLLECTION_MAX, "collection")
        with self.db.write() as session:
            self._collection_exists(session, cid)
            self._name_free(session, clean, cid)
            try:
                session.exec(update(Collection).where(col(Collection.id) == cid).values(name=clean))
            except IntegrityError:
                raise _taken_name(clean) from None

    def delete_collection(self, cid: int) -> None:
        """Removes the board and its items; the generations themselves stay."""
        with self.db.write() as session:
            session.exec(delete(CollectionShare).where(col(CollectionShare.collection_id) == cid))
            session.exec(delete(CollectionItem).where(col(CollectionItem.collection_id) == cid))
            session.exec(delete(Collection).where(col(Collection.id) == cid))

    def add_to_collection(self, ids: Iterable[int], cid: int) -> int:
        added = 0
        with self.db.write() as session:
            self._collection_exists(session, cid)
            now = utc_now()
            for chunk in chunks(unique_ids(ids)):
                rows = select(literal(cid), Generation.id, literal(now)).where(col(Generation.id).in_(chunk))
                stmt = (
                    upsert(session, CollectionItem)
                    .from_select(["collection_id", "generation_id", "added_at"], rows)
                    .on_conflict_do_nothing()
                )
                added += rowcount(session.exec(stmt))
        return added

    def remove_from_collection(self, ids: Iterable[int], cid: int) -> int:
        removed = 0
        with self.db.write() as session:
            for chunk in chunks(unique_ids(ids)):
                stmt = delete(CollectionItem).where(
                    col(CollectionItem.collection_id) == cid, col(CollectionItem.generation_id).in_(chunk)
                )
                removed += rowcount(session.exec(stmt))
        return removed

    def collections(self, visibility: Visibility | None = None) -> list[tuple[int, str, int]]:
        """(id, name, live item count) for every collection, by name. With ``visibility``, the count is of
        the items the caller may see (another designer's private generation is not counted)."""
        live = (
            select(CollectionItem.collection_id, func.count().label("n"))
            .join(Generation, col(Generation.id) == CollectionItem.generation_id)
            .where(col(Generation.deleted_at).is_(None), *visibility_terms(visibility))
            .group_by(col(CollectionItem.collection_id))
            .subquery()
        )
        stmt = (
            select(Collection.id, Collection.name, func.coalesce(live.c.n, 0))
            .outerjoin(live, live.c.collection_id == Collection.id)
            .order_by(func.lower(Collection.name))
        )
        with self.db.read() as session:
            return [(int(i), name, int(n)) for i, name, n in session.exec(stmt) if i is not None]

    # -- shared collections (revision 0003) ----------------------------------------------------

    def share(self, cid: int, email: str, access: str, *, shared_by: str) -> tuple[int, str, str, str, str]:
        """Share collection ``cid`` with ``email`` (or ``*``); sharing again replaces the access. Returns
        the share as (collection_id, email, access, shared_by, shared_at)."""
        now = utc_now()
        with self.db.write() as session:
            self._collection_exists(session, cid)
            values = {"collection_id": cid, "email": email, "access": access, "shared_by": shared_by}
            stmt = (
                upsert(session, CollectionShare)
                .values(**values, shared_at=now)
                .on_conflict_do_update(
                    index_elements=["collection_id", "email"],
                    set_={"access": access, "shared_by": shared_by, "shared_at": now},
                )
            )
            session.exec(stmt)
        return (cid, email, access, shared_by, now)

    def unshare(self, cid: int, email: str) -> bool:
        with self.db.write() as session:
            stmt = delete(CollectionShare).where(
                col(CollectionShare.collection_id) == cid, col(CollectionShare.email) == email
            )
            return rowcount(session.exec(stmt)) > 0

    def shares(self, cid: int) -> list[tuple[int, str, str, str, str]]:
        """Whom collection ``cid`` is shared with, by email ("*" first)."""
        stmt = (
            select(CollectionShare)
            .where(col(CollectionShare.collection_id) == cid)
            .order_by(col(CollectionShare.email))
        )
        with self.db.read() as session:
            return [
                (r.collection_id, r.email, r.access, r.shared_by, r.shared_at)
                for r in session.exec(stmt).all()
            ]

    def shared_with(self, email: str) -> list[int]:
        """The ids of the collections shared with ``email`` or with the whole team."""
        stmt = (
            select(CollectionShare.collection_id)
            .where(col(CollectionShare.email).in_([email, "*"]))
            .distinct()
        )
        with self.db.read() as session:
            return sorted(int(i) for i in session.exec(stmt).all())
