"""The database side of ``studio import``: which generations are already here, and adding a ZIP's rows.

The ZIP itself (validation, files, the manifest) is ``services/exchange.py``'s; this module only reads and
writes rows, the whole import in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from studio.storage.database import Database, upsert
from studio.storage.tables import Asset, Generation, GenerationAsset, GenerationTag, Tag

#: ``generation.owner`` of every imported row. Such a row keeps the cost and date the ZIP gives it (History
#: shows them), but what another studio spent is not this studio's spend: budgets and the spend report
#: leave these rows out (``spend_repo``), so a ZIP cannot lower, or raise, anyone's month.
IMPORTED_OWNER = "import"
#: created_at values per query (SQLite's bound-parameter limit is far above; the index does the rest)
_CHUNK = 500


@dataclass(frozen=True)
class ImportedImage:
    sha256: str
    role: str  # "output" | "thought" | "reference"
    position: int
    name: str = ""


@dataclass(frozen=True)
class ImportedGeneration:
    """One generation of an import: its ``generation`` column values, images, tags, parent (local ids)."""

    local_id: int
    values: Mapping[str, Any]
    images: Sequence[ImportedImage] = ()
    tags: Sequence[str] = ()
    parent: int | None = None


#: content key of (created_at, model, prompt, output sha256s); raises ValueError for a malformed created_at
KeyFunction = Callable[[str, str, str, list[str]], str]


class ExchangeRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def existing_keys(self, created_at: Iterable[str], key: KeyFunction) -> dict[str, int]:
        """Content key -> id of generations already here, looked up by creation time (indexed)."""
        times = sorted(set(created_at))
        found: dict[str, int] = {}
        with self.db.read() as session:
            for start in range(0, len(times), _CHUNK):
                rows = session.exec(
                    select(Generation.id, Generation.created_at, Generation.model, Generation.prompt).where(
                        col(Generation.created_at).in_(times[start : start + _CHUNK])
                    )
                ).all()
                for gen_id, created, model, prompt in rows:
                    assert gen_id is not None  # a primary key read back from its table
                    shas = session.exec(
                        select(Asset.sha256)
                        .join(GenerationAsset, col(GenerationAsset.asset_id) == Asset.id)
                        .where(
                            col(GenerationAsset.generation_id) == gen_id,
                            col(GenerationAsset.role) == "output",
                        )
                        .order_by(col(GenerationAsset.position))
                    ).all()
                    try:
                        found.setdefault(key(created, model, prompt, list(shas)), gen_id)
                    except ValueError:  # a row with a non-ISO created_at cannot be the same generation
                        continue
        return found

    def insert_imported(
        self,
        new: Sequence[ImportedGeneration],
        assets: Mapping[str, Mapping[str, Any]],
        ids: dict[int, int],
        copies: Mapping[int, int],
    ) -> dict[int, int]:
        """Add ``new`` (their files are already written) in one transaction: all or nothing.

        ``ids`` maps local ids already here to their rows; ``copies`` maps a duplicate inside the manifest to
        the local id of its first copy. Returns ``ids`` completed with every new row and copy, after which
        each new row's parent is linked.
        """
        with self.db.write() as session:
            for gen in new:
                ids[gen.local_id] = _insert(session, gen, assets)
            for local_id, first in copies.items():
                if local_id not in ids:
                    ids[local_id] = ids[first]
            for gen in new:
                if gen.parent is not None:
                    session.exec(
                        update(Generation)
                        .where(col(Generation.id) == ids[gen.local_id])
                        .values(parent_id=ids[gen.parent])
                    )
        return ids


def _insert(session: Session, gen: ImportedGeneration, assets: Mapping[str, Mapping[str, Any]]) -> int:
    row = Generation(**gen.values)
    session.add(row)
    session.flush()
    assert row.id is not None
    for image in gen.images:
        session.exec(
            upsert(session, Asset)
            .values(created_at=row.updated_at, **assets[image.sha256])
            .on_conflict_do_nothing(index_elements=["sha256"])
        )
        asset_id = session.exec(select(Asset.id).where(col(Asset.sha256) == image.sha256)).one()
        session.exec(
            upsert(session, GenerationAsset)
            .values(
                generation_id=row.id,
                role=image.role,
                position=image.position,
                asset_id=asset_id,
                name=image.name,
            )
            .on_conflict_do_nothing()
        )
    for tag in gen.tags:
        session.exec(upsert(session, Tag).values(name=tag).on_conflict_do_nothing())
        tag_id = session.exec(select(Tag.id).where(col(Tag.name) == tag)).one()
        session.exec(
            upsert(session, GenerationTag)
            .values(generation_id=row.id, tag_id=tag_id)
            .on_conflict_do_nothing()
        )
    return row.id
