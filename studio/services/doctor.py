"""`studio doctor [--repair] [--json]`: check the history against the files it points at, and repair.

Checks: SQLite's ``PRAGMA integrity_check``; rows pointing at missing or wrong-hash files; pending or
running rows whose process is gone (adopted when their journal names complete files, else
interrupted); image, thumbnail and model-turn files no row points at; leftover temp files; missing
thumbnails. Designed after the failures of other tools' "clean up the library" commands (one deleted
thousands of valid rows; docs/reliability.md, "Repair never deletes"): it reports by default, backs the database up before repairing, and never deletes an original or
a row. Anything it cannot place is moved to ``quarantine/<timestamp>/``.

``check`` returns a Report (``ok`` when healthy or everything was repaired); the command that prints it
and maps it to an exit status is ``studio.cli.cmd_doctor``.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from studio.domain.errors import ImageRejected, StoreError
from studio.domain.settings import load_places
from studio.imaging import images
from studio.storage import Store, files, health_repo, journal, migrations
from studio.storage.blob_files import StoredFiles
from studio.storage.blobs import BlobMissing, Blobs

#: While a live studio has generations in flight, files this young may be mid-save: leave them alone.
IN_FLIGHT_GRACE_S = 600.0
_STORED = ("images", "thumbs", "turns")  # in the storage (the data directory by default, or the bucket)
_LOCAL = (journal.DIR, "backups")  # always in the data directory


@dataclass
class Problem:
    kind: str  # integrity | missing_file | wrong_hash | orphan_row | orphan_file | temp_file | ...
    detail: str  # a sentence
    action: str  # what --repair does (or did)
    id: int | None = None
    path: str | None = None
    fixed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class Report:
    data_dir: Path
    integrity: str = "ok"
    problems: list[Problem] = field(default_factory=list)
    backup: Path | None = None
    repair: bool = False
    advice: str | None = None  # PostgreSQL: how the history is backed up (pg_dump), since the doctor does not

    @property
    def ok(self) -> bool:
        return self.integrity == "ok" and all(p.fixed for p in self.problems)

    @property
    def repaired(self) -> int:
        return sum(p.fixed for p in self.problems)

    def to_json(self) -> dict[str, Any]:
        out = {
            "ok": self.ok,
            "integrity": self.integrity,
            "problems": [p.to_json() for p in self.problems],
            "repaired": self.repaired,
            "backup": str(self.backup) if self.backup else None,
            "data_dir": str(self.data_dir),
        }
        if self.advice:  # PostgreSQL only: the SQLite contract stays as it was
            out["advice"] = self.advice
        return out


# -- the scan -----------------------------------------------------------------------------------------


def integrity(db_path: Path) -> str:
    """``ok`` or SQLite's first complaint (a damaged file that cannot even be opened included)."""
    return health_repo.integrity(db_path)


def _sha_ok(blobs: Blobs, key: str, sha256: str) -> bool:
    """Whether the stored bytes hash to ``sha256``, read in chunks (an original can be 25 MB)."""
    digest = hashlib.sha256()
    with blobs.open(key) as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest() == sha256


class _Storage:
    """The doctor's view of where the files are: keys in a folder (walked with temp files and all) or a bucket."""

    def __init__(self, stored: StoredFiles) -> None:
        self.stored, self.blobs = stored, stored.blobs
        folder = stored.blobs.local_path("images")
        self.root = folder.parent if folder is not None else None

    def keys(self, top: str) -> Iterator[str]:
        if self.root is not None:
            for path in _walk(self.root / top):
                yield path.relative_to(self.root).as_posix()
        else:
            yield from self.blobs.list(f"{top}/")

    def mtime(self, key: str) -> float:
        if self.root is not None:
            return _mtime(self.root / key)
        return self.blobs.modified(key) or 0.0

    def quarantine(self, key: str, stamp: str) -> str | None:
        """Move (never delete) ``key`` to ``quarantine/<stamp>/<key>``; returns where it went."""
        if self.root is not None:
            target = _move_to_quarantine(self.root, self.root / key, stamp)
            return target.relative_to(self.root).as_posix() if target is not None else None
        try:
            data = self.blobs.get(key)
        except BlobMissing:
            return None
        moved = f"quarantine/{stamp}/{key}"
        self.blobs.put(moved, data)  # the copy first: nothing is lost if the delete then fails
        self.stored.delete(key)
        return self.blobs.locator(moved)

    def remake_thumbnail(self, rel: str, thumb: str) -> bool:
        try:
            self.stored.put(thumb, images.make_thumbnail(self.blobs.get(rel)))
        except (OSError, ImageRejected, StoreError):
            return False
        return True


