"""``StoredFiles``: the one object the repositories use for files — the ``Blobs`` the settings name, the local
cache in front of it, the crash journal's places, and the local paths records carry.

Folder mode (the default): the folder is the truth; a record's ``path`` is the file, no cache.
Object mode (``s3://…``): the bucket is the truth. A record's ``path`` is where the original is (or will be)
materialised under ``STUDIO_DATA_DIR/cache`` and its ``locator`` is ``s3://bucket/key`` (the JSON ``path``);
thumbnails are materialised into the bounded cache when records are read, so a History rerun reads local
files and sends no request.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, TypeVar

from studio.domain.errors import StoreError
from studio.domain.records import GenerationRecord
from studio.storage.blob_cache import CACHED, BlobCache
from studio.storage.blobs import BlobMissing, Blobs, LocalBlobs, open_blobs

R = TypeVar("R", bound=Sequence[GenerationRecord])
CACHE_DIR = "cache"
#: After the bucket fails a thumbnail fetch, pages stop fetching misses for this long (reads still try).
OUTAGE_PAUSE_S = 30.0
#: Records asked for by id in a group at most this big (a comparison, a lineage) get their originals in the
#: cache too: widgets showing them read the files. A page of History gets thumbnails only.
FEW = 8


class StoredFiles:
    def __init__(self, blobs: Blobs, data_dir: Path, cache_bytes: int | None = None) -> None:
        self.blobs = blobs
        self.data_dir = Path(data_dir)
        local = blobs.local_path("images")
        self.cache: BlobCache | None = None
        self._down_until = 0.0  # monotonic time until which thumbnail misses are not fetched (an outage)
        if local is None:
            # One folder per bucket and prefix: a cached copy never stands in for another bucket's object.
            namespace = blobs.locator("x").removeprefix("s3://").removesuffix("/x")
            self.cache = BlobCache(self.data_dir / CACHE_DIR / namespace, blobs, cache_bytes)
            self.root = self.cache.root
        else:
            self.root = local.parent
        #: Where the crash journal goes: the data directory always; the bucket too in object mode, so a
        #: process on another machine can adopt a dead process's paid image (``journal.py``).
        self.journals: list[Blobs] = [LocalBlobs(self.data_dir)]
        if self.cache is not None:
            self.journals.append(blobs)

    @classmethod
    def open(cls, storage_url: str | None, data_dir: Path, endpoint_url: str | None = None) -> StoredFiles:
        return cls(open_blobs(storage_url, data_dir, endpoint_url=endpoint_url), data_dir)

    @property
    def mode(self) -> str:
        return self.blobs.mode

    def put(self, key: str, data: bytes, *, replace: bool = False) -> bool:
        """Write through to the storage; in object mode a thumbnail or preview is also kept in the cache
        (``replace``: the caller knows the key is absent, so no existence check is sent first)."""
        wrote = self.blobs.put(key, data, replace=replace)
        if self.cache is not None and key.startswith(CACHED):
            self.cache.put(key, data)
        return wrote

    def remember(self, key: str, data: bytes) -> None:
        """Object mode: keep a copy of bytes just written in the cache (the page about to show them)."""
        if self.cache is not None:
            self.cache.put(key, data)

    def get(self, key: str) -> bytes:
        if self.cache is not None and key.startswith(CACHED):
            return self.cache.get(key)
        return self.blobs.get(key)

    def open_stream(self, key: str) -> BinaryIO:
        return self.blobs.open(key)

    def exists(self, key: str) -> bool:
        """Whether the storage itself holds ``key``. Never answered from this machine's cache: another
        process may have emptied the trash since, and a save that trusted the cache would commit a row naming
        a thumbnail the bucket no longer has."""
        return self.blobs.exists(key)

    def size(self, key: str) -> int | None:
        return self.blobs.size(key)

    def delete(self, key: str) -> None:
        self.blobs.delete(key)
        if self.cache is not None:
            self.cache.discard(key)

    def locator(self, key: str) -> str:
        return self.blobs.locator(key)

    def read_locator(self, locator: str) -> bytes:
        """The bytes a locator of this storage names (``s3://bucket/prefix/key`` or an absolute path)."""
        base = self.blobs.locator("x")[: -len("x")]
        if not locator.startswith(base):
            raise StoreError(f"{locator} is not in this studio's storage ({base}); add the image again.")
        return self.blobs.get(locator[len(base) :])

    def local(self, key: str) -> Path:
        """A local file with the bytes of ``key`` (object mode: fetched into the cache on a miss)."""
        if self.cache is None:
            path = self.blobs.local_path(key)
            assert path is not None
            return path
        return self.cache.path(key)

    def key_of(self, path: Path) -> str:
        return Path(path).relative_to(self.root).as_posix()

    def finish(self, records: R) -> R:
        """Object mode: give every image its ``s3://`` locator and have its thumbnail in the local cache."""
        if self.cache is None:
            return records
        thumbs = []
        for record in records:
            for image in (*record.images, *record.thought_images, *record.references):
                key = self.key_of(image.path)
                image.locator = self.blobs.locator(key)
                image.fetch = functools.partial(self._original, key)
                if image.thumb_path is not None:
                    thumbs.append(self.key_of(image.thumb_path))
        self._fetch(thumbs)
        return records

    def _fetch(self, keys: list[str]) -> None:
        """Have ``keys`` in the cache: hits are a touch, misses are fetched a few at a time (a cold page of
        48 thumbnails costs about the time of 6 requests, not 48). A key the bucket cannot give is left out:
        it shows as missing, and reading the original says why in a sentence."""
        assert self.cache is not None
        cache = self.cache
        missing = []
        for key in dict.fromkeys(keys):
            try:
                cache.path(key, fetch=False)
            except FileNotFoundError:
                missing.append(key)

        if time.monotonic() < self._down_until:
            return  # the bucket just failed: pages show what the cache has instead of waiting on each miss

        def one(key: str) -> None:
            if time.monotonic() < self._down_until:
                return
            try:
                cache.path(key)
            except BlobMissing:
                pass
            except StoreError:  # unreachable, denied, timed out: stop asking for a while
                self._down_until = time.monotonic() + OUTAGE_PAUSE_S

        if len(missing) <= 1:
            for key in missing:
                one(key)
            return
        with ThreadPoolExecutor(max_workers=min(8, len(missing)), thread_name_prefix="studio-cache") as pool:
            list(pool.map(one, missing))

    def _original(self, key: str) -> bytes:
        """An original's bytes, kept in the cache at the record's ``path`` (so widgets reading it find it)."""
        assert self.cache is not None
        return self.cache.path(key).read_bytes()

    def finish_few(self, records: R) -> R:
        return self.materialise(records) if len(records) <= FEW else self.finish(records)

    def materialise(self, records: R) -> R:
        """``finish`` plus each original fetched into the cache (one record's detail, not a whole page)."""
        self.finish(records)
        if self.cache is not None:
            self._fetch(
                [
                    self.key_of(image.path)
                    for record in records
                    for image in (*record.images, *record.thought_images, *record.references)
                ]
            )
        return records
