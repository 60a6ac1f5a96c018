"""Export a selection of the history as a ZIP, and import such a ZIP into another studio.

The ZIP holds ``manifest.json`` and the original files under ``images/<sha256>.<ext>`` (stored, not
recompressed). Import treats the ZIP as hostile: every member name, type and size, the manifest and
every image are checked *before* anything is written, so a refused ZIP changes nothing. Images are
deduplicated by hash; generations by a content key (creation time, model, prompt, output hashes), so
importing the same ZIP twice, or a ZIP exported from a studio that imported ours, adds nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from studio.domain.errors import ImageRejected, InputError, StoreError
from studio.domain.mime import EXTENSIONS
from studio.domain.requests import ACTIVE_STATUSES, FINAL_STATUSES, INTERRUPTED
from studio.imaging import images
from studio.storage import GalleryFilter, GenerationRecord, Store, Visibility, files
from studio.storage.blob_files import StoredFiles
from studio.storage.blobs import CHUNK
from studio.storage.exchange_repo import IMPORTED_OWNER, ImportedGeneration, ImportedImage
from studio.storage.filter_sql import TAG_MAX, clean_name

FORMAT, VERSION = "studio-export", 1
MANIFEST = "manifest.json"
_IMAGE_MEMBER = re.compile(r"images/([0-9a-f]{64})\.(png|jpg|webp|gif)")
_SHA = re.compile(r"[0-9a-f]{64}")
_EXT_MIME = {ext: mime for mime, ext in EXTENSIONS.items()}
_ROLES = {"images": "output", "thought_images": "thought", "references": "reference"}
_STATUSES = set(ACTIVE_STATUSES) | set(FINAL_STATUSES)
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    NotImplementedError,
    RuntimeError,
    ValueError,
)


@dataclass(frozen=True)
class Limits:
    """What an import accepts; anything beyond is refused before a byte is written."""

    max_zip_bytes: int = 4 * 2**30
    max_members: int = 20_000
    max_member_bytes: int = 64 * 2**20
    max_total_bytes: int = 4 * 2**30
    max_manifest_bytes: int = 64 * 2**20
    max_ratio: int = 100  # uncompressed / compressed, for members over 1 MiB
    max_pixels: int = 64_000_000
    max_generations: int = 100_000


@dataclass(frozen=True)
class ExportReport:
    path: Path | None
    generations: int
    images: int
    bytes: int


@dataclass(frozen=True)
class ImportReport:
    generations_added: int
    generations_skipped: int  # already in this studio (imported before, or the original)
    images_added: int
    images_present: int  # same bytes already stored here
    ids: dict[int, int] = field(default_factory=dict)  # manifest id -> id in this studio


# -- shared ---------------------------------------------------------------------------------


def _utc_text(value: datetime | str) -> str:
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.isoformat(timespec="microseconds")


def content_key(created_at: datetime | str, model: str, prompt: str, output_shas: Sequence[str]) -> str:
    """Identity of a generation across studios (its row id is local, its content is not)."""
    blob = json.dumps([_utc_text(created_at), model, prompt, list(output_shas)], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _member(sha: str, mime: str) -> str:
    return f"images/{sha}.{EXTENSIONS[mime]}"


# -- export ---------------------------------------------------------------------------------


def _chosen(
    store: Store,
    ids: Iterable[int] | None,
    filter: GalleryFilter | None,
    visibility: Visibility | None = None,
) -> list[GenerationRecord]:
    """The records to export: ``ids`` (else every one ``filter`` matches) that ``visibility`` lets the
    caller see."""
    if ids:
        records = store.gallery.records(ids, visibility)
    else:
        records, before = [], None
        f = replace(filter or GalleryFilter(), visibility=visibility) if visibility else filter
        while page := store.gallery.page(f or GalleryFilter(), limit=500, before_id=before):
            records += page
            before = page[-1].id
    return sorted(records, key=lambda r: r.id)  # oldest first: parents before children


def _image_entry(image: Any, with_name: bool) -> dict[str, Any]:
    entry = {
        "sha256": image.sha256,
        "mime_type": image.mime_type,
        "path": _member(image.sha256, image.mime_type),
        "width": image.width,
        "height": image.height,
    }
    if with_name:
        entry["name"] = image.name
    return entry


def _entry(record: GenerationRecord, local: dict[int, int]) -> dict[str, Any]:
    return {
        "id": local[record.id],
        "key": content_key(record.created_at, record.model, record.prompt, [i.sha256 for i in record.images]),
        "prompt": record.prompt,
        "model": record.model,
        "settings": record.settings,
        "composition": record.composition,
        "status": record.status,
        "text": record.text,
        "thoughts_text": record.thoughts_text,
        "finish_reason": record.finish_reason,
        "block_reason": record.block_reason,
        "error_kind": record.error_kind,
        "error_message": record.error_message,
        "usage": record.usage,
        "cost_usd": record.cost_usd,
        "latency_ms": record.latency_ms,
        "created_at": _utc_text(record.created_at),
        "tags": record.tags,
        "favourite": record.favourite,
        "private": record.private,  # seen only by its author and admins (team accounts)
        "rating": record.rating,
        "parent": local.get(record.parent_id) if record.parent_id else None,
        "images": [_image_entry(i, False) for i in record.images],
        "thought_images": [_image_entry(i, False) for i in record.thought_images],
        "references": [_image_entry(i, True) for i in record.references],
    }


def _write_zip(fh: IO[bytes], records: list[GenerationRecord], stored: StoredFiles) -> tuple[int, int]:
    local = {r.id: n for n, r in enumerate(records, start=1)}
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": _utc_text(datetime.now(UTC)),
        "generations": [_entry(r, local) for r in records],
    }
    written: set[str] = set()
    with zipfile.ZipFile(fh, "w") as zf:
        zf.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1), zipfile.ZIP_DEFLATED)
        for record in records:
            for image in (*record.images, *record.thought_images, *record.references):
                name = _member(image.sha256, image.mime_type)
                if name in written:
                    continue
                key = stored.key_of(image.path)
                try:  # streamed through Blobs in chunks: an export never holds its originals in memory
                    with stored.open_stream(key) as src, zf.open(name, "w") as dst:
                        while chunk := src.read(CHUNK):
                            dst.write(chunk)
                except (OSError, StoreError) as exc:
                    raise StoreError(
                        f"The image file {stored.locator(key)} of generation {record.id} could not be "
                        f"read ({getattr(exc, 'strerror', None) or exc}); nothing was exported."
                    ) from exc
                written.add(name)
    return len(records), len(written)


def export_bytes(
    store: Store,
    ids: Iterable[int] | None = None,
    filter: GalleryFilter | None = None,
    visibility: Visibility | None = None,
) -> tuple[bytes, ExportReport]:
    """The ZIP in memory (for a browser download)."""
    buf = io.BytesIO()
    generations, n_images = _write_zip(buf, _chosen(store, ids, filter, visibility), store.files)
    data = buf.getvalue()
    return data, ExportReport(None, generations, n_images, len(data))


def export_zip(
    store: Store,
    out_path: Path | str,
    ids: Iterable[int] | None = None,
    filter: GalleryFilter | None = None,
    visibility: Visibility | None = None,
) -> ExportReport:
    """Write the ZIP to a temp file next to ``out_path``, then rename it into place."""
    out = Path(out_path).expanduser().absolute()
    records = _chosen(store, ids, filter, visibility)
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
        with os.fdopen(fd, "w+b") as fh:
            generations, n_images = _write_zip(fh, records, store.files)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
        tmp = None
    except OSError as exc:
        raise StoreError(f"The export could not be written to {out} ({exc.strerror or exc}).") from exc
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
    return ExportReport(out, generations, n_images, out.stat().st_size)


# -- import: validation (reads only) ------------------------------------------------------------


def _refuse(reason: str) -> InputError:
    return InputError(f"The ZIP was refused and nothing was imported: {reason}")


def _show(name: str) -> str:
    return repr("".join(ch if ch.isprintable() else "?" for ch in name)[:80])


def _check_name(name: str) -> None:
    parts = name.split("/")
    if (
        "\x00" in name
        or "\\" in name
        or name.startswith("/")
        or re.match(r"[A-Za-z]:", name)
        or ".." in parts
        or "" in parts[:-1]
    ):
        raise _refuse(f"the member name {_show(name)} points outside the archive.")
    if name not in (MANIFEST, "images/") and not _IMAGE_MEMBER.fullmatch(name):
        raise _refuse(
            f"the member {_show(name)} is not part of a studio export "
            "(only manifest.json and images/<sha256>.<ext> are allowed)."
        )


def _check_members(zf: zipfile.ZipFile, limits: Limits) -> dict[str, zipfile.ZipInfo]:
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise _refuse(f"it has {len(infos)} members; the limit is {limits.max_members}.")
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        name = info.filename
        _check_name(name)
        if name in members:
            raise _refuse(f"the member {_show(name)} appears twice.")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise _refuse(f"the member {_show(name)} is a symbolic link.")
        if info.flag_bits & 0x1:
            raise _refuse(f"the member {_show(name)} is encrypted.")
        cap = limits.max_manifest_bytes if name == MANIFEST else limits.max_member_bytes
        if info.file_size > cap:
            raise _refuse(
                f"the member {_show(name)} is {info.file_size / 2**20:.1f} MB; the limit is "
                f"{cap / 2**20:g} MB."
            )
        if info.file_size > 2**20 and info.file_size > limits.max_ratio * max(1, info.compress_size):
            raise _refuse(
                f"the member {_show(name)} expands {info.file_size // max(1, info.compress_size)}-fold "
                "(a ZIP bomb)."
            )
        total += info.file_size
        if total > limits.max_total_bytes:
            raise _refuse(f"it would expand to more than {limits.max_total_bytes / 2**30:g} GB.")
        members[name] = info
    if MANIFEST not in members:
        raise _refuse("it has no manifest.json, so it is not a studio export.")
    return members


def _read(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """A member's bytes, never more than ``limit`` whatever its header claims."""
    try:
        with zf.open(info) as fh:
            data = fh.read(limit + 1)
    except _ZIP_ERRORS as exc:
        raise _refuse(f"the member {_show(info.filename)} is damaged ({type(exc).__name__}).") from None
    if len(data) > limit:
        raise _refuse(f"the member {_show(info.filename)} is larger than its header says.")
    return data