@dataclass
class _Library:
    """What the history says exists (read in one short read transaction)."""

    assets: list[tuple[int, str, str, str | None]]  # id, sha256, path, thumb_path
    turns: dict[str, list[int]]  # turn sha -> generation ids
    statuses: dict[int, str]
    live_owners: dict[int, bool]  # active generation id -> its owner is alive
    live_work: bool  # a live studio has generations in flight
    store_failed: set[int] = field(
        default_factory=set
    )  # failed only because the history could not be written


def _read_library(db_path: Path, is_alive: Callable[[str], bool], url: str | None = None) -> _Library:
    rows = health_repo.library(db_path, url)
    alive = {owner: is_alive(owner) for owner in {o for _, o in rows.active}}
    live_owners = {gen_id: alive[owner] for gen_id, owner in rows.active}
    return _Library(
        rows.assets, rows.turns, rows.statuses, live_owners, any(alive.values()), rows.store_failed
    )


def _walk(root: Path) -> Iterator[Path]:
    """Every file below ``root`` (nested folders included, symlinks not followed)."""
    for folder, _dirs, names in os.walk(root, followlinks=False):
        for name in names:
            yield Path(folder) / name


def _claimed_by_journals(stored: StoredFiles, lib: _Library) -> set[str]:
    """Files named by the journal of a row still in flight or about to be adopted: not orphans."""
    claimed: set[str] = set()
    for gen_id in journal.listing(stored.journals):
        if gen_id not in lib.live_owners and gen_id not in lib.store_failed:
            continue
        entry = journal.read(stored.journals, gen_id)
        if entry is None or not (lib.live_owners.get(gen_id) or not journal.missing(stored.blobs, entry)):
            continue  # a dead row that will be interrupted: its files are orphans like any other
        for image in entry.outputs + entry.thoughts:
            claimed.add(image["path"])
            if image["thumb_path"]:
                claimed.add(image["thumb_path"])
        if entry.values.get("model_content_sha"):
            claimed.add(files.turn_relpath(entry.values["model_content_sha"]))
    return claimed


