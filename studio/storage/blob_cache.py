"""A bounded local cache of thumbnails and previews read from object storage (``STUDIO_DATA_DIR/cache``).

History shows dozens of thumbnails on every rerun; Streamlit wants files. In object-storage mode each
``thumbs/…`` and ``previews/…`` object is fetched once into ``cache/<key>`` and served from there afterwards.
The cache is bounded by total bytes (``STUDIO_CACHE_MB``, default 1024 MB) and evicts least recently used
files first (a hit touches the file's mtime, so the order survives restarts and is shared by the processes
using the same data directory). Entries are content-addressed, so a cached file is never stale.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

from studio.storage import files
from studio.storage.blobs import Blobs, check_key

DEFAULT_MB = 1024
ENV = "STUDIO_CACHE_MB"
#: The key prefixes the cache keeps (originals are streamed, never cached whole by the UI path).
CACHED = ("thumbs/", "previews/")
#: How often the folder's size is measured again (other processes add to it too).
REMEASURE_S = 30.0


def _write(path: Path, data: bytes) -> None:
    """A cache file appears whole (temp file + rename) but is not fsynced: a lost copy is fetched again."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def limit_from_env() -> int:
    """``STUDIO_CACHE_MB`` in bytes (a bad value falls back to the default)."""
    raw = (os.environ.get(ENV) or "").strip()
    try:
        mb = float(raw) if raw else DEFAULT_MB
    except ValueError:
        mb = DEFAULT_MB
    return max(0, int(mb * 1024 * 1024))


class BlobCache:
    def __init__(self, root: Path, blobs: Blobs, max_bytes: int | None = None) -> None:
        self.root = Path(root)
        self.blobs = blobs
        self.max_bytes = limit_from_env() if max_bytes is None else max_bytes
        self._lock = threading.Lock()
        self._total: int | None = None  # measured lazily, then kept up to date
        self._measured = 0.0  # time.monotonic() of the last walk of the folder

    def _entries(self) -> list[tuple[float, int, Path]]:
        out = []
        for dirpath, _dirs, names in os.walk(self.root):
            for name in names:
                p = Path(dirpath) / name
                with contextlib.suppress(OSError):
                    st = p.stat()
                    out.append((st.st_mtime, st.st_size, p))
        return out

    def _measure(self) -> int:
        self._measured = time.monotonic()
        return sum(size for _, size, _ in self._entries())

    def total(self) -> int:
        with self._lock:
            if self._total is None:
                self._total = self._measure()
            return self._total

    def path(self, key: str, *, fetch: bool = True) -> Path:
        """The local file holding ``key``, fetched from the storage on a miss (BlobMissing when absent;
        ``fetch=False``: FileNotFoundError instead of a fetch)."""
        target = files.contained(self.root, check_key(key))
        try:
            os.utime(target)  # a hit: most recently used now
            return target
        except FileNotFoundError:
            if not fetch:
                raise
        data = self.blobs.get(key)
        _write(target, data)
        self._added(len(data), keep=target)
        return target

    def get(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def put(self, key: str, data: bytes) -> None:
        """Keep a copy of what was just written to the storage (a new thumbnail is shown at once)."""
        target = files.contained(self.root, check_key(key))
        if target.exists():
            return
        _write(target, data)
        self._added(len(data), keep=target)

    def discard(self, key: str) -> None:
        with contextlib.suppress(OSError):
            target = files.contained(self.root, check_key(key))
            size = target.stat().st_size
            target.unlink()
            with self._lock:
                if self._total is not None:
                    self._total -= size

    def _added(self, size: int, keep: Path) -> None:
        with self._lock:
            # Other processes on this data directory add files this one does not count: the folder is
            # walked again now and then, and before evicting, so the bound holds for all of them together.
            if self._total is None or time.monotonic() - self._measured > REMEASURE_S:
                self._total = self._measure()
            else:
                self._total += size
            if self._total <= self.max_bytes:
                return
            entries = self._entries()
            self._total, self._measured = sum(s for _, s, _ in entries), time.monotonic()
            # Evict down to 90 % of the bound, so the (directory-walking) eviction runs once per many adds.
            target = int(self.max_bytes * 0.9)
            for _mtime, s, p in sorted(entries):
                if self._total <= target:
                    break
                if p == keep:
                    continue
                with contextlib.suppress(OSError):
                    p.unlink()
                    self._total -= s