def _want(
    obj: dict[str, Any], key: str, types: type | tuple[type, ...], where: str, *, optional: bool = False
) -> Any:
    value = obj.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        value = object()  # True is an int in Python; not in a manifest
    if not isinstance(value, types):
        raise _refuse(f"manifest.json: {where} has a missing or malformed {key!r}.")
    return value


@dataclass
class _Image:
    sha256: str
    mime_type: str
    role: str
    position: int
    name: str = ""


@dataclass
class _Gen:
    local_id: int
    fields: dict[str, Any]
    tags: list[str]
    parent: int | None
    images: list[_Image]

    @property
    def key(self) -> str:
        outputs = [i.sha256 for i in self.images if i.role == "output"]
        return content_key(self.fields["created_at"], self.fields["model"], self.fields["prompt"], outputs)


def _check_images(entry: dict[str, Any], where: str) -> list[_Image]:
    out: list[_Image] = []
    for key, role in _ROLES.items():
        items = entry.get(key) or []
        if not isinstance(items, list) or len(items) > 64:
            raise _refuse(f"manifest.json: {where} has a malformed {key!r} list.")
        for position, item in enumerate(items):
            if not isinstance(item, dict):
                raise _refuse(f"manifest.json: {where} has a malformed image entry.")
            sha, mime = item.get("sha256"), item.get("mime_type")
            if not isinstance(sha, str) or not _SHA.fullmatch(sha) or mime not in EXTENSIONS:
                raise _refuse(f"manifest.json: {where} names an image without a valid sha256 and type.")
            if item.get("path") != _member(sha, mime):
                raise _refuse(
                    f"manifest.json: {where} gives an image path {_show(str(item.get('path')))} that "
                    "does not match its hash."
                )
            name = item.get("name") or ""
            if not isinstance(name, str):
                raise _refuse(f"manifest.json: {where} has a malformed reference name.")
            out.append(_Image(sha, mime, role, position, name[:200]))
    return out


