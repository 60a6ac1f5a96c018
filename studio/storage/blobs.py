"""``Blobs``: where the studio's files live — originals, references, thumbnails, previews, turns (and, in object
storage, the crash journal) — behind one small interface with two implementations:

- ``LocalBlobs``: a folder (``STUDIO_STORAGE_URL`` unset: the data directory), with today's layout
  (``images/ab/<sha>.<ext>``, ``thumbs/ab/<sha>.jpg``, ``previews/…``, ``turns/<sha>.json``), written through
  ``files.write_atomic`` and ``files.contained``, so existing data directories keep working unchanged;
- ``S3Blobs`` (``studio/storage/s3_blobs.py``): a bucket, ``STUDIO_STORAGE_URL=s3://bucket/prefix``.

Keys are relative POSIX paths. Every write is atomic (a PUT, or temp file + rename); a content-addressed key
(its name is a SHA-256) that is already present with the same size is not written again.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from studio.domain.errors import InputError, StoreError
from studio.storage import files

_HASHED = re.compile(r"(?:^|/)[0-9a-f]{64}\.[a-z0-9]+$")
#: Read/stream buffer for originals (downloads and exports never hold many files at once).
CHUNK = 1 << 20


class BlobMissing(StoreError):
    """A key the history names is not in the storage (run ``studio doctor``)."""


def check_key(key: str) -> str:
    """A relative POSIX key with no empty, ``.`` or ``..`` part (raises InputError)."""
    if not isinstance(key, str) or not key or key.startswith("/") or "\\" in key or "\x00" in key:
        raise InputError(f"{key!r} is not a storage key.")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise InputError(f"{key!r} is not a storage key.")
    return key


def content_addressed(key: str) -> bool:
    """Whether the key's name is its content's SHA-256 (same name, same bytes)."""
    return bool(_HASHED.search(key))


class Blobs(Protocol):
    """Where the studio's files are. ``mode`` is ``"files"`` or ``"s3"``."""

    mode: str

    def put(self, key: str, data: bytes, *, replace: bool = False) -> bool:
        """Store ``data`` atomically under ``key``; False when a content-addressed key was already there
        (``replace``: write anyway, e.g. to restart a grace period measured from the last write)."""
        ...

    def get(self, key: str) -> bytes:
        """The bytes under ``key`` (BlobMissing when absent; StoreError with a sentence otherwise)."""
        ...

    def open(self, key: str) -> BinaryIO:
        """A stream of the bytes under ``key`` (for originals: downloads and exports read it in chunks)."""
        ...

    def size(self, key: str) -> int | None:
        """The size in bytes, or None when absent."""
        ...

    def exists(self, key: str) -> bool: ...

    def modified(self, key: str) -> float | None:
        """When the object was last written (seconds since the epoch), or None when absent."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key`` (absent is fine)."""
        ...

    def list(self, prefix: str = "") -> Iterator[str]:
        """Every key under ``prefix`` (a folder-like prefix such as ``"thumbs/"``)."""
        ...

    def locator(self, key: str) -> str:
        """What the JSON contract calls the file's ``path``: an absolute path, or ``s3://bucket/key``."""
        ...

    def local_path(self, key: str) -> Path | None:
        """The file itself when the storage is a folder, else None."""
        ...


class LocalBlobs:
    """A folder with today's layout; the reference implementation of ``Blobs``."""

    mode = "files"

    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser().resolve()

    def _path(self, key: str) -> Path:
        return files.contained(self.root, check_key(key))

    def put(self, key: str, data: bytes, *, replace: bool = False) -> bool:
        path = self._path(key)
        if not replace and content_addressed(key) and self.size(key) == len(data):
            return False  # same name means same bytes: the earlier write was atomic
        files.write_atomic(path, data)
        return True

    def get(self, key: str) -> bytes:
        with self.open(key) as f:
            return f.read()

    def open(self, key: str) -> BinaryIO:
        path = self._path(key)
        try:
            return path.open("rb")
        except FileNotFoundError as exc:
            raise BlobMissing(f"The file {key} is missing from {self.root} (run `studio doctor`).") from exc
        except OSError as exc:
            raise StoreError(f"The file {path} could not be read ({exc.strerror or exc}).") from exc

    def size(self, key: str) -> int | None:
        try:
            return self._path(key).stat().st_size
        except OSError:
            return None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def modified(self, key: str) -> float | None:
        try:
            return self._path(key).lstat().st_mtime
        except OSError:
            return None

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(key))

    def list(self, prefix: str = "") -> Iterator[str]:
        base = self.root / prefix.rstrip("/") if prefix else self.root
        if not base.is_dir():
            return
        for dirpath, _dirs, names in os.walk(base):
            for name in sorted(names):
                if name.startswith("."):
                    continue  # a temp file of a write in progress
                yield (Path(dirpath) / name).relative_to(self.root).as_posix()

    def locator(self, key: str) -> str:
        return str(self._path(key))

    def local_path(self, key: str) -> Path | None:
        return self._path(key)


def open_blobs(storage_url: str | None, data_dir: Path, *, endpoint_url: str | None = None) -> Blobs:
    """The storage ``STUDIO_STORAGE_URL`` names: a folder (default: the data directory) or ``s3://bucket/prefix``."""
    url = (storage_url or "").strip()
    if url.startswith("s3://"):
        from studio.storage.s3_blobs import S3Blobs  # boto3 loads only in object-storage mode

        return S3Blobs(url, endpoint_url=endpoint_url)
    if "://" in url and not url.startswith("file://"):
        raise StoreError(
            f"STUDIO_STORAGE_URL={url.split('://')[0]}://… is not supported; use a folder or s3://bucket/prefix."
        )
    folder = Path(url.removeprefix("file://")) if url else Path(data_dir)
    return LocalBlobs(folder)
