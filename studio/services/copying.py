"""`studio copy-to`: copy the whole studio into another database and storage, verified and resumable.

Files first, then rows, so that no row in the target ever names a file the target lacks:

1. every object a source row names (originals and references under their sha256, model turns, the draft's
   reference-tray images, thumbnails, previews) is read from the source and checked against its sha256; it is
   written to the target only when the target lacks it or holds other bytes, then read back and checked again;
2. when a source file is missing or its bytes do not match its hash, the copy stops before any row is
   written and names the file and the generations that use it;
3. the rows, table by table in batches (storage.copy_repo): a row already in the target is skipped.

A second run finds every file and row in place and copies nothing; a run killed halfway resumes.

File access goes through ``_files_of`` (one small adapter over the data-directory layout of
``storage.files``); the object-storage layer replaces it with the store's own blobs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.domain.errors import InputError, StoreError
from studio.domain.mime import sha256_hex
from studio.domain.settings import Settings, load_settings
from studio.storage import Store, copy_repo, files
from studio.storage.blobs import BlobMissing, Blobs

Progress = Callable[[str, int, int], None]
BATCH = copy_repo.BATCH  # rows per transaction


@dataclass
class CopyReport:
    """What one ``copy-to`` did; ``to_json`` is the ``--json`` contract (add keys, never rename them)."""

    source: str
    target: str
    rows: dict[str, int] = field(default_factory=dict)  # rows inserted per table
    updated: dict[str, int] = field(default_factory=dict)  # rows changed since an earlier copy, per table
    rows_total: dict[str, int] = field(default_factory=dict)  # rows in the source per table
    files_copied: int = 0
    files_present: int = 0
    bytes: int = 0  # bytes written to the target
    verified: int = 0  # files whose bytes in the target were read back and matched
    failures: list[str] = field(default_factory=list)  # a sentence per source file that failed its check

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def already_there(self) -> bool:
        return (
            self.ok
            and self.files_copied == 0
            and not any(self.rows.values())
            and not any(self.updated.values())
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "source": self.source,
            "target": self.target,
            "rows": self.rows,
            "rows_total": self.rows_total,
            "updated": self.updated,
            "files": {"copied": self.files_copied, "present": self.files_present, "bytes": self.bytes},
            "verified": self.verified,
            "already_there": self.already_there,
            "failures": self.failures,
        }


# -- the one file adapter -----------------------------------------------------------------------------


class StoreFiles:
    """Objects by key (``images/ab/<sha>.<ext>``, ``thumbs/...``, ``previews/...``, ``turns/<sha>.json``,
    ``drafts/ab/<sha>.<ext>``) in a store's storage — a folder or a bucket (``Blobs``): get / exists / put /
    list, with a missing object read as None."""

    def __init__(self, blobs: Blobs) -> None:
        self.blobs = blobs

    def describe(self) -> str:
        return self.blobs.locator("x").removesuffix("/x")  # the folder, or s3://bucket/prefix

    def get(self, key: str) -> bytes | None:
        try:
            return self.blobs.get(key)
        except (BlobMissing, InputError, OSError):
            return None

    def exists(self, key: str) -> bool:
        try:
            return self.blobs.exists(key)
        except InputError:
            return False

    def put(self, key: str, data: bytes) -> None:
        self.blobs.put(key, data, replace=True)  # only called where the target lacks it or holds other bytes

    def list(self, prefix: str) -> list[str]:
        return sorted(self.blobs.list(prefix.rstrip("/") + "/"))


def _files_of(store: Store) -> StoreFiles:
    return StoreFiles(store.files.blobs)


def _target_dirs(storage: str, database: str, settings: Settings) -> tuple[Path, str]:
    """The target's local data directory and storage URL: a folder is both; a bucket's local caches and
    crash journal go in a folder of this studio's data directory named after the target."""
    if not storage.strip():
        raise InputError("--storage must name a folder or s3://bucket/prefix.")
    if storage.startswith("s3://"):
        name = hashlib.sha256(f"{database}\n{storage}".encode()).hexdigest()[:16]
        return settings.data_dir.expanduser().resolve() / "copy-targets" / name, storage
    if "://" in storage:
        raise InputError(
            f"--storage must name a folder or s3://bucket/prefix, not {storage.split('://')[0]}://…"
        )
    folder = Path(storage).expanduser().resolve()
    return folder, str(folder)


# -- the copy ---------------------------------------------------------------------------------------------


FILE_WORKERS = 8  # files are copied this many at a time (fsync and network waits overlap)


@dataclass(frozen=True)
class _Outcome:
    state: str  # "copied" | "present" | "failed" | "absent" (an optional file the source never made)
    size: int = 0
    failure: str = ""


