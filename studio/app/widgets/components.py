"""Reusable display pieces. Every piece of user or model text goes through ``st.text``/``st.code`` or
``escape_md``: nothing here ever passes ``unsafe_allow_html``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any, Literal

import streamlit as st

from studio.domain import catalogue
from studio.domain.requests import (
    BLOCKED,
    CANCELLED,
    FAILED,
    INTERRUPTED,
    NO_IMAGE,
    PENDING,
    RUNNING,
    SUCCEEDED,
)
from studio.imaging import metadata
from studio.services.gallery import GenerationRecord, ImageRecord

DEMO_BADGE = "DEMO — images are rendered locally by the emulator"

#: status -> (label, badge colour, material icon)
_BadgeColour = Literal["red", "orange", "yellow", "blue", "green", "violet", "gray", "grey", "primary"]
_STATUS: dict[str, tuple[str, _BadgeColour, str]] = {
    PENDING: ("Queued", "blue", ":material/schedule:"),
    RUNNING: ("Running", "blue", ":material/progress_activity:"),
    SUCCEEDED: ("Done", "green", ":material/check_circle:"),
    FAILED: ("Failed", "red", ":material/error:"),
    BLOCKED: ("Blocked", "orange", ":material/block:"),
    NO_IMAGE: ("No image", "orange", ":material/hide_image:"),
    CANCELLED: ("Cancelled", "gray", ":material/cancel:"),
    INTERRUPTED: ("Interrupted", "gray", ":material/sync_problem:"),
}
# Every ASCII punctuation character may be backslash-escaped in CommonMark; escaping all of them
# turns links, emphasis, HTML, colour directives and LaTeX into literal text.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=\"'&%^@/,;?])")

ENV_VARS = (
    ("STUDIO_API_KEY", "API key for the endpoint (or STUDIO_API_KEY in .streamlit/secrets.toml)."),
    ("STUDIO_BASE_URL", "Endpoint base URL, e.g. https://generativelanguage.googleapis.com or a relay."),
    ("STUDIO_AUTH", "How the key is sent: bearer, goog (x-goog-api-key header) or query."),
    ("STUDIO_DATA_DIR", "Where history, images and thumbnails are stored."),
    ("STUDIO_DEMO", "1 to run against the built-in emulator (no key, no cost)."),
    ("STUDIO_TEXT_MODEL", "Text model used for prompt enhancement."),
    ("STUDIO_TIMEOUT", "Overall deadline of one generation, in seconds."),
    ("STUDIO_WORKERS", "How many generations run at once (1-16)."),
)


#: Bare addresses that Markdown would turn into live links (GFM autolinks survive backslash escapes).
_URL = re.compile(r"(?i)\b(?:https?://|ftp://|www\.)\S+")


def escape_md(text: str) -> str:
    """``text`` as Markdown that renders literally (for st.error/st.caption, which parse Markdown).

    Addresses become inline code, so a URL in a server's or a prompt's text is shown, never made clickable.
    """
    pieces, last = [], 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(".,;:!?)")  # a sentence's full stop is not part of the address
        pieces.append(_MD_SPECIAL.sub(r"\\\1", text[last : match.start()]))
        pieces.append("`" + url.replace("`", "%60") + "`")
        last = match.start() + len(url)
    pieces.append(_MD_SPECIAL.sub(r"\\\1", text[last:]))
    return "".join(pieces).replace("\n", "  \n")


def excerpt(text: str, limit: int = 90) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def model_label(model_id: str) -> str:
    return catalogue.MODELS[model_id].label if catalogue.is_known(model_id) else model_id


def page_header(title: str, caption: str, *, demo: bool) -> None:
    st.title(title, anchor=False)
    st.caption(caption)
    if demo:
        st.badge(DEMO_BADGE, icon=":material/science:", color="orange")


def sidebar_demo_badge() -> None:
    st.sidebar.warning(DEMO_BADGE, icon=":material/science:")


def status_label(status: str) -> str:
    return _STATUS.get(status, (status,))[0]


def status_badge(status: str) -> None:
    label, color, icon = _STATUS.get(status, (status, "gray", ":material/help:"))
    st.badge(label, icon=icon, color=color)


def error_box(record: GenerationRecord) -> None:
    if record.error_message and record.status != SUCCEEDED:
        st.error(escape_md(record.error_message), icon=":material/report:")


def embedded(record: GenerationRecord, image: ImageRecord) -> bytes:
    """The stored original's bytes with the prompt and settings embedded; pixels are never re-encoded."""
    return metadata.embed(record, image)[0]