def _cost(entry: dict[str, Any], where: str) -> float | None:
    """The entry's list-price cost: absent, or a finite amount of 0 or more (a negative or NaN cost would
    lower the importer's month, or poison History's totals)."""
    cost = _want(entry, "cost_usd", (int, float), where, optional=True)
    if cost is not None and not (math.isfinite(cost) and cost >= 0):
        raise _refuse(f"manifest.json: {where} has a cost_usd that is not an amount of 0 dollars or more.")
    return None if cost is None else float(cost)


def _check_generation(entry: Any, n: int) -> _Gen:
    where = f"generation #{n + 1}"
    if not isinstance(entry, dict):
        raise _refuse(f"manifest.json: {where} is not an object.")
    local_id = _want(entry, "id", int, where)
    status = _want(entry, "status", str, where)
    if status not in _STATUSES:
        raise _refuse(f"manifest.json: {where} has an unknown status {_show(status)}.")
    model = _want(entry, "model", str, where)
    if not model or len(model) > 200:
        raise _refuse(f"manifest.json: {where} has a malformed model name.")
    try:
        created_at = _utc_text(_want(entry, "created_at", str, where))
    except ValueError:
        raise _refuse(f"manifest.json: {where} has a malformed created_at.") from None
    rating = _want(entry, "rating", int, where, optional=True)
    if rating is not None and not 1 <= rating <= 5:
        raise _refuse(f"manifest.json: {where} has a rating outside 1-5.")
    tags = _want(entry, "tags", list, where, optional=True) or []
    try:
        tags = list(dict.fromkeys(clean_name(t, TAG_MAX, "tag") for t in tags if isinstance(t, str)))
    except InputError as exc:
        raise _refuse(f"manifest.json: {where} has a bad tag ({exc.message})") from None
    active = status in ACTIVE_STATUSES  # nothing is running it here
    fields_ = {
        "prompt": _want(entry, "prompt", str, where),
        "model": model,
        "created_at": created_at,
        "settings": _want(entry, "settings", dict, where),
        "composition": _want(entry, "composition", dict, where, optional=True),
        "status": INTERRUPTED if active else status,
        "text": _want(entry, "text", str, where, optional=True) or "",
        "thoughts_text": _want(entry, "thoughts_text", str, where, optional=True) or "",
        "finish_reason": _want(entry, "finish_reason", str, where, optional=True),
        "block_reason": _want(entry, "block_reason", str, where, optional=True),
        "error_kind": "interrupted" if active else _want(entry, "error_kind", str, where, optional=True),
        "error_message": (
            "It was still generating when it was exported."
            if active
            else _want(entry, "error_message", str, where, optional=True)
        ),
        "usage": _want(entry, "usage", dict, where, optional=True) or {},
        "cost_usd": _cost(entry, where),
        "latency_ms": _want(entry, "latency_ms", int, where, optional=True),
        "favourite": bool(_want(entry, "favourite", bool, where, optional=True)),
        "private": bool(_want(entry, "private", bool, where, optional=True)),
        "rating": rating,
    }
    if len(fields_["prompt"]) > 200_000:
        raise _refuse(f"manifest.json: {where} has a prompt longer than 200,000 characters.")
    parent = _want(entry, "parent", int, where, optional=True)
    return _Gen(local_id, fields_, tags, parent, _check_images(entry, where))


