"""The ``/thumbs/<sha256>.jpg`` route of ``studio run`` (``app/asgi.py``), called over HTTP through Starlette
with the real route object, a real history and the real emulator: it serves live thumbnails only, by a
lowercase sha256 only, and lets the browser (never a shared cache) keep them."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from studio.app import resources
from studio.app.widgets import tiles
from studio.domain.requests import GenerationRequest


@pytest.fixture
def client(studio, monkeypatch):
    monkeypatch.setenv(tiles.THUMB_ROUTE, "")  # importing asgi sets it; the test leaves it as it was
    from studio.app import asgi

    monkeypatch.setattr(resources, "get_studio", lambda: studio)
    with TestClient(Starlette(routes=[asgi.ROUTE])) as http:
        yield http


def _kite(studio):
    [record] = studio.generate(GenerationRequest(prompt="a kite", model="gemini-2.5-flash-image"), timeout=30)
    return record.id, record.images[0].sha256


def test_a_live_thumbnail_is_served_privately_for_a_year(client, studio):
    _, sha = _kite(studio)
    reply = client.get(f"/thumbs/{sha}.jpg")
    assert reply.status_code == 200 and reply.headers["content-type"] == "image/jpeg"
    assert reply.content[:3] == b"\xff\xd8\xff"
    assert reply.headers["cache-control"] == "private, max-age=31536000, immutable"


def test_a_trashed_generations_thumbnail_is_not_served(client, studio):
    gen_id, sha = _kite(studio)
    studio.organise.trash([gen_id])
    assert client.get(f"/thumbs/{sha}.jpg").status_code == 404
    studio.organise.restore([gen_id])
    assert client.get(f"/thumbs/{sha}.jpg").status_code == 200


def test_only_a_lowercase_sha256_reaches_a_file(client, studio):
    _, sha = _kite(studio)
    for bad in (sha[:-1], sha.upper(), sha + "0", "0" * 64, "..studio.db"):
        reply = client.get(f"/thumbs/{bad}.jpg")
        assert reply.status_code == 404 and reply.content == b"Not found", bad  # the route said no
    for path in ("..%2Fstudio.db", f"{sha[:2]}%2F{sha}", f"../thumbs/{sha[:2]}/{sha}"):
        assert client.get(f"/thumbs/{path}.jpg").status_code == 404, path