class Doctor:
    def __init__(self, data_dir: Path, is_alive: Callable[[str], bool]) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.is_alive = is_alive
        self.report = Report(self.data_dir)
        self._moves: list[tuple[Problem, Path]] = []
        self._key_moves: list[tuple[Problem, str]] = []  # files in the storage, by key
        self.storage: _Storage | None = None  # set by scan: where the store's files are
        self._thumbs: list[tuple[Problem, str, str]] = []  # problem, original, thumb

    def add(self, problem: Problem) -> Problem:
        self.report.problems.append(problem)
        return problem

    def scan(self, store: Store) -> None:
        lib = _read_library(store.db_path, self.is_alive, store.database_url)
        self.storage = _Storage(store.files)
        self._check_rows(store)
        self._check_assets(lib)
        self._check_turns(lib)
        self._check_files(lib)

    def _check_rows(self, store: Store) -> None:
        for gen_id, entry in store.generations.orphans(self.is_alive):
            if entry is not None:
                self.add(
                    Problem(
                        "orphan_row",
                        f"Generation {gen_id} was being saved when its studio stopped; "
                        "its image files are complete.",
                        "adopt it (mark it succeeded)",
                        id=gen_id,
                    )
                )
            else:
                self.add(
                    Problem(
                        "orphan_row",
                        f"Generation {gen_id} was in progress when its studio stopped; "
                        "no complete image was saved for it.",
                        "mark it interrupted",
                        id=gen_id,
                    )
                )

    def _check_assets(self, lib: _Library) -> None:
        assert self.storage is not None
        blobs = self.storage.blobs
        for asset_id, sha, rel, thumb in lib.assets:
            if not blobs.exists(rel):
                self.add(
                    Problem(
                        "missing_file",
                        f"Image {rel} (asset {asset_id}) is missing.",
                        "none: restore it from a backup of the data directory",
                        path=rel,
                    )
                )
                continue
            if not _sha_ok(blobs, rel, sha):
                self._quarantine_key(
                    Problem(
                        "wrong_hash",
                        f"Image {rel} does not match its recorded SHA-256; "
                        "it was changed or damaged after it was saved.",
                        "move it to quarantine; restore the original from a backup",
                        path=rel,
                    ),
                    rel,
                    fixes=False,
                )
                continue
            if thumb and not blobs.exists(thumb):
                problem = self.add(
                    Problem(
                        "missing_thumbnail",
                        f"The thumbnail of {rel} is missing.",
                        "make it again from the original",
                        path=thumb,
                    )
                )
                self._thumbs.append((problem, rel, thumb))

    def _check_turns(self, lib: _Library) -> None:
        assert self.storage is not None
        blobs = self.storage.blobs
        for sha, gen_ids in lib.turns.items():
            rel = files.turn_relpath(sha)
            if not blobs.exists(rel):
                self.add(
                    Problem(
                        "missing_file",
                        f"The saved model turn {rel} of generation {gen_ids[0]} is "
                        "missing; conversational edits from it will not work.",
                        "none: restore it from a backup",
                        id=gen_ids[0],
                        path=rel,
                    )
                )
            elif not _sha_ok(blobs, rel, sha):
                self._quarantine_key(
                    Problem(
                        "wrong_hash",
                        f"The saved model turn {rel} does not match its hash.",
                        "move it to quarantine; restore it from a backup",
                        id=gen_ids[0],
                        path=rel,
                    ),
                    rel,
                    fixes=False,
                )

    def _check_files(self, lib: _Library) -> None:
        known = {rel for _, _, rel, _ in lib.assets} | {t for _, _, _, t in lib.assets if t}
        known |= {files.turn_relpath(sha) for sha in lib.turns}
        assert self.storage is not None
        storage = self.storage
        known |= _claimed_by_journals(storage.stored, lib)
        journals = journal.listing(storage.stored.journals)
        young = time.time() - IN_FLIGHT_GRACE_S
        for top in _STORED:
            for key in storage.keys(top):
                name = key.rsplit("/", 1)[-1]
                if not name.endswith(".tmp") and key in known:
                    continue
                if lib.live_work and storage.mtime(key) > young:
                    continue  # a running studio may be between writing this file and committing its row
                self._quarantine_key(
                    Problem(
                        "temp_file",
                        f"{key} is a leftover temporary file of an interrupted write.",
                        "move it to quarantine",
                        path=key,
                    )
                    if name.endswith(".tmp")
                    else Problem(
                        "orphan_file", f"No generation points at {key}.", "move it to quarantine", path=key
                    ),
                    key,
                )
        if storage.root is None:  # object mode: the bucket's copies of the journal too
            for gen_id, where in journals.items():
                if where.startswith("s3://"):
                    self._check_journal(Path(where), journal.key(gen_id), {gen_id: Path(where)}, lib)
        local_journals = {i: Path(p) for i, p in journals.items() if not p.startswith("s3://")}
        for top in _LOCAL:
            for path in _walk(self.data_dir / top):
                rel = path.relative_to(self.data_dir).as_posix()
                if lib.live_work and _mtime(path) > young:
                    continue  # a running studio may be between writing this file and committing its row
                if path.name.endswith(".tmp"):
                    self._quarantine(
                        Problem(
                            "temp_file",
                            f"{rel} is a leftover temporary file of an interrupted write.",
                            "move it to quarantine",
                            path=rel,
                        ),
                        path,
                    )
                elif top == journal.DIR:
                    self._check_journal(path, rel, local_journals, lib)
                elif top != "backups" and rel not in known:
                    self._quarantine(
                        Problem(
                            "orphan_file",
                            f"No generation points at {rel}.",
                            "move it to quarantine",
                            path=rel,
                        ),
                        path,
                    )

    def _check_journal(self, path: Path, rel: str, journals: dict[int, Path], lib: _Library) -> None:
        gen_id = next((i for i, p in journals.items() if p == path), None)
        status = lib.statuses.get(gen_id) if gen_id is not None else None
        if status in ("pending", "running"):
            return  # in flight, or reported above as an orphan row
        stored = self.storage.stored if self.storage is not None else None
        adoptable = (
            gen_id in lib.store_failed
            and stored is not None
            and journal.adoptable(stored.journals, gen_id or 0, stored.blobs) is not None
        )
        if adoptable:
            self.add(
                Problem(
                    "unsaved_row",
                    f"Generation {gen_id} is marked failed because the history could not "
                    "be written, but its image files were saved.",
                    "adopt it (mark it succeeded)",
                    id=gen_id,
                    path=rel,
                )
            )
        elif status is not None:
            self.add(
                Problem(
                    "stale_journal",
                    f"{rel} belongs to generation {gen_id}, which is already {status}.",
                    "remove it (the row already records the same)",
                    id=gen_id,
                    path=rel,
                )
            )
        elif str(path).startswith("s3:/"):
            self._quarantine_key(
                Problem(
                    "orphan_file",
                    f"{path} is not a journal of any generation in the history.",
                    "move it to quarantine",
                    path=rel,
                ),
                rel,
            )
        else:
            self._quarantine(
                Problem(
                    "orphan_file",
                    f"{rel} is not a journal of any generation in the history.",
                    "move it to quarantine",
                    path=rel,
                ),
                path,
            )

    def _quarantine_key(self, problem: Problem, key: str, *, fixes: bool = True) -> None:
        self.add(problem)
        self._key_moves.append((problem, key))
        if not fixes:
            problem.action += " (the row still needs the original)"

    def _quarantine(self, problem: Problem, path: Path, *, fixes: bool = True) -> None:
        self.add(problem)
        self._moves.append((problem, path))
        if not fixes:
            problem.action += " (the row still needs the original)"

    # -- repair ---------------------------------------------------------------------------------------

    def repair(self, store: Store) -> None:
        if not self.report.problems:
            return
        self.report.repair = True
        if store.database_url:  # a server's database: the team's own backups (pg_dump), never a copy here
            self.report.backup = None
        else:
            self.report.backup = migrations.backup(store.db_path, migrations.LATEST)
        adopted = set(store.generations.adopt_orphans(self.is_alive))
        interrupted = set(
            store.generations.interrupt_orphans(self.is_alive)
        )  # also removes journals of final rows
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        for problem in self.report.problems:
            if problem.kind == "orphan_row":
                problem.action = (
                    "adopted"
                    if problem.id in adopted
                    else "interrupted"
                    if problem.id in interrupted
                    else "none: it finished or was resolved meanwhile"
                )
                problem.fixed = True
            elif problem.kind == "unsaved_row":  # interrupt_orphans above adopted it from its journal
                record = store.generations.get(problem.id or 0)
                problem.fixed = record is not None and record.status == "succeeded"
            elif problem.kind == "stale_journal":
                journal.remove(store.files.journals, problem.id or 0)
                problem.fixed = True
        for problem, path in self._moves:
            target = _move_to_quarantine(self.data_dir, path, stamp)
            if target is not None and problem.kind != "wrong_hash":
                problem.fixed = True
            if target is not None:
                problem.action = f"moved to {target.relative_to(self.data_dir).as_posix()}"
        storage = self.storage or _Storage(store.files)
        for problem, key in self._key_moves:
            where = storage.quarantine(key, stamp)
            if where is not None and problem.kind != "wrong_hash":
                problem.fixed = True
            if where is not None:
                problem.action = f"moved to {where}"
        for problem, rel, thumb in self._thumbs:
            problem.fixed = storage.remake_thumbnail(rel, thumb)