def _check_manifest(data: bytes, limits: Limits) -> list[_Gen]:
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _refuse("manifest.json is not valid JSON.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _refuse("manifest.json is not a studio export manifest.")
    version = manifest.get("version")
    if version != VERSION or isinstance(version, bool):
        raise _refuse(
            f"manifest.json has version {_show(str(version))}; this studio reads version {VERSION}. "
            "Update the studio that imports it."
        )
    entries = manifest.get("generations")
    if not isinstance(entries, list) or len(entries) > limits.max_generations:
        raise _refuse("manifest.json has no list of generations (or far too many).")
    gens = [_check_generation(e, n) for n, e in enumerate(entries)]
    ids = [g.local_id for g in gens]
    if len(set(ids)) != len(ids):
        raise _refuse("manifest.json uses the same generation id twice.")
    for g in gens:
        if g.parent is not None and (g.parent not in set(ids) or g.parent == g.local_id):
            raise _refuse(f"manifest.json: generation {g.local_id} names a parent that is not in the export.")
    return gens


def _check_image(
    zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], image: _Image, limits: Limits
) -> tuple[int, int, int]:
    """Read, hash, sniff and probe one image member; returns (width, height, bytes)."""
    name = _member(image.sha256, image.mime_type)
    info = members.get(name)
    if info is None:
        raise _refuse(f"the image {_show(name)} named in manifest.json is missing.")
    data = _read(zf, info, limits.max_member_bytes)
    if hashlib.sha256(data).hexdigest() != image.sha256:
        raise _refuse(f"the image {_show(name)} does not match its sha256 (damaged or altered).")
    if images.sniff(data) != image.mime_type:
        raise _refuse(f"the member {_show(name)} is not a {image.mime_type} image.")
    try:
        mime, width, height = images.probe(data)
    except ImageRejected:
        raise _refuse(f"the member {_show(name)} could not be read as an image.") from None
    if mime != image.mime_type or width * height > limits.max_pixels:
        raise _refuse(
            f"the image {_show(name)} is {width}×{height} pixels; the limit is "
            f"{limits.max_pixels / 1e6:g} megapixels."
        )
    return width, height, len(data)


