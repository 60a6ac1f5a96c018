"""`studio collect`, `studio share` and the review pack through real `studio` processes, on a real SQLite
file and on a real PostgreSQL 15 (``backend``), with the real emulator making the generations."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import PdfParser

from studio import cli
from studio.domain.errors import LinkInvalid
from studio.domain.people import Actor
from studio.domain.requests import GenerationRequest
from studio.domain.settings import load_settings
from studio.services.access import CANNOT_ORGANISE, Access
from studio.services.links import LinkService
from studio.services.studio import Studio
from tests.stores import db_execute, open_store

MODEL = "gemini-2.5-flash-image"
ANN, DAN, EVE, RITA = "ann@example.com", "dan@example.com", "eve@example.com", "rita@example.com"
NO_USER = "studio: Sign-in is on (STUDIO_LOGIN=oidc): set STUDIO_USER=you@example.com to say who you are.\n"
COLLECT_KEYS = ["collection_id", "collection", "created", "ids", "added", "removed", "unchanged", "items"]


def studio(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The command line in a process of its own, with ``env`` added to this test's environment."""
    return subprocess.run(
        [sys.executable, "-m", "studio", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def rows(sql: str) -> list[tuple[object, ...]]:
    store = open_store(Path(os.environ["STUDIO_DATA_DIR"]))
    try:
        return db_execute(store, sql)
    finally:
        store.close()


def items() -> list[tuple[object, ...]]:
    """(collection name, generation id) of every collection item, sorted."""
    return rows(
        "SELECT c.name, i.generation_id FROM collection_item i JOIN collection c ON c.id = i.collection_id "
        "ORDER BY c.name, i.generation_id"
    )


def generate(n: int, capsys) -> list[int]:
    """``n`` real generations (the emulator's), through the command line in this process."""
    assert cli.main(["generate", "a lighthouse", "--variants", str(n), "--json"]) == 0
    ids = [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()]
    assert len(ids) == n
    return ids


def collected(*args: str, **env: str) -> dict:
    out = studio("collect", *args, "--json", **env)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    data = json.loads(out.stdout)
    assert list(data) == COLLECT_KEYS
    return data


# -- studio collect --------------------------------------------------------------------------------


def test_collect_adds_and_removes_by_name_or_id(backend, studio_env, capsys):
    a, b, c = generate(3, capsys)

    missing = studio("collect", "Spring moodboard", str(a))
    assert (missing.returncode, missing.stdout) == (2, "")
    assert (
        missing.stderr
        == "studio: There is no collection called “Spring moodboard”. Add --create to make it.\n"
    )
    assert rows("SELECT count(*) FROM collection") == [(0,)]

    made = collected("Spring moodboard", str(a), str(b), "--create")
    cid = made["collection_id"]
    assert made == {
        "collection_id": cid,
        "collection": "Spring moodboard",
        "created": True,
        "ids": [a, b],
        "added": 2,
        "removed": 0,
        "unchanged": 0,
        "items": 2,
    }
    # again, by its name in another case, with one already there: nothing is made twice
    again = collected("spring MOODBOARD", str(b), f"#{c}", "--create")
    assert (again["collection_id"], again["created"], again["added"], again["unchanged"], again["items"]) == (
        cid,
        False,
        1,
        1,
        3,
    )
    assert rows("SELECT count(*) FROM collection") == [(1,)]
    assert items() == [("Spring moodboard", a), ("Spring moodboard", b), ("Spring moodboard", c)]

    # by its id, taking two out (one of them twice), for people
    out = studio("collect", str(cid), str(a), str(c), str(a), "--remove")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "Removed 2 generations from “Spring moodboard”; it holds 1 generation.\n"
    out = studio("collect", "Spring moodboard", str(a), str(b))
    assert (
        out.stdout
        == "Added 1 generation to “Spring moodboard” (1 was already there); it holds 2 generations.\n"
    )
    assert items() == [("Spring moodboard", a), ("Spring moodboard", b)]

    # removing from a collection that is not there makes none, even with --create, and says so
    gone = studio("collect", "Autumn", str(a), "--remove", "--create")
    assert gone.returncode == 2
    assert (
        gone.stderr
        == "studio: There is no collection called “Autumn”. The collections are “Spring moodboard”.\n"
    )
    assert rows("SELECT count(*) FROM collection") == [(1,)]


def test_collect_names_ids_not_in_the_history_and_changes_nothing(backend, studio_env, capsys):
    a, b = generate(2, capsys)
    assert collected("Board", str(a), "--create")["items"] == 1
    before = items()
    activity = rows("SELECT count(*) FROM activity")

    out = studio("collect", "Board", str(b), "9999", "--json")
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr == "studio: Generation 9999 is not in the history; nothing was changed.\n"
    out = studio("collect", "Newboard", "9998", str(a), "9999", "--create")
    assert out.returncode == 2
    assert out.stderr == "studio: Generations 9998, 9999 are not in the history; nothing was changed.\n"
    assert items() == before  # b was not added, Newboard was not made
    assert rows("SELECT name FROM collection") == [("Board",)]
    assert rows("SELECT count(*) FROM activity") == activity

    # a generation in the trash is still in the history: it can be collected (History shows it there)
    s = Studio(load_settings())
    try:
        assert s.organise.trash([b]) == 1
    finally:
        s.close()
    assert cli.main(["collect", "Board", str(b)]) == 0
    assert items() == [("Board", a), ("Board", b)]


# -- team mode -------------------------------------------------------------------------------------


@pytest.fixture
def team(monkeypatch, backend, studio_env, capsys):
    """A team studio (STUDIO_LOGIN=oidc) on the emulator: Ann (admin), Dan and Eve (designers), Rita
    (reviewer); Dan has made a generation for the team and a private one."""
    for email, role in ((ANN, "admin"), (DAN, "designer"), (EVE, "designer"), (RITA, "reviewer")):
        assert studio("users", "add", email, "--role", role).returncode == 0
    monkeypatch.setenv("STUDIO_LOGIN", "oidc")
    s = Studio(load_settings())
    try:
        dan = s.session(Actor(DAN, "designer"))
        shown, private = (
            dan.generate(GenerationRequest(prompt=prompt, model=MODEL), timeout=30, private=hidden)[0].id
            for prompt, hidden in (("a team lighthouse", False), ("dan's own lighthouse", True))
        )
    finally:
        s.close()
    return {"shown": shown, "private": private}


def test_collect_in_a_team_acts_for_studio_user(team):
    shown, private = team["shown"], team["private"]
    made = collected("Client picks", str(shown), "--create", STUDIO_USER=EVE)
    assert made["added"] == 1
    assert rows("SELECT actor, action, subject FROM activity WHERE actor <> 'operator' ORDER BY id") == [
        (EVE, "collection.create", f"collection:{made['collection_id']}"),
        (EVE, "collection.add", f"generation:{shown}"),
    ]
    # someone else's private generation is "not in the history" for Eve: named, nothing changed
    hidden = studio("collect", "Client picks", str(private), STUDIO_USER=EVE)
    assert hidden.returncode == 2
    assert hidden.stderr == f"studio: Generation {private} is not in the history; nothing was changed.\n"
    # its author may
    assert collected("Client picks", str(private), STUDIO_USER=DAN)["items"] == 2
    assert items() == [("Client picks", shown), ("Client picks", private)]


def test_collect_in_a_team_refuses_before_writing(team):
    shown = team["shown"]
    before = (items(), rows("SELECT count(*) FROM collection"), rows("SELECT count(*) FROM activity"))
    out = studio("collect", "Client picks", str(shown), "--create")
    assert (out.returncode, out.stdout, out.stderr) == (1, "", NO_USER)
    stranger = studio("collect", "Client picks", str(shown), "--create", STUDIO_USER="zed@example.com")
    assert stranger.returncode == 1
    assert (
        stranger.stderr
        == "studio: zed@example.com is not a member of this studio. Ask an admin to add you.\n"
    )
    reviewer = studio("collect", "Client picks", str(shown), "--create", STUDIO_USER=RITA)
    assert (reviewer.returncode, reviewer.stdout) == (1, "")
    assert reviewer.stderr == f"studio: {CANNOT_ORGANISE}\n"
    assert (items(), rows("SELECT count(*) FROM collection"), rows("SELECT count(*) FROM activity")) == before


# -- studio share ----------------------------------------------------------------------------------

LINK_KEYS = ["url", "expires", "collection_id", "collection", "feedback", "prompts"]


def shared(*args: str, **env: str) -> dict:
    out = studio("share", *args, "--json", **env)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    data = json.loads(out.stdout)
    assert list(data) == LINK_KEYS
    return data


def token(url: str) -> str:
    [value] = parse_qs(urlsplit(url).query)["link"]
    return value


def opened(url: str):
    """What the link shows, through LinkService with no access at all (the token is the capability)."""
    store = open_store(Path(os.environ["STUDIO_DATA_DIR"]))
    try:
        return LinkService(store, Access(Actor.signed_out()), load_settings()).open(token(url))
    finally:
        store.close()


def days_from_now(expires: str) -> float:
    return (datetime.fromisoformat(expires) - datetime.now(UTC)).total_seconds() / 86400


def test_share_prints_a_link_that_opens_the_collection_and_revoke_stops_it(backend, studio_env, capsys):
    a, b, c = generate(3, capsys)
    cid = collected("Board", str(a), str(b), "--create")["collection_id"]

    link = shared("Board")
    assert link["url"].startswith("http://localhost:8501/?link=")
    assert (link["collection_id"], link["collection"], link["feedback"], link["prompts"]) == (
        cid,
        "Board",
        False,
        False,
    )
    assert 13.99 < days_from_now(link["expires"]) <= 14
    assert len(token(link["url"])) >= 32  # 24 random bytes, URL-safe base64
    view = opened(link["url"])
    assert view.title == "Board" and view.feedback is False
    assert sorted(item.generation_id for item in view.items) == [a, b]  # not c: only the collection
    assert all(item.prompt is None for item in view.items)  # prompts hidden unless included
    assert view.expires == link["expires"]
    # only the token's sha256 is stored: the database never holds a working link
    assert rows("SELECT token_hash FROM share_link") == [
        (hashlib.sha256(token(link["url"]).encode()).hexdigest(),)
    ]

    # --days, --feedback and --prompts; by id; for people: the URL, then a sentence with the expiry
    out = studio(
        "share",
        str(cid),
        "--days",
        "3",
        "--feedback",
        "--prompts",
        STUDIO_PUBLIC_URL="https://studio.example.com/",
    )
    assert out.returncode == 0, out.stderr
    url, sentence = out.stdout.splitlines()
    assert url.startswith("https://studio.example.com/?link=")
    assert sentence.startswith(
        "Anyone with this link can see and download the images of “Board” with their prompts without signing "
        "in, and approve or comment on them under a name they type, until "
    )
    assert sentence.endswith(" UTC (3 days). Stop it sooner: studio share --revoke URL")
    view = opened(url)
    assert view.feedback is True and 2.99 < days_from_now(view.expires) <= 3
    assert {item.prompt for item in view.items} == {"a lighthouse"}

    # revoking one link stops it at once and leaves the other working
    out = studio("share", "--revoke", url)
    assert (out.returncode, out.stdout, out.stderr) == (
        0,
        "Revoked: the link no longer opens anything.\n",
        "",
    )
    with pytest.raises(LinkInvalid):
        opened(url)
    assert opened(link["url"]).title == "Board"
    again = studio("share", "--revoke", url)
    assert (again.returncode, again.stdout) == (2, "")
    assert again.stderr.startswith("studio: No working link of this studio has that URL")
    # an empty collection can be shared (items may come later); stderr says what the link shows now
    assert studio("collect", "Board", str(a), str(b), "--remove").returncode == 0
    empty = studio("share", "Board", "--json")
    assert empty.returncode == 0 and list(json.loads(empty.stdout)) == LINK_KEYS
    assert empty.stderr == (
        f"studio: “Board” holds no generations yet: the link shows an empty page until you add some "
        f"(studio collect {cid} ID...).\n"
    )
    assert opened(json.loads(empty.stdout)["url"]).items == ()
    revoked = studio("share", "--revoke", token(link["url"]), "--json")  # the token alone works too
    assert (revoked.returncode, json.loads(revoked.stdout)) == (0, {"revoked": True})
    with pytest.raises(LinkInvalid):
        opened(link["url"])
    tampered = link["url"][:-2] + ("AA" if not link["url"].endswith("AA") else "BB")
    with pytest.raises(LinkInvalid):
        opened(tampered)


@pytest.mark.parametrize(
    ("argv", "sentence"),
    [
        (
            ["share", "Nowhere"],
            "studio: There is no collection called “Nowhere”. The collections are “Board”.\n",
        ),
        (
            ["share"],
            "studio: Name the collection to share (its name or id), or --revoke URL to stop a link.\n",
        ),
        (["share", "Board", "--days", "400"], "studio: A link lasts between 1 and 365 days, not 400.\n"),
        (
            ["share", "Board", "--revoke", "x"],
            "studio: Give either a collection to share or --revoke URL, not both.\n",
        ),
    ],
    ids=["no-collection", "nothing", "too-long", "both"],
)
def test_share_bad_usage_is_a_sentence_and_exit_two(studio_env, capsys, argv, sentence):
    [a] = generate(1, capsys)
    collected("Board", str(a), "--create")
    out = studio(*argv)
    assert (out.returncode, out.stdout, out.stderr) == (2, "", sentence)
    assert rows("SELECT count(*) FROM share_link") == [(0,)]
    zero = studio("share", "Board", "--days", "0")
    assert zero.returncode == 2 and "a link lasts at least 1 day" in zero.stderr


def test_share_in_a_team(team):
    shown = team["shown"]
    cid = collected("Client picks", str(shown), "--create", STUDIO_USER=EVE)["collection_id"]
    s = Studio(load_settings())
    try:
        s.session(Actor(ANN, "admin")).organise.share_collection(cid, RITA, "review")
    finally:
        s.close()

    out = studio("share", "Client picks")
    assert (out.returncode, out.stdout, out.stderr) == (1, "", NO_USER)
    reviewer = studio("share", "Client picks", STUDIO_USER=RITA)  # she sees it, but may not share it
    assert (reviewer.returncode, reviewer.stdout, reviewer.stderr) == (1, "", f"studio: {CANNOT_ORGANISE}\n")
    assert rows("SELECT count(*) FROM share_link") == [(0,)]

    link = shared("Client picks", "--feedback", STUDIO_USER=DAN)
    assert [(by, bool(fb)) for by, fb in rows("SELECT created_by, feedback FROM share_link")] == [(DAN, True)]
    assert [item.generation_id for item in opened(link["url"]).items] == [shown]
    # a reviewer may not revoke it either; a designer may
    refused = studio("share", "--revoke", link["url"], STUDIO_USER=RITA)
    assert refused.returncode == 1 and refused.stderr == f"studio: {CANNOT_ORGANISE}\n"
    assert opened(link["url"]).title == "Client picks"
    assert studio("share", "--revoke", link["url"], STUDIO_USER=EVE).returncode == 0
    with pytest.raises(LinkInvalid):
        opened(link["url"])


# -- the review pack -------------------------------------------------------------------------------


def pdf_pages(data: bytes) -> int:
    """Pages of a PDF, as Pillow's PDF reader finds them (it raises on a file that is not one)."""
    return len(PdfParser.PdfParser(buf=data).pages)


def test_export_writes_a_collections_review_pack_and_zip(backend, studio_env, capsys, tmp_path):
    ids = generate(8, capsys)
    collected("Board", *map(str, ids[:7]), "--create")
    s = Studio(load_settings())
    try:
        cid = s.session(Actor.local_person()).organise.collections()[0][0]
        s.session(Actor.local_person()).review.decide(ids[0], "approved", collection_id=cid)
        s.session(Actor.local_person()).review.comment(ids[1], "Warmer sky, please", collection_id=cid)
    finally:
        s.close()

    pdf, zip_ = tmp_path / "pack.pdf", tmp_path / "board.zip"
    out = studio("export", "--collection", "board", "--pdf", str(pdf), "--out", str(zip_))
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()
    assert first.startswith(f"Wrote the review pack of “Board” to {pdf} (")
    assert second.startswith(f"Exported 7 generations and 7 images to {zip_}")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert pdf_pages(data) == 2  # 7 images: six to a page of the contact sheet
    with zipfile.ZipFile(zip_) as z:
        manifest = json.loads(z.read("manifest.json"))
    assert sorted(g["id"] for g in manifest["generations"]) == sorted(ids[:7])
    assert not list(tmp_path.glob(".*.tmp"))  # written whole, renamed into place


@pytest.mark.parametrize(
    ("argv", "sentence"),
    [
        (
            ["export", "--pdf", "p.pdf"],
            "A review pack is a collection's: add --collection NAME (its name or id).",
        ),
        (["export"], "Say what to write: --out FILE.zip, or --collection NAME --pdf FILE.pdf."),
        (["export", "--collection", "Nowhere", "--pdf", "p.pdf"], "There is no collection called “Nowhere”."),
        (["export", "--collection", "Nowhere", "--out", "x.zip"], "There is no collection called “Nowhere”."),
        (
            ["export", "--collection", "Board", "--out", "x.zip", "1"],
            "Give either generation ids or --collection, not both.",
        ),
    ],
    ids=["pdf-without-collection", "nothing", "no-collection-pdf", "no-collection-zip", "ids-and-collection"],
)
def test_export_bad_usage_writes_nothing(studio_env, capsys, tmp_path, argv, sentence):
    generate(1, capsys)
    out = studio(*argv)
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr.startswith(f"studio: {sentence}")
    assert not (tmp_path / "p.pdf").exists() and not (tmp_path / "x.zip").exists()


def test_a_reviewer_exports_the_pack_of_a_collection_shared_with_her_only(team, tmp_path):
    shown = team["shown"]
    shared_id = collected("Client picks", str(shown), "--create", STUDIO_USER=EVE)["collection_id"]
    collected("Internal", str(shown), "--create", STUDIO_USER=EVE)
    s = Studio(load_settings())
    try:
        s.session(Actor(EVE, "designer")).organise.share_collection(shared_id, RITA, "review")
    finally:
        s.close()
    pdf = tmp_path / "picks.pdf"

    out = studio("export", "--collection", "Client picks", "--pdf", str(pdf))
    assert (out.returncode, out.stdout, out.stderr) == (1, "", NO_USER)
    assert not pdf.exists()
    hidden = studio("export", "--collection", "Internal", "--pdf", str(pdf), STUDIO_USER=RITA)
    assert hidden.returncode == 2 and not pdf.exists()
    assert hidden.stderr.startswith(
        "studio: There is no collection called “Internal”. The collections are “Client picks”."
    )

    out = studio("export", "--collection", "client picks", "--pdf", str(pdf), STUDIO_USER=RITA)
    assert out.returncode == 0, out.stderr
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and pdf_pages(data) == 1
