"""Downloads that carry their own recipe: the prompt and settings embedded in the image file.

PNG gets iTXt chunks (``prompt``, ``parameters`` JSON, ``studio:generation_id``) inserted before IEND;
JPEG gets an XMP APP1 segment (``dc:description`` = prompt, ``studio:settings`` JSON) after SOI/APP0.
Neither touches the pixel data (IDAT / entropy-coded scans are copied byte for byte). Only ``settings``
(which never holds the API key; secret-looking keys are dropped anyway) and the prompt are embedded.
The download's name comes from the id and hash, never from user text.
"""

from __future__ import annotations

import html
import io
import json
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
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
        data = image.fetch() if image.fetch is not None else image.path.read_bytes()  # object storage
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


# -- reading it back (a dropped or uploaded file) ------------------------------------------------

#: Bounds for reading a file the designer drops: whatever it holds, the parse looks at no more than this.
READ_MAX_CHUNKS = 4096  # PNG chunks other than IDAT / JPEG segments and fill bytes walked
READ_MAX_IDAT = 100_000  # IDAT chunks stepped over (not read) on the way to the text chunks after them
READ_MAX_TEXT = 256 * 1024  # one text chunk / one XMP packet, after decompression
_KEYWORDS = {"prompt", "parameters", "studio:generation_id"}
_TEXT_KINDS = (b"tEXt", b"iTXt", b"zTXt")


@dataclass
class ReadStats:
    """What one ``read_embedded`` looked at (the bounds above, made visible to tests)."""

    steps: int = 0  # PNG chunks (IDAT aside) or JPEG segments and fill bytes walked
    skipped: int = 0  # IDAT chunks stepped over without reading them
    inflated: int = 0  # bytes decompressed
    examined: int = 0  # characters of XMP searched


def _png_text(data: bytes, stats: ReadStats) -> dict[str, str]:
    """The studio's text chunks of a PNG; chunks that are too long, compressed too far or broken are skipped.
    Pixel data (IDAT) is stepped over without being read or counted toward the chunk cap."""
    found: dict[str, str] = {}
    pos = len(PNG_SIGNATURE)
    while pos + 12 <= len(data) and len(found) < len(_KEYWORDS):
        (length,) = struct.unpack_from(">I", data, pos)
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data) or kind == b"IEND":
            break
        if kind == b"IDAT":
            stats.skipped += 1
            if stats.skipped > READ_MAX_IDAT:
                break
            pos = end
            continue
        stats.steps += 1
        if stats.steps > READ_MAX_CHUNKS:
            stats.steps = READ_MAX_CHUNKS
            break
        if kind in _TEXT_KINDS and length <= READ_MAX_TEXT * 2:
            keyword = data[pos + 8 : pos + 8 + min(length, 80)].partition(b"\x00")[0]
            if keyword.decode("latin-1") in _KEYWORDS.difference(found):
                text = _png_text_chunk(kind, data[pos + 8 : pos + 8 + length], stats)
                if text is not None:
                    found[text[0]] = text[1]
        pos = end
    return found


def _inflate(body: bytes, stats: ReadStats) -> str | None:
    out = zlib.decompressobj()
    text = out.decompress(body, READ_MAX_TEXT + 1)
    stats.inflated += len(text)
    return None if len(text) > READ_MAX_TEXT else text.decode("utf-8", "replace")


def _png_text_chunk(kind: bytes, body: bytes, stats: ReadStats) -> tuple[str, str] | None:
    keyword, sep, rest = body.partition(b"\x00")
    if not sep or len(keyword) > 79:
        return None
    name = keyword.decode("latin-1")
    if name not in _KEYWORDS:
        return None
    if kind == b"tEXt":
        return (name, rest.decode("latin-1")) if len(rest) <= READ_MAX_TEXT else None
    if kind == b"zTXt":
        return (
            (name, text) if rest[:1] == b"\x00" and (text := _inflate(rest[1:], stats)) is not None else None
        )
    if len(rest) < 2:  # iTXt: compression flag, method, language\0, translated keyword\0, text
        return None
    flag, tail = rest[0], rest[2:]
    parts = tail.split(b"\x00", 2)
    if len(parts) != 3:
        return None
    if flag:
        text = _inflate(parts[2], stats)
        return (name, text) if text is not None else None
    return (name, parts[2].decode("utf-8", "replace")) if len(parts[2]) <= READ_MAX_TEXT else None


