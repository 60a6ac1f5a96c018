"""Uploads, pastes and sketches into the reference tray: sanitised and downscaled (Pillow, in imaging),
then judged by the tray's pure rules in ``studio.domain.composition``."""

from __future__ import annotations

from collections.abc import Sequence

from studio.domain.catalogue import ModelSpec
from studio.domain.composition import MAX_UPLOAD_BYTES, REFERENCE_MAX_SIDE, Tray, add
from studio.domain.errors import StudioError
from studio.domain.requests import Reference
from studio.imaging import images


def prepare(data: bytes, name: str, role: str = "object") -> Reference:
    """Sanitise an upload, paste or sketch and downscale it (keeping aspect) to what is worth sending."""
    ref = images.sanitize_upload(data, name, max_bytes=MAX_UPLOAD_BYTES, role=role)
    return images.downscale_reference(ref, REFERENCE_MAX_SIDE)


def add_files(
    tray: Sequence[Reference], files: Sequence[tuple[str, bytes]], spec: ModelSpec
) -> tuple[Tray, list[str]]:
    """Judge each dropped/pasted file on its own: the good ones join the tray in order, each refused
    one (not an image, too large, over the limit) gets its reason and changes nothing."""
    out, reasons = tuple(tray), []
    for name, data in files:
        try:
            out = add(out, [prepare(data, name)], spec)
        except StudioError as exc:
            reasons.append(exc.message)
    return out, reasons
