"""The gallery's trash: trash, restore, and ``empty_trash`` with its file removal (``TrashRepository``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Insert, delete, func, insert, literal, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from studio.domain.requests import ACTIVE_STATUSES
from studio.storage import files
from studio.storage.blob_files import StoredFiles
from studio.storage.blobs import LocalBlobs
from studio.storage.database import Database, lock_files, rowcount
from studio.storage.exchange_repo import IMPORTED_OWNER
from studio.storage.filter_sql import chunks, unique_ids
from studio.storage.tables import Asset, Generation, GenerationAsset, RemovedSpend, drop_unused_tags, utc_now

#: Files removed per transaction: each holds the write lock (SQLite) or the files lock (PostgreSQL) while its
#: files are removed, so a save committing the same bytes waits at most that long.
REMOVE_CHUNK = 50


@dataclass(frozen=True)
class TrashReport:
    """What ``empty_trash`` did."""

    generations: int = 0  # rows deleted
    files_removed: int = 0  # originals, thumbnails and model turns no longer referenced
    bytes_freed: int = 0
    files_kept: int = 0  # files of trashed rows still used by another generation
    skipped_active: int = 0  # trashed rows still pending/running: left for a later empty


class TrashRepository:
    """Trash, restore, and emptying the trash with its file removal."""

    def __init__(self, db: Database, data_dir: Path, stored: StoredFiles | None = None) -> None:
        self.db = db
        self.data_dir = data_dir
        self.stored = stored or StoredFiles(LocalBlobs(data_dir), data_dir)

    # -- trash ---------------------------------------------------------------------------------

    def trash(self, ids: Iterable[int]) -> int:
        """Move to the trash (nothing leaves the disk until ``empty_trash``)."""
        wanted = unique_ids(ids)
        moved, now = 0, utc_now()
        with self.db.write() as session:
            for chunk in chunks(wanted):
                stmt = (
                    update(Generation)
                    .where(col(Generation.id).in_(chunk), col(Generation.deleted_at).is_(None))
                    .values(deleted_at=now, updated_at=now)
                )
                moved += rowcount(session.exec(stmt))
        return moved

    def restore(self, ids: Iterable[int]) -> int:
        wanted = unique_ids(ids)
        restored = 0
        with self.db.write() as session:
            for chunk in chunks(wanted):
                stmt = (
                    update(Generation)
                    .where(col(Generation.id).in_(chunk), col(Generation.deleted_at).is_not(None))
                    .values(deleted_at=None, updated_at=utc_now())
                )
                restored += rowcount(session.exec(stmt))
        return restored

    def empty_trash(self) -> TrashReport:
        """Delete trashed rows, then the files no remaining row references (shared images survive).

        Rows go first, in one transaction: a crash afterwards leaves unreferenced files (harmless),
        never a row pointing at a removed file. Each file is re-checked just before it is removed.
        """
        with self.db.write() as session:
            trashed = col(Generation.deleted_at).is_not(None)
            active = col(Generation.status).in_(ACTIVE_STATUSES)
            skipped = session.exec(select(func.count()).select_from(Generation).where(trashed, active)).one()
            doomed = [
                i for i in session.exec(select(Generation.id).where(trashed, ~active)).all() if i is not None
            ]
            assets, turns = self._doomed_files(session, doomed)
            removed_at = utc_now()
            for chunk in chunks(doomed):
                session.exec(_keep_spend(chunk, removed_at))  # the month's spend outlives the rows
                session.exec(delete(Generation).where(col(Generation.id).in_(chunk)))
            orphans = self._unreferenced_assets(session, assets)
            for chunk in chunks([a.id for a in orphans if a.id is not None]):
                session.exec(delete(Asset).where(col(Asset.id).in_(chunk)))
            drop_unused_tags(session)
            used_turns: set[str] = set()
            for turn_chunk in chunks(turns):
                shas = select(Generation.model_content_sha).where(
                    col(Generation.model_content_sha).in_(turn_chunk)
                )
                used_turns.update(t for t in session.exec(shas).all() if t)
        paths = [p for a in orphans for p in (a.path, a.thumb_path, files.preview_relpath(a.sha256)) if p]
        paths += [files.turn_relpath(t) for t in turns if t not in used_turns]
        removed, freed = self._remove_files(paths)
        kept = len(assets) - len(orphans) + len(used_turns)
        return TrashReport(len(doomed), removed, freed, kept, int(skipped))

    def _doomed_files(self, session: Session, gen_ids: Sequence[int]) -> tuple[list[int], list[str]]:
        assets: set[int] = set()
        turns: set[str] = set()
        for chunk in chunks(gen_ids):
            assets.update(
                session.exec(
                    select(GenerationAsset.asset_id).where(col(GenerationAsset.generation_id).in_(chunk))
                ).all()
            )
            turns.update(
                t
                for t in session.exec(
                    select(Generation.model_content_sha).where(col(Generation.id).in_(chunk))
                ).all()
                if t
            )
        return sorted(assets), sorted(turns)

    def _unreferenced_assets(self, session: Session, asset_ids: Sequence[int]) -> list[Asset]:
        out: list[Asset] = []
        for chunk in chunks(asset_ids):
            used = select(GenerationAsset.asset_id).where(col(GenerationAsset.asset_id) == Asset.id)
            out += session.exec(select(Asset).where(col(Asset.id).in_(chunk), ~used.exists())).all()
        return out

    @staticmethod
    def _still_referenced(session: Session, rel: str) -> bool:
        """A file another generation started using since the rows were deleted (same bytes saved again)."""
        # Originals, thumbnails and previews are all named by the image's sha256: one indexed lookup.
        if rel.startswith("turns/"):
            sha = Path(rel).stem
            turn = select(Generation.id).where(col(Generation.model_content_sha) == sha).limit(1)
            return session.exec(turn).first() is not None
        image = select(Asset.id).where(col(Asset.sha256) == Path(rel).stem).limit(1)
        return session.exec(image).first() is not None

    def _remove_files(self, rels: Sequence[str]) -> tuple[int, int]:
        """Remove the files no row names, each checked in the transaction that holds the files lock while it
        is removed: a save that found the same bytes stored commits before (the check sees its row) or after
        (its commit finds the file gone and writes it again; ``GenerationRepository._keep_files``)."""
        removed = freed = 0
        for start in range(0, len(rels), REMOVE_CHUNK):
            chunk = rels[start : start + REMOVE_CHUNK]
            with self.db.write() as session:
                lock_files(session, shared=False)
                for rel in chunk:
                    if self._still_referenced(session, rel):
                        continue
                    size = self.stored.size(rel)  # through Blobs: the folder or the bucket
                    if size is None:
                        continue
                    self.stored.delete(rel)
                    removed, freed = removed + 1, freed + size
        return removed, freed


def _keep_spend(gen_ids: Sequence[int], removed_at: str) -> Insert:
    """Copy the money columns of rows about to be deleted into ``removed_spend`` (rows this studio paid for:
    an imported row's cost is another studio's)."""
    columns = (
        "generation_id",
        "created_at",
        "author",
        "model",
        "status",
        "cost_usd",
        "n_images",
        "total_tokens",
    )
    rows = sa_select(
        col(Generation.id),
        col(Generation.created_at),
        col(Generation.author),
        col(Generation.model),
        col(Generation.status),
        col(Generation.cost_usd),
        col(Generation.n_images),
        col(Generation.total_tokens),
        literal(removed_at),
    ).where(col(Generation.id).in_(gen_ids), col(Generation.owner) != IMPORTED_OWNER)
    return insert(RemovedSpend).from_select([*columns, "removed_at"], rows)
