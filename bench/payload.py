"""A worst-case 4K answer, served by a tiny fixed-body server.

The emulator draws small and scales up, so its 4K JPEG is ~0.5 MB: far lighter than a real detailed
render. The reference's CPU and memory anchors (docs/reliability.md, goals P1 and P6) use a "photo-like"
4096² PNG of ~15 MB (20 MB of base64). This module makes such an image (gradient + blurred noise + fine
grain, ~19 MB at PNG level 1) and serves it in Google's pretty-printed envelope, so the client path
and memory benchmarks also run at the realistic top of the range.
"""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SIDE = 4096


def heavy_png(variant: int, side: int = SIDE) -> bytes:
    """A detailed-looking ``side``² PNG; ``variant`` changes a corner so every variant has its own hash."""
    return _encode(_detailed(variant, side), "PNG", compress_level=1)


def heavy_jpeg(variant: int, side: int = SIDE) -> bytes:
    """The same picture as a quality-90 JPEG: what Gemini 3 Pro / 3.1 Flash return at 4K (they send JPEG)."""
    return _encode(_detailed(variant, side), "JPEG", quality=90)


def _encode(im, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **options)
    return out.getvalue()


def _detailed(variant: int, side: int):
    from PIL import Image, ImageDraw, ImageFilter

    coarse = Image.effect_noise((side // 8, side // 8), 60).filter(ImageFilter.GaussianBlur(2))
    coarse = coarse.resize((side, side), Image.Resampling.BICUBIC)
    grad = Image.linear_gradient("L").resize((side, side))
    green = Image.blend(coarse, Image.effect_noise((side, side), 10), 0.5)
    im = Image.merge("RGB", (grad, green, Image.blend(coarse, grad, 0.5)))
    ImageDraw.Draw(im).rectangle((0, 0, 63, 63), fill=(variant * 37 % 256, variant * 91 % 256, 7))
    return im


def envelope(image: bytes, mime: str = "image/png") -> bytes:
    body = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"inlineData": {"mimeType": mime, "data": base64.b64encode(image).decode("ascii")}}
                    ],
                },
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 2000, "totalTokenCount": 2012},
        "modelVersion": "gemini-3-pro-image",
        "responseId": "bench-heavy",
    }
    return json.dumps(body, indent=2).encode()


class JsonAnswers(BaseHTTPRequestHandler):
    """A POST endpoint answering JSON bytes: subclasses say which (``answer``), after reading the request."""

    protocol_version = "HTTP/1.1"

    def answer(self) -> bytes:
        raise NotImplementedError

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = self.answer()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default listen backlog is 5: 16 connections at once overflowed it, the kernel dropped
    # the extra SYNs, and their clients retried a second later, adding 1 s to the timings.
    request_queue_size = 128


@contextmanager
def serving(server: ThreadingHTTPServer) -> Iterator[ThreadingHTTPServer]:
    """``server`` answering from a thread of its own until the block ends."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class _Handler(JsonAnswers):
    def answer(self) -> bytes:
        server: Any = self.server
        with server.lock:
            body: bytes = server.bodies[server.hits % len(server.bodies)]
            server.hits += 1
        return body


@contextmanager
def fixed_server(*bodies: bytes) -> Iterator[Any]:
    """Answers the k-th POST with ``server.bodies[k % len]`` (replace the list between requests).

    ``server.url`` is its base URL.
    """
    server: Any = LoopbackServer(("127.0.0.1", 0), _Handler)
    server.bodies, server.hits, server.lock = list(bodies) or [b"{}"], 0, threading.Lock()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    with serving(server):
        yield server