def _mtime(path: Path) -> float:
    try:
        return path.lstat().st_mtime
    except OSError:
        return 0.0


def _move_to_quarantine(data_dir: Path, path: Path, stamp: str) -> Path | None:
    """Move (never delete) ``path`` to ``quarantine/<stamp>/<its relative path>``."""
    rel = path.relative_to(data_dir).as_posix()
    target = files.contained(data_dir, "quarantine", stamp, rel)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
    except FileNotFoundError:
        return None  # it went away meanwhile (e.g. a journal removed by its own studio)
    return target


# -- entry points -------------------------------------------------------------------------------------


def _default_alive(store: Store) -> Callable[[str], bool]:
    """Whether an owner is alive: its pid on this host, its heartbeat lease on another (``leases``)."""
    from studio.services.leases import Liveness
    from studio.storage.worker_repo import WorkerRepository

    return Liveness(WorkerRepository(store.db))


def check(
    data_dir: Path,
    *,
    repair: bool = False,
    is_alive: Callable[[str], bool] | None = None,
    storage_url: str | None = None,
    s3_endpoint_url: str | None = None,
    database_url: str | None = None,
) -> Report:
    """Inspect (and with ``repair`` fix) the data directory, the storage (``STUDIO_STORAGE_URL``) and the
    history (``STUDIO_DATABASE_URL``), each read from the environment when not given (``load_places``: as
    every other command reads them). Raises StoreError if it cannot be opened, ConfigError for a malformed
    URL."""
    places = load_places()
    storage_url = storage_url or places.storage_url
    s3_endpoint_url = s3_endpoint_url or places.s3_endpoint_url
    if database_url is None and places.database_url is not None:
        database_url = places.database_url.get()
    try:
        return _check(
            data_dir,
            repair=repair,
            is_alive=is_alive,
            storage=(storage_url, s3_endpoint_url),
            database_url=database_url,
        )
    except (
        health_repo.DatabaseError,
        OSError,
    ) as exc:  # a locked database or an unreadable folder: a sentence, not a traceback
        raise StoreError(
            f"The doctor could not read {data_dir} ({exc}). If the studio is busy saving, try again "
            "in a moment; otherwise check the folder's permissions."
        ) from exc


