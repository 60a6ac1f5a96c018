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


@pytest.fixture
def signed(client, monkeypatch):
    """The route as a team studio runs it: sign-in on, a shared secret to sign addresses with."""
    from studio.app import asgi

    monkeypatch.setenv("STUDIO_LOGIN", "proxy")
    monkeypatch.setenv("STUDIO_PROXY_SECRET", "p" * 24)
    monkeypatch.setattr(asgi, "TEAM_MODE", True)
    return client


ANN, BOB, EVE = "ann@studio.test", "bob@studio.test", "eve@studio.test"


def _members(studio, *, disabled=()):
    from studio.services.accounts import operator_people

    with operator_people(studio.settings) as people:
        for email in (ANN, BOB):
            people.add(email)
        for email in disabled:
            people.set(email, disabled=True)


def test_with_sign_in_only_a_signed_address_is_served_and_not_for_long(signed, studio):
    from studio.app import thumb_links

    _, sha = _kite(studio)
    _members(studio)
    query = thumb_links.query(sha, ANN)
    assert query.startswith("e=") and "&v=ann@studio.test&s=" in query
    reply = signed.get(f"/thumbs/{sha}.jpg?{query}")
    assert reply.status_code == 200 and reply.content[:3] == b"\xff\xd8\xff"
    max_age = int(reply.headers["cache-control"].removeprefix("private, max-age="))
    assert 0 < max_age <= 2 * thumb_links.WINDOW_S  # never cached past the signature
    expires, signature = query.removeprefix("e=").split("&v=ann@studio.test&s=")
    other = "0" * 64
    for bad in (
        f"/thumbs/{sha}.jpg",  # unsigned: what the route served anyone before sign-in existed
        f"/thumbs/{sha}.jpg?e={expires}&v={ANN}&s={signature[:-1]}{'0' if signature[-1] != '0' else '1'}",
        f"/thumbs/{sha}.jpg?e={int(expires) + thumb_links.WINDOW_S}&v={ANN}&s={signature}",  # a longer life
        f"/thumbs/{sha}.jpg?e={expires}&v={BOB}&s={signature}",  # another member under ann's signature
        f"/thumbs/{sha}.jpg?e={expires}&s={signature}",  # no viewer
        f"/thumbs/{other}.jpg?{query}",  # another image under this image's signature
    ):
        assert signed.get(bad).status_code == 404, bad
    later = thumb_links.query(sha, ANN, now=0)  # signed long ago: expired
    assert signed.get(f"/thumbs/{sha}.jpg?{later}").status_code == 404
    assert thumb_links.seconds_left(sha, expires, signature, ANN, now=int(expires) + 1) is None


def test_a_signed_address_serves_only_an_enabled_member(signed, studio):
    """The signature is the permission only while its viewer may still sign in: an address made for a
    person an admin has disabled, or for someone who is not a member, serves nothing."""
    from studio.app import thumb_links

    _, sha = _kite(studio)
    _members(studio, disabled=[BOB])
    assert signed.get(f"/thumbs/{sha}.jpg?{thumb_links.query(sha, ANN)}").status_code == 200
    assert signed.get(f"/thumbs/{sha}.jpg?{thumb_links.query(sha, BOB)}").status_code == 404  # disabled
    assert signed.get(f"/thumbs/{sha}.jpg?{thumb_links.query(sha, EVE)}").status_code == 404  # a stranger


def test_without_sign_in_nothing_is_signed(monkeypatch):
    from studio.app import thumb_links

    monkeypatch.setenv("STUDIO_LOGIN", "none")
    assert thumb_links.key() is None and thumb_links.query("a" * 64, ANN) == ""
    assert thumb_links.seconds_left("a" * 64, "9999999999", "0" * 32, ANN) is None
