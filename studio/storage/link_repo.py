"""``LinkRepository`` (``store.links``): client links on the ``share_link`` table of revision 0004.

Only the sha256 of a link's token is stored (``token_hash``), so the database never holds a working link.
A link expires (``expires_at``) and can be revoked (``revoked_at``); the service decides what is valid.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import col, select

from studio.domain.errors import InputError
from studio.storage.database import Database, rowcount
from studio.storage.tables import (
    Asset,
    Collection,
    CollectionItem,
    Generation,
    GenerationAsset,
    ShareLink,
)


@dataclass(frozen=True)
class LinkRow:
    id: int
    collection_id: int
    created_by: str
    created_at: str
    expires_at: str
    revoked_at: str | None
    feedback: bool
    include_prompts: bool


def _row(r: ShareLink) -> LinkRow:
    return LinkRow(
        id=int(r.id or 0),
        collection_id=r.collection_id,
        created_by=r.created_by,
        created_at=r.created_at,
        expires_at=r.expires_at,
        revoked_at=r.revoked_at,
        feedback=bool(r.feedback),
        include_prompts=bool(r.include_prompts),
    )


class LinkRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self,
        collection_id: int,
        token_hash: str,
        *,
        created_by: str,
        created_at: str,
        expires_at: str,
        feedback: bool,
        include_prompts: bool,
    ) -> LinkRow:
        with self.db.write() as session:
            if session.get(Collection, collection_id) is None:
                raise InputError(f"Collection {collection_id} does not exist (it may have been deleted).")
            row = ShareLink(
                collection_id=collection_id,
                token_hash=token_hash,
                created_by=created_by,
                created_at=created_at,
                expires_at=expires_at,
                feedback=bool(feedback),
                include_prompts=bool(include_prompts),
            )
            session.add(row)
            session.flush()
            return _row(row)

    def find(self, token_hash: str) -> LinkRow | None:
        with self.db.read() as session:
            row = session.exec(select(ShareLink).where(col(ShareLink.token_hash) == token_hash)).first()
            return _row(row) if row is not None else None

    def get(self, link_id: int) -> LinkRow | None:
        with self.db.read() as session:
            row = session.get(ShareLink, link_id)
            return _row(row) if row is not None else None

    def revoke(self, *, at: str, token_hash: str | None = None, link_id: int | None = None) -> bool:
        """Revoke a link (by its token's hash or its id); False when there is none still unrevoked."""
        stmt = update(ShareLink).where(col(ShareLink.revoked_at).is_(None))
        if token_hash is not None:
            stmt = stmt.where(col(ShareLink.token_hash) == token_hash)
        elif link_id is not None:
            stmt = stmt.where(col(ShareLink.id) == link_id)
        else:
            return False
        with self.db.write() as session:
            return rowcount(session.exec(stmt.values(revoked_at=at))) > 0

    def for_collection(self, collection_id: int) -> list[LinkRow]:
        """The links made for a collection, newest first (revoked and expired ones too)."""
        stmt = (
            select(ShareLink)
            .where(col(ShareLink.collection_id) == collection_id)
            .order_by(col(ShareLink.id).desc())
        )
        with self.db.read() as session:
            return [_row(r) for r in session.exec(stmt).all()]

    def collection_name(self, collection_id: int) -> str | None:
        """The name of the collection a link shows (None when it is gone)."""
        with self.db.read() as session:
            row = session.get(Collection, collection_id)
            return row.name if row is not None else None

    def shown_image(self, collection_id: int, sha256: str) -> tuple[str, str | None] | None:
        """Where an image a link to ``collection_id`` shows is stored (its original's key and its thumbnail's,
        relative to the data directory): an output image of a live, not private generation of the
        collection. None for any other image. One query, whatever the collection's size."""
        stmt = (
            select(Asset.path, Asset.thumb_path)
            .join(GenerationAsset, col(GenerationAsset.asset_id) == Asset.id)
            .join(Generation, col(Generation.id) == GenerationAsset.generation_id)
            .join(CollectionItem, col(CollectionItem.generation_id) == Generation.id)
            .where(
                col(CollectionItem.collection_id) == collection_id,
                col(Asset.sha256) == sha256,
                col(GenerationAsset.role) == "output",
                col(Generation.deleted_at).is_(None),
                col(Generation.private).is_(False),
            )
            .limit(1)
        )
        with self.db.read() as session:
            found = session.exec(stmt).first()
            return (found[0], found[1]) if found is not None else None