class _FileCopy:
    """One file at a time, safe to run in threads: it only reads and writes its own key."""

    def __init__(self, src: StoreFiles, dst: StoreFiles) -> None:
        self.src, self.dst = src, dst

    def one(self, key: str, sha: str | None, users: list[int] | None = None) -> _Outcome:
        """Copy ``key`` when the target lacks it; ``sha`` is the hash its bytes must have (None: the
        source's bytes are the reference, e.g. a thumbnail)."""
        data = self.src.get(key)
        if data is None:
            return self._fail(key, "is missing from the source", users) if sha else _Outcome("absent")
        digest = sha256_hex(data)
        if sha is not None and digest != sha:
            return self._fail(
                key, f"does not match its sha256 ({digest[:12]}… instead of {sha[:12]}…)", users
            )
        there = self.dst.get(key)
        if there is not None and sha256_hex(there) == digest:
            return _Outcome("present")
        self.dst.put(key, data)
        back = self.dst.get(key)
        if back is None or sha256_hex(back) != digest:
            raise StoreError(f"{key} was written to {self.dst.describe()} but reads back different.")
        return _Outcome("copied", len(data))

    def _fail(self, key: str, why: str, users: list[int] | None) -> _Outcome:
        used = f" (used by generation {', '.join(f'#{g}' for g in users)})" if users else ""
        return _Outcome("failed", failure=f"{self.src.describe()}/{key} {why}{used}")

    def all(
        self,
        work: list[tuple[str, str | None, list[int] | None]],
        report: CopyReport,
        progress: Progress | None,
    ) -> None:
        with ThreadPoolExecutor(FILE_WORKERS, thread_name_prefix="copy-to") as pool:
            for start in range(
                0, len(work), 256
            ):  # a slice at a time: a million files are not a million futures
                chunk = work[start : start + 256]
                for outcome in pool.map(lambda item: self.one(*item), chunk):
                    if outcome.state == "failed":
                        report.failures.append(outcome.failure)
                    elif outcome.state in ("copied", "present"):
                        report.verified += 1
                        report.files_copied += outcome.state == "copied"
                        report.files_present += outcome.state == "present"
                        report.bytes += outcome.size
                if progress:
                    progress("files", start + len(chunk), len(work))


def copy_to(
    database: str,
    storage: str,
    *,
    settings: Settings | None = None,
    batch: int = BATCH,
    progress: Progress | None = None,
) -> CopyReport:
    """Copy the studio the settings name into ``database`` + ``storage``; see the module docstring."""
    wanted = copy_repo.parse_url(database)
    settings = settings or load_settings()
    folder, storage_url = _target_dirs(storage, database, settings)
    source = Store.for_settings(settings)
    try:
        source_url = copy_repo.database_url(source.db)
        if copy_repo.same_database(source_url, wanted):
            raise InputError(
                f"{copy_repo.shown(wanted)} is this studio's own database; copy-to copies into another one."
            )
        target = Store(
            folder, database_url=database, storage_url=storage_url, s3_endpoint_url=settings.s3_endpoint_url
        )
        try:
            opened = copy_repo.database_url(target.db)
            if not copy_repo.same_database(opened, wanted):
                raise InputError(
                    f"The target opened {copy_repo.shown(opened)} instead of {copy_repo.shown(wanted)}: "
                    "a SQLite target is the studio.db in the --storage folder."
                )
            if copy_repo.fingerprint(target.db) == copy_repo.fingerprint(source.db):  # another name for it
                raise InputError(
                    f"{copy_repo.shown(wanted)} is this studio's own database under another address; "
                    "copy-to copies into another one."
                )
            return _copy(source, target, batch, progress)
        finally:
            target.close()
    finally:
        source.close()


def _copy(source: Store, target: Store, batch: int, progress: Progress | None) -> CopyReport:
    src, dst = _files_of(source), _files_of(target)
    report = CopyReport(
        source=copy_repo.shown(copy_repo.database_url(source.db)) + f" + {src.describe()}",
        target=copy_repo.shown(copy_repo.database_url(target.db)) + f" + {dst.describe()}",
    )
    with copy_repo.Copier(source.db, target.db, batch=batch) as copier:
        copier.check_target()  # another history there: refused before anything is written
        wanted = copier.files()
        work: list[tuple[str, str | None, list[int] | None]] = []
        work += [(k, sha, wanted.users.get(k)) for k, sha in sorted(wanted.originals.items())]
        work += [(k, sha, wanted.users.get(k)) for k, sha in sorted(wanted.turns.items())]
        for sha in sorted(wanted.drafts):
            work += [
                (k, sha, None) for k in src.list(f"drafts/{sha[:2]}") if k.split("/")[-1].startswith(sha)
            ]
        work += [(k, None, None) for k in sorted(wanted.derived)]
        previews = (files.preview_relpath(sha) for sha in sorted(wanted.shas))  # made on first view only
        work += [(k, None, None) for k in previews if src.exists(k)]
        _FileCopy(src, dst).all(work, report, progress)
        report.rows_total = copier.counts()
        if report.failures:  # no row is written when a file failed its check
            report.rows = dict.fromkeys(report.rows_total, 0)
            report.updated = dict.fromkeys(report.rows_total, 0)
            return report
        report.rows, report.updated = copier.copy_rows(progress)
        lost = [key for key in copier.target_keys() if not dst.exists(key)]
        report.failures += [
            f"the target's history names {dst.describe()}/{key}, which is missing" for key in lost
        ]
    return report