@dataclass
class _Plan:
    gens: list[_Gen]
    sizes: dict[str, tuple[int, int, int]]
    members: dict[str, zipfile.ZipInfo]


def _validate(zf: zipfile.ZipFile, limits: Limits) -> _Plan:
    members = _check_members(zf, limits)
    gens = _check_manifest(_read(zf, members[MANIFEST], limits.max_manifest_bytes), limits)
    sizes: dict[str, tuple[int, int, int]] = {}
    for gen in gens:
        for image in gen.images:
            if image.sha256 not in sizes:
                sizes[image.sha256] = _check_image(zf, members, image, limits)
    return _Plan(gens, sizes, members)


# -- import: writing ----------------------------------------------------------------------------


def _existing_keys(store: Store, gens: Sequence[_Gen]) -> dict[str, int]:
    """Content key -> id of generations already here, looked up by creation time (indexed)."""
    return store.exchange.existing_keys((g.fields["created_at"] for g in gens), content_key)


def _store_images(
    store: Store, zf: zipfile.ZipFile, plan: _Plan, shas: set[str], limits: Limits
) -> tuple[dict[str, dict[str, Any]], int, int]:
    """Write the originals (and thumbnails) that are not here yet; returns asset values per sha."""
    assets: dict[str, dict[str, Any]] = {}
    added = present = 0
    mimes = {i.sha256: i.mime_type for g in plan.gens for i in g.images}
    for sha in sorted(shas):
        mime = mimes[sha]
        rel, thumb_rel = files.image_relpath(sha, mime), files.thumb_relpath(sha)
        thumb_path: str | None = thumb_rel
        data: bytes | None = None
        if store.files.exists(rel):  # through Blobs: the folder or the bucket
            present += 1
        else:
            data = _read(zf, plan.members[_member(sha, mime)], limits.max_member_bytes)
            if hashlib.sha256(data).hexdigest() != sha:  # the file changed since it was checked
                raise _refuse(f"the image {_show(_member(sha, mime))} changed while it was being imported.")
            store.files.put(rel, data)
            added += 1
        if not store.files.exists(thumb_rel):
            try:
                original = data if data is not None else store.files.get(rel)
                store.files.put(thumb_rel, images.make_thumbnail(original))
            except ImageRejected:
                thumb_path = None
        width, height, size = plan.sizes[sha]
        assets[sha] = {
            "sha256": sha,
            "mime_type": mime,
            "width": width,
            "height": height,
            "bytes": size,
            "path": rel,
            "thumb_path": thumb_path,
        }
    return assets, added, present


