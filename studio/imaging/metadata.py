"""Downloads that carry their own recipe: the prompt and settings embedded in the image file.

PNG gets iTXt chunks (``prompt``, ``parameters`` JSON, ``studio:generation_id``) inserted before IEND;
JPEG gets an XMP APP1 segment (``dc:description`` = prompt, ``studio:settings`` JSON) after SOI/APP0.
Neither touches the pixel data (IDAT / entropy-coded scans are copied byte for byte). Only ``settings``
(which never holds the API key; secret-looking keys are dropped anyway) and the prompt are embedded.
The download's name comes from the id and hash, never from user text.
"""

from __future__ import annotations

import io
import json
import re
import struct
import zlib
from typing import Any

from studio.domain.errors import ImageRejected, StoreError
from studio.domain.mime import EXTENSIONS, sniff
from studio.domain.records import GenerationRecord, ImageRecord

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
STUDIO_NS = "urn:studio:ns:1.0"
_SECRET_KEY = re.compile(r"(api[_-]?key|secret|token$|password|authorization|^key$)", re.IGNORECASE)
_XML_BAD = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_APP1_MAX = 65533  # segment length field (2 bytes) counts itself


def public_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings safe to hand out: anything that looks like a credential is left out."""
    return {k: v for k, v in settings.items() if not _SECRET_KEY.search(str(k))}


def parameters(record: GenerationRecord) -> dict[str, Any]:
    return {
        "model": record.model,
        "settings": public_settings(record.settings),
        "generation_id": record.id,
        "created_at": record.created_at.isoformat(),
    }


def download_name(record: GenerationRecord, image: ImageRecord, mime: str) -> str:
    return f"studio-{int(record.id)}-{image.sha256[:12]}.{EXTENSIONS.get(mime, 'bin')}"


def embed(record: GenerationRecord, image: ImageRecord) -> tuple[bytes, str, str]:
    """(bytes with the prompt and settings embedded, download file name, mime type)."""
    try:
        data = image.path.read_bytes()
    except OSError as exc:
        raise StoreError(f"The image file {image.path} could not be read ({exc.strerror}).") from exc
    mime = sniff(data) or image.mime_type
    params = json.dumps(parameters(record), ensure_ascii=False, default=str)
    if mime == "image/png":
        out = png_with_text(
            data, {"prompt": record.prompt, "parameters": params, "studio:generation_id": str(record.id)}
        )
    elif mime == "image/jpeg":
        out = jpeg_with_xmp(data, xmp_packet(record.prompt, params, record.id))
    else:  # WebP/GIF: handed out as stored
        out = data
    return out, download_name(record, image, mime), mime


# -- PNG ---------------------------------------------------------------------------------------


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """[(type, data)] of a PNG; ValueError if the chunk structure is broken."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG")
    chunks, pos = [], len(PNG_SIGNATURE)
    while pos < len(data):
        if pos + 12 > len(data):
            raise ValueError("truncated chunk")
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if len(body) != length or pos + 12 + length > len(data):
            raise ValueError("truncated chunk")
        chunks.append((kind, body))
        pos += 12 + length
        if kind == b"IEND":
            break
    if not chunks or chunks[-1][0] != b"IEND":
        raise ValueError("no IEND")
    return chunks


def _chunk(kind: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    )


def itxt(keyword: str, value: str) -> bytes:
    """An uncompressed iTXt chunk (UTF-8 text, no language tag)."""
    return _chunk(b"iTXt", keyword.encode("latin-1") + b"\x00\x00\x00" + b"\x00\x00" + value.encode("utf-8"))


def _text_keyword(kind: bytes, body: bytes) -> str | None:
    if kind not in (b"tEXt", b"iTXt", b"zTXt"):
        return None
    return body.split(b"\x00", 1)[0].decode("latin-1")


def png_with_text(data: bytes, entries: dict[str, str]) -> bytes:
    """The PNG with ``entries`` as iTXt chunks before IEND (older chunks of the same keywords dropped)."""
    try:
        chunks = png_chunks(data)
    except ValueError:
        return _png_resave(data, entries)
    out = [PNG_SIGNATURE]
    for kind, body in chunks:
        if kind == b"IEND":
            out += [itxt(k, v) for k, v in entries.items()]
        if _text_keyword(kind, body) not in entries:
            out.append(_chunk(kind, body))
    return b"".join(out)


def _png_resave(data: bytes, entries: dict[str, str]) -> bytes:
    """Fallback for a PNG whose chunks we cannot walk: a lossless re-save through Pillow."""
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for key, value in entries.items():
        info.add_itxt(key, value)
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as im:
            buf = io.BytesIO()
            im.save(buf, format="PNG", pnginfo=info)
    except Exception as exc:
        raise ImageRejected("The stored PNG could not be read to add its settings.") from exc
    return buf.getvalue()


# -- JPEG --------------------------------------------------------------------------------------


def _xml(value: str) -> str:
    clean = _XML_BAD.sub("", value)
    return clean.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def xmp_packet(prompt: str, params_json: str, gen_id: int) -> bytes:
    """An XMP packet that fits one APP1 segment (the prompt and settings are cut if they are huge)."""

    def build(p: str, s: str) -> bytes:
        xml = (
            '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
            '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            f'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:studio="{STUDIO_NS}">'
            f'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{_xml(p)}</rdf:li></rdf:Alt></dc:description>'
            f"<studio:generation_id>{int(gen_id)}</studio:generation_id>"
            f"<studio:settings>{_xml(s)}</studio:settings>"
            "</rdf:Description></rdf:RDF></x:xmpmeta>"
            '<?xpacket end="w"?>'
        )
        return xml.encode("utf-8")

    packet = build(prompt, params_json)
    if len(XMP_HEADER) + len(packet) <= _APP1_MAX:
        return packet
    small = json.dumps({"truncated": True, "generation_id": gen_id})
    room = _APP1_MAX - len(XMP_HEADER) - len(build("", small)) - 16
    cut = prompt
    while len(_xml(cut).encode("utf-8")) > room:  # entities and UTF-8 grow the text: shrink until it fits
        cut = cut[: len(cut) * 9 // 10]
    return build(cut + "…", small)


def _jpeg_segments(data: bytes) -> tuple[list[bytes], int]:
    """Header segments between SOI and SOS, and the offset where SOS starts."""
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG")
    segments: list[bytes] = []
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ValueError("bad marker")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA:
            return segments, pos
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if length < 2 or pos + 2 + length > len(data):
            raise ValueError("truncated segment")
        segments.append(data[pos : pos + 2 + length])
        pos += 2 + length
    raise ValueError("no scan")


def jpeg_with_xmp(data: bytes, packet: bytes) -> bytes:
    """The JPEG with one XMP APP1 segment after SOI (and JFIF APP0); scan data copied unchanged."""
    app1 = b"\xff\xe1" + struct.pack(">H", 2 + len(XMP_HEADER) + len(packet)) + XMP_HEADER + packet
    try:
        segments, sos = _jpeg_segments(data)
    except ValueError:
        if not data.startswith(b"\xff\xd8"):
            raise ImageRejected("The stored JPEG could not be read to add its settings.") from None
        return data[:2] + app1 + data[2:]
    kept = [s for s in segments if not (s[1] == 0xE1 and s[4 : 4 + len(XMP_HEADER)] == XMP_HEADER)]
    lead = kept[:1] if kept and kept[0][1] == 0xE0 else []  # JFIF APP0 must stay first
    rest = kept[len(lead) :]
    return b"".join([data[:2], *lead, app1, *rest, data[sos:]])