def _jpeg_app1(data: bytes, stats: ReadStats) -> Iterator[bytes]:
    """The bodies of a JPEG's APP1 segments before the scan, walking at most ``READ_MAX_CHUNKS`` segments
    and fill bytes (the walk stops there, or at anything that is not a well-formed segment)."""
    pos = 2
    while pos + 4 <= len(data):
        stats.steps += 1
        if stats.steps > READ_MAX_CHUNKS:
            stats.steps = READ_MAX_CHUNKS
            return
        if data[pos] != 0xFF:
            return
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA:  # start of scan: no more headers
            return
        (length,) = struct.unpack_from(">H", data, pos + 2)
        if length < 2 or pos + 2 + length > len(data):
            return
        if marker == 0xE1:
            yield data[pos + 4 : pos + 2 + length]
        pos += 2 + length


def _between(xml: str, start: str, end: str, stats: ReadStats, after: int = 0) -> tuple[str, int] | None:
    """The text between the first ``start`` (at or after ``after``) and the next ``end``, and where it ends;
    two linear searches, so a packet of a thousand opening tags costs no more than one."""
    first = xml.find(start, after)
    stats.examined += (first if first >= 0 else len(xml)) - after
    if first < 0:
        return None
    begin = first + len(start)
    close = xml.find(end, begin)
    stats.examined += (close if close >= 0 else len(xml)) - begin
    return None if close < 0 else (xml[begin:close], close)


def _xmp_fields(xml: str, stats: ReadStats) -> dict[str, str]:
    found: dict[str, str] = {}
    settings = _between(xml, "<studio:settings>", "</studio:settings>", stats)
    if settings is not None:
        found["parameters"] = html.unescape(settings[0])
    gen_id = _between(xml, "<studio:generation_id>", "</studio:generation_id>", stats)
    if gen_id is not None and gen_id[0].strip().isdigit() and len(gen_id[0].strip()) <= 18:
        found["studio:generation_id"] = gen_id[0].strip()
    description = _between(xml, "<dc:description>", "</dc:description>", stats)
    if description is not None:
        item = _between(description[0], "<rdf:li", "</rdf:li>", stats)
        if item is not None and (gt := item[0].find(">")) >= 0 and gt <= 200:
            found["prompt"] = html.unescape(item[0][gt + 1 :])
    return found


def _jpeg_xmp(data: bytes, stats: ReadStats) -> dict[str, str]:
    """The fields of the first XMP packet the studio wrote (``studio:settings``); other packets are passed."""
    for body in _jpeg_app1(data, stats):
        if not body.startswith(XMP_HEADER):
            continue
        xml = body[len(XMP_HEADER) :].decode("utf-8", "replace")
        if "<studio:settings>" not in xml:
            stats.examined += len(xml)
            continue
        return _xmp_fields(xml, stats)
    return {}


def read_embedded(data: bytes, stats: ReadStats | None = None) -> dict[str, Any] | None:
    """What ``embed`` wrote into a file, read back: ``{"prompt", "model", "settings", "generation_id"}``,
    or None for a file without it. Bounded (a hostile file's huge or garbage chunks are skipped) and never
    raises: a dropped file is the designer's, not the studio's."""
    stats = ReadStats() if stats is None else stats
    try:
        if data.startswith(PNG_SIGNATURE):
            found = _png_text(data, stats)
        elif data.startswith(b"\xff\xd8"):
            found = _jpeg_xmp(data, stats)
        else:
            return None
        raw = found.get("parameters")
        if raw is None or len(raw) > READ_MAX_TEXT:
            return None
        params = json.loads(raw)
        if not isinstance(params, dict):
            return None
        settings = params.get("settings")
        model = params.get("model")
        if not isinstance(model, str) or not model or not isinstance(settings, dict):
            return None  # the truncated packet of a huge prompt names no settings: nothing to restore
        gen_id = params.get("generation_id", found.get("studio:generation_id"))
        return {
            "prompt": str(found.get("prompt") or ""),
            "model": model[:200],
            "settings": public_settings(settings),
            "generation_id": int(gen_id) if isinstance(gen_id, int | str) and str(gen_id).isdigit() else None,
        }
    except Exception:  # noqa: BLE001 - any garbage in a dropped file means "no recipe", never a traceback
        return None