def _row(gen: _Gen) -> ImportedGeneration:
    """The ``generation`` columns of a manifest entry (its files are written by then)."""
    f = gen.fields

    def dumps(v: Any) -> str:
        return json.dumps(v, ensure_ascii=False)

    usage = f["usage"]
    values = dict(
        created_at=f["created_at"],
        updated_at=_utc_text(datetime.now(UTC)),
        status=f["status"],
        prompt=f["prompt"],
        model=f["model"],
        settings_json=dumps(f["settings"]),
        composition_json=dumps(f["composition"]) if f["composition"] is not None else None,
        text=f["text"],
        thoughts_text=f["thoughts_text"],
        finish_reason=f["finish_reason"],
        block_reason=f["block_reason"],
        error_kind=f["error_kind"],
        error_message=f["error_message"],
        usage_json=dumps(usage),
        prompt_tokens=_int(usage.get("promptTokenCount")),
        output_tokens=_int(usage.get("candidatesTokenCount")),
        total_tokens=_int(usage.get("totalTokenCount")),
        cost_usd=f["cost_usd"],
        latency_ms=f["latency_ms"],
        owner=IMPORTED_OWNER,  # what another studio spent counts against no budget here (spend_repo)
        favourite=f["favourite"],
        private=f["private"],  # a private generation stays private in the studio it moves to
        rating=f["rating"],
    )
    images = [ImportedImage(i.sha256, i.role, i.position, i.name) for i in gen.images]
    return ImportedGeneration(gen.local_id, values, images, list(gen.tags), gen.parent)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def import_zip(
    store: Store, zip_path: Path | str, *, limits: Limits = Limits(), author: str | None = None
) -> ImportReport:
    """Bring an export into this studio. A hostile or damaged ZIP raises InputError and changes nothing.
    ``author``: who imported it, recorded as the author of each generation it adds."""
    store.db.check_writable()
    path = Path(zip_path)
    try:
        if path.stat().st_size > limits.max_zip_bytes:
            raise _refuse(f"the file is larger than {limits.max_zip_bytes / 2**30:g} GB.")
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise InputError(f"There is no file {path}.") from None
    except _ZIP_ERRORS:
        raise _refuse(f"{path.name} is not a readable ZIP file.") from None
    with zf:
        plan = _validate(zf, limits)
        existing = _existing_keys(store, plan.gens)
        ids: dict[int, int] = {}
        first: dict[str, _Gen] = {}  # a duplicate inside the same manifest maps to its first copy
        for gen in plan.gens:
            if gen.key in existing:
                ids[gen.local_id] = existing[gen.key]
            else:
                first.setdefault(gen.key, gen)
        new = list(first.values())
        shas = {i.sha256 for g in new for i in g.images}
        assets, images_added, images_present = _store_images(store, zf, plan, shas, limits)
    copies = {
        g.local_id: first[g.key].local_id
        for g in plan.gens
        if g.local_id not in ids and g is not first[g.key]
    }
    ids = store.exchange.insert_imported([_row(g) for g in new], assets, ids, copies)
    if author is not None and new:
        store.organise.set_author([ids[g.local_id] for g in new if g.local_id in ids], author)
    return ImportReport(len(new), len(plan.gens) - len(new), images_added, images_present, ids)


# -- `studio export` as a whole ---------------------------------------------------------------


def _missing(store: Store, ids: Sequence[int], visibility: Visibility | None = None) -> list[int]:
    found = {record.id for record in store.gallery.records(ids, visibility)}
    return list(dict.fromkeys(i for i in ids if i not in found))


def export_selection(
    store: Store,
    out_path: Path | str,
    *,
    ids: Sequence[int] = (),
    search: str | None = None,
    visibility: Visibility | None = None,
    collection_id: int | None = None,
) -> ExportReport:
    """The given ids (default: every generation History shows, or those matching ``search``; with
    ``collection_id`` only that collection's), of those ``visibility`` lets the caller see.

    Raises InputError (bad usage), writing nothing, when an id is not in the history."""
    missing = _missing(store, ids, visibility)
    if missing:
        names = ", ".join(map(str, missing))
        raise InputError(
            f"Generation {names} is not in the history; nothing was exported."
            if len(missing) == 1
            else f"Generations {names} are not in the history; nothing was exported."
        )
    return export_zip(
        store,
        out_path,
        ids=ids or None,
        filter=GalleryFilter(search=search, collection_id=collection_id),
        visibility=visibility,
    )
