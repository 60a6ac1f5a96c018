"""``DraftRepository`` (``store.drafts``): the composer's draft on the ``draft`` table of migration 6, and the
reference-tray images it names.

The row holds JSON only. A tray image is kept once, by content hash, under ``drafts/ab/<sha>.<ext>`` (the
sanitised, downscaled bytes the tray holds, so a restored tray sends exactly what it would have sent); files
no draft names any more are removed when the draft is saved or cleared. ``drafts/`` is not a history folder:
the doctor does not scan it and emptying the trash never touches it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from sqlalchemy import delete
from sqlmodel import Session, col, select

from studio.domain.errors import StoreError
from studio.domain.mime import EXTENSIONS
from studio.storage.blob_files import StoredFiles
from studio.storage.blobs import LocalBlobs
from studio.storage.database import Database, upsert
from studio.storage.tables import Asset, Draft, GenerationAsset, utc_now

DIR = "drafts"
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _named(body: str) -> set[str]:
    """The tray image hashes a stored draft names."""
    try:
        tray = json.loads(body).get("tray") or []
        return {str(item.get("sha256")) for item in tray if isinstance(item, dict)}
    except (ValueError, AttributeError, TypeError):
        return set()


class DraftRepository:
    def __init__(self, db: Database, data_dir: Path, stored: StoredFiles | None = None) -> None:
        self.db = db
        self.data_dir = data_dir
        #: The tray's files live with the images (a folder or the bucket): any process may serve the draft.
        self.blobs = (stored or StoredFiles(LocalBlobs(data_dir), data_dir)).blobs

    # -- the row ----------------------------------------------------------------------------------

    def get(self, owner: str = "") -> str | None:
        """The stored draft's JSON text, or None."""
        with self.db.read() as session:
            return session.exec(select(Draft.body).where(col(Draft.owner) == owner)).first()

    def put(self, body: str, owner: str = "") -> None:
        with self.db.write() as session:
            stmt = upsert(session, Draft).values(owner=owner, body=body, updated_at=utc_now())
            stmt = stmt.on_conflict_do_update(
                index_elements=["owner"],
                set_={"body": stmt.excluded.body, "updated_at": stmt.excluded.updated_at},
            )
            session.exec(stmt)

    def update(
        self,
        change: Callable[[str | None], str | None],
        owner: str = "",
        *,
        prune_before: float | None = None,
    ) -> None:
        """Read-modify-write in one (IMMEDIATE) transaction: ``change`` gets the stored JSON text (or None)
        and returns the new text (None leaves the row as it is). Two sessions saving at once take turns,
        so neither overwrites what the other just wrote with an older copy."""
        with self.db.write() as session:
            # PostgreSQL has no single writer: lock the row (a first draft: the upsert below resolves a race)
            body = session.exec(select(Draft.body).where(col(Draft.owner) == owner).with_for_update()).first()
            new = change(body)
            if new is not None:
                stmt = upsert(session, Draft).values(owner=owner, body=new, updated_at=utc_now())
                stmt = stmt.on_conflict_do_update(
                    index_elements=["owner"],
                    set_={"body": stmt.excluded.body, "updated_at": stmt.excluded.updated_at},
                )
                session.exec(stmt)
            if prune_before is not None:
                self._prune_in(session, prune_before)

    def delete(self, owner: str = "", *, prune_before: float | None = None) -> None:
        with self.db.write() as session:
            session.exec(delete(Draft).where(col(Draft.owner) == owner))
            if prune_before is not None:
                self._prune_in(session, prune_before)

    def _prune_in(self, session: Session, before: float) -> None:
        """Inside a write transaction (the drafts cannot change meanwhile): remove the kept images no
        draft names and last written or re-kept before ``before`` (a grace period: another session may
        have kept an image and not yet written the row that names it)."""
        keep: set[str] = set()
        for body in session.exec(select(Draft.body)).all():
            keep |= _named(body)
        self.prune(keep, before=before)

    def move(self, owner: str, to: str) -> None:
        """The draft of ``owner`` becomes ``to``'s (replacing it), in one transaction."""
        with self.db.write() as session:
            # PostgreSQL has no single writer: lock the row (a first draft: the upsert below resolves a race)
            body = session.exec(select(Draft.body).where(col(Draft.owner) == owner).with_for_update()).first()
            if body is None:
                return
            session.exec(delete(Draft).where(col(Draft.owner) == to))
            session.exec(delete(Draft).where(col(Draft.owner) == owner))
            session.add(Draft(owner=to, body=body, updated_at=utc_now()))

    # -- the tray's files -------------------------------------------------------------------------

    def _key(self, sha256: str, mime: str) -> str | None:
        ext = EXTENSIONS.get(mime)
        if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256) or ext is None:
            return None
        return f"{DIR}/{sha256[:2]}/{sha256}.{ext}"

    def keep_image(self, sha256: str, mime: str, data: bytes) -> None:
        """Write a tray image once (atomically); an existing file of that hash is only touched (its grace
        period starts again: the draft about to name it is not written yet)."""
        key = self._key(sha256, mime)
        if key is None:
            return
        path = self.blobs.local_path(key)
        if path is not None and path.exists():
            with contextlib.suppress(OSError):
                os.utime(path)
                return
        self.blobs.put(key, data, replace=True)  # in a bucket, a re-put is the touch

    def image(self, sha256: str, mime: str) -> bytes | None:
        """A kept tray image's bytes, or None when it is missing or unreadable."""
        key = self._key(sha256, mime)
        if key is None:
            return None
        try:
            return self.blobs.get(key)
        except StoreError:
            return None

    def prune(self, keep: Iterable[str], *, before: float | None = None) -> int:
        """Remove the kept images whose hash is not in ``keep`` (and, given ``before``, last written
        before that time); returns how many were removed."""
        wanted = set(keep)
        removed = 0
        for key in list(self.blobs.list(f"{DIR}/")):
            if key.count("/") != 2 or key.rsplit("/", 1)[-1].split(".", 1)[0] in wanted:
                continue
            with contextlib.suppress(OSError, StoreError):
                modified = self.blobs.modified(key)
                if modified is not None and (before is None or modified < before):
                    self.blobs.delete(key)
                    removed += 1
        return removed

    # -- which generation made an image -----------------------------------------------------------

    def generation_of(self, sha256: str) -> int | None:
        """The newest generation whose output image has exactly these bytes (a dropped file the studio made
        and saved: a stored original carries no embedded settings), or None."""
        stmt = (
            select(GenerationAsset.generation_id)
            .join(Asset, col(Asset.id) == col(GenerationAsset.asset_id))
            .where(col(Asset.sha256) == sha256, col(GenerationAsset.role) == "output")
            .order_by(col(GenerationAsset.generation_id).desc())
        )
        with self.db.read() as session:
            return session.exec(stmt).first()
