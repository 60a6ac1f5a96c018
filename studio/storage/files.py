"""The only place that builds paths inside the data directory and writes files there.

Writes are atomic and durable (temp file in the same directory -> fsync -> ``os.replace`` -> fsync of
the directory), so a crash never leaves a partial file under its final name. Every path made from
anything other than a hex digest goes through ``contained``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
from pathlib import Path, PurePosixPath, PureWindowsPath

from studio.domain.errors import DiskFull, InputError, StoreError
from studio.domain.mime import EXTENSIONS

_SHA256 = re.compile(r"[0-9a-f]{64}")
_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_DENIED = {errno.EACCES, errno.EPERM, errno.EROFS}
# Filesystems that cannot fsync a directory say so with these; the rename is still atomic.
_NO_DIR_FSYNC = {errno.EINVAL, errno.EBADF, getattr(errno, "ENOTSUP", errno.EINVAL)}


def _store_error(exc: OSError, directory: Path) -> StoreError:
    if exc.errno in _FULL:
        return DiskFull(
            f"The disk holding the studio's data directory ({directory}) is full; free some space "
            "and retry — nothing already saved was lost."
        )
    if exc.errno in _DENIED:
        return StoreError(
            f"The studio cannot write to {directory} ({exc.strerror or 'permission denied'}); "
            "check the folder's permissions or choose another data directory."
        )
    return StoreError(
        f"Saving a file in {directory} failed ({exc.strerror or exc}); nothing already saved was lost."
    )


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # e.g. Windows cannot open a directory; os.replace is still atomic there
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _NO_DIR_FSYNC:
            raise
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that the file is either absent, the old one, or complete."""
    directory = path.parent
    tmp: str | None = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        tmp = None
        _fsync_dir(directory)
    except OSError as exc:
        raise _store_error(exc, directory) from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _check_part(part: str) -> None:
    if not isinstance(part, str) or not part:
        raise InputError("A file name was empty.")
    if "\x00" in part:
        raise InputError("A file name contained a NUL byte.")
    win = PureWindowsPath(part)
    if PurePosixPath(part).is_absolute() or win.drive or win.root:
        raise InputError(f"{part!r} is an absolute path; only names inside the data directory are allowed.")
    if ".." in re.split(r"[\\/]", part):
        raise InputError(f"{part!r} tries to leave the data directory.")


def contained(root: Path, *parts: str) -> Path:
    """Join ``parts`` under ``root`` and return the resolved path, refusing anything that escapes it."""
    for part in parts:
        _check_part(part)
    base = Path(root).resolve()
    target = base.joinpath(*parts).resolve()
    if not target.is_relative_to(base):
        raise InputError(f"{'/'.join(parts)!r} resolves outside the data directory.")
    return target


def _check_sha(sha256: str) -> str:
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise InputError("An image name must be a 64-character lowercase hex SHA-256 digest.")
    return sha256


def image_relpath(sha256: str, mime: str) -> str:
    """``images/ab/<sha>.<ext>`` for an original image (the extension comes from its sniffed type)."""
    sha = _check_sha(sha256)
    try:
        ext = EXTENSIONS[mime]
    except KeyError:
        raise InputError(f"The studio does not store images of type {mime!r}.") from None
    return f"images/{sha[:2]}/{sha}.{ext}"


def preview_relpath(sha256: str) -> str:
    """``previews/ab/<sha>.jpg``: an on-screen copy of a large original, made once on first view."""
    sha = _check_sha(sha256)
    return f"previews/{sha[:2]}/{sha}.jpg"


def thumb_relpath(sha256: str) -> str:
    sha = _check_sha(sha256)
    return f"thumbs/{sha[:2]}/{sha}.jpg"


def turn_relpath(sha256: str) -> str:
    """``turns/<sha>.json``: a model turn kept verbatim (thought signatures can be megabytes)."""
    return f"turns/{_check_sha(sha256)}.json"