def _check(
    data_dir: Path,
    *,
    repair: bool,
    is_alive: Callable[[str], bool] | None,
    storage: tuple[str | None, str | None] = (None, None),
    database_url: str | None = None,
) -> Report:
    doctor = Doctor(data_dir, is_alive or (lambda owner: False))  # the real check once the store is open
    db_path = doctor.data_dir / "studio.db"
    if database_url:
        doctor.report.advice = health_repo.PG_BACKUP_ADVICE
        doctor.report.integrity = health_repo.integrity(db_path, database_url)
        if doctor.report.integrity != "ok":
            doctor.add(
                Problem(
                    "integrity",
                    f"PostgreSQL: {doctor.report.integrity}.",
                    f"none: {health_repo.PG_BACKUP_ADVICE}",
                    path="",
                )
            )
            return doctor.report
    elif db_path.exists():
        doctor.report.integrity = integrity(db_path)
        if doctor.report.integrity != "ok":
            doctor.add(
                Problem(
                    "integrity",
                    f"SQLite reports the history database is damaged ({doctor.report.integrity}).",
                    f"none: restore a copy from {doctor.data_dir / 'backups'}",
                    path="studio.db",
                )
            )
            return doctor.report  # repairing on top of a damaged database could make it worse
    store = Store(
        doctor.data_dir, database_url=database_url, storage_url=storage[0], s3_endpoint_url=storage[1]
    )
    try:
        if is_alive is None:
            doctor.is_alive = _default_alive(store)
        doctor.scan(store)
        if repair:
            doctor.repair(store)
    finally:
        store.close()
    return doctor.report
