"""The adoption journal: what a generation's row will say, written after its files and before its commit.

``Store.save_success`` writes the files (fsynced), then ``journal/<gen_id>.json`` (atomically), then
commits the row, then removes the journal. A process killed between the journal and the commit leaves
a pending row whose journal names files that are all there: the next start (or ``studio doctor``)
*adopts* it, i.e. commits exactly what the dead process was about to commit. Without a journal, or
when any file is missing or has the wrong hash, the row becomes ``interrupted`` instead.

The journal is read back from disk, so it is treated as untrusted: only known columns with plain
values are taken, and file paths are rebuilt from the hashes, never read from the file.

Where: ``STUDIO_DATA_DIR/journal/`` always. In object-storage mode the journal is ALSO put in the bucket
(``journal/<gen_id>.json`` under the storage prefix), because the files it names are there and a process on
another machine must be able to adopt a dead process's paid image; the local copy is read first. Every
function takes a "place": the data directory (a folder) or the list of ``Blobs`` the store writes it to.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any

from studio.domain.errors import InputError
from studio.imaging import images
from studio.storage import files
from studio.storage.blobs import BlobMissing, Blobs, LocalBlobs

Place = Path | Sequence[Blobs]
Images = Path | Blobs

DIR = "journal"
VERSION = 1
_NAME = re.compile(r"([0-9]{1,12})\.json")
#: The generation columns a journal may set (the status and error columns are set by the adopter).
COLUMNS = frozenset(
    {
        "text",
        "thoughts_text",
        "finish_reason",
        "block_reason",
        "usage_json",
        "prompt_tokens",
        "output_tokens",
        "total_tokens",
        "grounding_json",
        "latency_ms",
        "cost_usd",
        "model_content_sha",
    }
)
_IMAGE_KEYS = ("sha256", "mime_type", "width", "height", "size", "name")


@dataclass(frozen=True)
class Entry:
    gen_id: int
    values: dict[str, Any]
    outputs: list[
        dict[str, Any]
    ]  # _Stored fields: sha256, mime_type, width, height, size, path, thumb_path, name
    thoughts: list[dict[str, Any]]


def path(data_dir: Path, gen_id: int) -> Path:
    return Path(data_dir) / DIR / f"{int(gen_id)}.json"


def key(gen_id: int) -> str:
    return f"{DIR}/{int(gen_id)}.json"


def _places(place: Place) -> list[Blobs]:
    return [LocalBlobs(place)] if isinstance(place, Path) else list(place)


def _images(images: Images) -> Blobs:
    return LocalBlobs(images) if isinstance(images, Path) else images


def _image(stored: Any) -> dict[str, Any]:
    d = asdict(stored) if is_dataclass(stored) and not isinstance(stored, type) else dict(stored)
    return {k: d.get(k) for k in _IMAGE_KEYS} | {"thumb": bool(d.get("thumb_path"))}


def write(
    place: Place, gen_id: int, values: dict[str, Any], outputs: Sequence[Any], thoughts: Sequence[Any]
) -> None:
    """Durably record what the row of ``gen_id`` is about to say (raises StoreError/DiskFull)."""
    doc = {
        "version": VERSION,
        "generation_id": int(gen_id),
        "values": {k: v for k, v in values.items() if k in COLUMNS},
        "outputs": [_image(s) for s in outputs],
        "thoughts": [_image(s) for s in thoughts],
    }
    data = json.dumps(doc, ensure_ascii=False).encode("utf-8")
    for blobs in _places(place):
        blobs.put(key(gen_id), data)


def remove(place: Place, gen_id: int) -> None:
    for blobs in _places(place):
        with contextlib.suppress(FileNotFoundError, BlobMissing):
            blobs.delete(key(gen_id))


def listing(place: Place) -> dict[int, str]:
    """Every journal by generation id, with the locator of its first copy (other names are ignored)."""
    out: dict[int, str] = {}
    for blobs in _places(place):
        for k in blobs.list(f"{DIR}/"):
            m = _NAME.fullmatch(k.removeprefix(f"{DIR}/"))
            if m:
                out.setdefault(int(m.group(1)), blobs.locator(k))
    return out


def _raw(place: Place, gen_id: int) -> bytes:
    for blobs in _places(place):
        try:
            return blobs.get(key(gen_id))
        except BlobMissing:
            continue
    raise OSError(f"no journal for {gen_id}")


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float)) and not isinstance(value, bool)


def _clean_image(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValueError("image entry is not an object")
    sha, mime = raw.get("sha256"), raw.get("mime_type")
    if not isinstance(sha, str) or not isinstance(mime, str):
        raise ValueError("image entry has no hash or type")
    rel = files.image_relpath(sha, mime)  # validates the hash and the type; raises InputError
    ints = [raw.get(k) for k in ("width", "height", "size")]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in ints):
        raise ValueError("image sizes are not whole numbers")
    name = raw.get("name") if isinstance(raw.get("name"), str) else ""
    thumb = files.thumb_relpath(sha) if raw.get("thumb") else None
    return {
        "sha256": sha,
        "mime_type": mime,
        "width": ints[0],
        "height": ints[1],
        "size": ints[2],
        "path": rel,
        "thumb_path": thumb,
        "name": name,
    }


def read(place: Place, gen_id: int) -> Entry | None:
    """The journal of ``gen_id``, or None when there is none or it cannot be trusted."""
    try:
        doc = json.loads(_raw(place, gen_id))
        if not isinstance(doc, dict) or doc.get("version") != VERSION or doc.get("generation_id") != gen_id:
            return None
        values = doc.get("values")
        if not isinstance(values, dict) or not all(k in COLUMNS and _plain(v) for k, v in values.items()):
            return None
        outputs = [_clean_image(x) for x in doc.get("outputs") or []]
        thoughts = [_clean_image(x) for x in doc.get("thoughts") or []]
        if values.get("model_content_sha") is not None:
            files.turn_relpath(values["model_content_sha"])  # a valid hash or InputError
    except (OSError, ValueError, TypeError, InputError):
        return None
    if not outputs:
        return None
    return Entry(gen_id, values, outputs, thoughts)


def _matches(blobs: Blobs, rel: str, sha256: str) -> bool:
    try:
        return images.sha256_hex(blobs.get(rel)) == sha256
    except (OSError, BlobMissing):
        return False


def missing(images_at: Images, entry: Entry) -> list[str]:
    """Files the entry names that are absent or whose content does not hash to their name."""
    rels: Iterable[tuple[str, str]] = [(i["path"], i["sha256"]) for i in entry.outputs + entry.thoughts]
    turn = entry.values.get("model_content_sha")
    if turn:
        rels = [*rels, (files.turn_relpath(turn), turn)]
    blobs = _images(images_at)
    return [rel for rel, sha in rels if not _matches(blobs, rel, sha)]


def adoptable(place: Place, gen_id: int, images_at: Images | None = None) -> Entry | None:
    """The journal of ``gen_id`` when every file it names is complete, else None (``images_at``: where the
    files are; by default the data directory the journal is in)."""
    entry = read(place, gen_id)
    if images_at is None:
        assert isinstance(place, Path), "a journal in Blobs names where its images are"
        images_at = place
    return entry if entry is not None and not missing(images_at, entry) else None