def download_button(
    record: GenerationRecord,
    image: ImageRecord,
    *,
    key: str,
    label: str = "Download",
    where: Any = st,
    tertiary: bool = False,
) -> None:
    """Every download of an image: the stored original with its prompt and settings embedded (PNG text
    chunks / JPEG XMP), made only when clicked; its name is built from the id and the hash, never a prompt."""
    where.download_button(
        label,
        data=partial(embedded, record, image),
        file_name=metadata.download_name(record, image, image.mime_type),
        mime=image.mime_type,
        icon=":material/download:",
        key=key,
        on_click="ignore",
        type="tertiary" if tertiary else "secondary",
        help="The stored original, with the prompt and settings embedded (PNG text chunks / JPEG XMP)",
    )


_OUTPUT_FORMAT = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}


def stored_image(path: Path | str, *, width: int | Literal["stretch"] = "stretch") -> None:
    """An image file shown as stored. ``st.image``'s "auto" format decodes a PNG and encodes it again as
    JPEG on every rerun (about 15 ms a 1K image: half a second for a full feed); naming the file's own format sends its bytes as they are (a preview wider than
    the page is still downscaled by Streamlit)."""
    fmt = _OUTPUT_FORMAT.get(Path(path).suffix.lower(), "auto")
    st.image(str(path), width=width, output_format=fmt)  # type: ignore[arg-type]


def image_viewer(record: GenerationRecord, preview: Callable[[ImageRecord], Path], *, key: str) -> None:
    """Every final image of a generation (its on-screen ``preview``), each downloading the original."""
    for index, image in enumerate(record.images):
        if not Path(image.path).exists():
            st.warning("This image file is missing from the data directory.", icon=":material/broken_image:")
            continue
        stored_image(preview(image))
        st.caption(f"{image.width} × {image.height} px · {image.mime_type}")
        download_button(record, image, key=f"{key}-dl-{index}")


def thumbnail(image: ImageRecord) -> None:
    path = image.thumb_path or image.path
    if path and Path(path).exists():
        stored_image(path)
    else:
        placeholder(":material/broken_image:", "Missing file")


def placeholder(icon: str, label: str) -> None:
    with st.container(height=160, horizontal_alignment="center", vertical_alignment="center", border=False):
        st.markdown(f"### {icon}", text_alignment="center", anchors=False)
        st.caption(label, text_alignment="center")


def generation_card(record: GenerationRecord) -> None:
    """Thumbnail, status, prompt excerpt and model: one cell of the history grid."""
    if record.images:
        thumbnail(record.images[0])
    else:
        label, _, icon = _STATUS.get(record.status, (record.status, "gray", ":material/help:"))
        placeholder(icon, label)
    status_badge(record.status)
    st.text(excerpt(record.prompt) or "(no prompt)")
    st.caption(f"#{record.id} · {escape_md(model_label(record.model))}")


def key_value_table(rows: Iterable[tuple[str, object]], *, key: str | None = None) -> None:
    """A two-column table; values become strings so nothing is interpreted."""
    rows = [(name, "—" if value in (None, "", [], {}) else str(value)) for name, value in rows]
    st.dataframe(
        {"Setting": [r[0] for r in rows], "Value": [r[1] for r in rows]},
        hide_index=True,
        width="stretch",
        key=key,
    )


def settings_table(settings: dict[str, object], *, key: str | None = None) -> None:
    key_value_table(sorted(settings.items()), key=key)


def env_table() -> None:
    st.dataframe(
        {"Variable": [n for n, _ in ENV_VARS], "Meaning": [m for _, m in ENV_VARS]},
        hide_index=True,
        width="stretch",
    )


def run_facts(record: GenerationRecord) -> str:
    """'#12 · 3.4 s · $0.039' — our own numbers only, safe as Markdown."""
    parts = [f"#{record.id}"]
    if record.latency_ms is not None:
        parts.append(f"{record.latency_ms / 1000:.1f} s")
    if record.cost_usd is not None:
        parts.append(f"\\${record.cost_usd:.3f}")  # a bare $ may start LaTeX
    return " · ".join(parts)


def run_line(record: GenerationRecord) -> str:
    """Cost, latency and tokens with icons, for the detail view (our numbers only)."""
    cost = "—" if record.cost_usd is None else f"\\${record.cost_usd:.3f}"
    latency = "—" if record.latency_ms is None else f"{record.latency_ms / 1000:.1f} s"
    tokens = escape_md(str(record.usage.get("totalTokenCount", "—")))
    return (
        f":material/payments: **{cost}** · :material/timer: **{latency}** · "
        f":material/token: **{tokens}** tokens"
    )
