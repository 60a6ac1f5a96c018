"""Gallery review on both backends (``backend``: a real SQLite file; a real PostgreSQL 15 with a bucket), over
the real emulator: decisions (the log, the latest status, History's filter, a collection's counts),
comments (threads, pins, @mentions), who may review what (shares for view or review), the queues and their
unread counts, the next version made from a comment, and the review pack."""

from __future__ import annotations

import io

import pytest
from PIL import Image, PdfParser

from studio.domain.errors import InputError, NotAllowed, NotSignedIn
from studio.domain.people import Actor
from studio.domain.review import Pin
from studio.domain.settings import load_settings
from studio.imaging.review_pack import MARKER
from studio.services.gallery import GalleryFilter
from studio.services.reviews import VIEW_ONLY
from studio.services.studio import Studio
from studio.storage import Store
from tests.service.test_access import ANN, DAN, EVE, RITA, as_, make, open_team
from tests.service.test_migrations_alembic import _v7_copy
from tests.stores import db_execute, sqlite_only

pytestmark = pytest.mark.usefixtures("backend")


@pytest.fixture
def team(monkeypatch):
    t = open_team(monkeypatch)
    yield t
    t.studio.close()
    t.emulator.stop()


@pytest.fixture
def board(team):
    """Dan's collection of three generations, shared with Rita for review; a fourth outside it."""
    dan = as_(team, DAN)
    ids = [make(dan, f"a reviewed teapot {n}") for n in range(3)]
    outside = make(dan, "a teapot nobody shared")
    cid = dan.organise.create_collection("Teapots for review")
    dan.organise.add_to_collection(ids, cid)
    dan.organise.share_collection(cid, RITA, "review")
    return dan, as_(team, RITA), cid, ids, outside


def test_decisions_keep_a_log_the_latest_status_and_the_counts(board):
    dan, rita, cid, (a, b, c), outside = board
    first = rita.review.decide(a, "approved")
    assert (first.status, first.by, first.collection_id, first.label) == ("approved", RITA, cid, "Approved")
    rita.review.decide(b, "rejected")
    rita.review.decide(b, "changes", collection_id=cid)
    assert [(d.status, d.by) for d in dan.review.decisions(b)] == [("rejected", RITA), ("changes", RITA)]
    assert dan.get(a).review_status == "approved" and dan.get(b).review_status == "changes"
    assert dan.get(c).review_status is None

    counts = dan.review.counts(cid)
    assert (counts.approved, counts.changes, counts.rejected, counts.open) == (1, 1, 0, 1)
    assert counts.sentence() == "1 approved · 1 changes requested · 1 open"
    assert rita.review.counts(cid) == counts  # the reviewer counts the same shared collection

    # History's decision filter: one indexed column, "open" is no decision at all
    def ids(f):
        return {r.id for r in dan.gallery.page(f, limit=50)}

    assert ids(GalleryFilter(review_status="approved")) == {a}
    assert ids(GalleryFilter(review_status=["approved", "changes"])) == {a, b}
    assert ids(GalleryFilter(review_status="open")) == {c, outside}
    assert ids(GalleryFilter(review_status="open", collection_id=cid)) == {c}
    assert dan.gallery.count(GalleryFilter(review_status="changes")) == 1
    assert {r.id for r in rita.gallery.page(GalleryFilter(review_status="open"))} == {c}
    with pytest.raises(InputError, match="Filter by a decision"):
        dan.gallery.page(GalleryFilter(review_status="liked"))

    # clearing a decision: logged as "open", the generation open again
    dan.review.decide(b, None)
    assert dan.get(b).review_status is None
    assert [d.status for d in dan.review.decisions(b)][-1] == "open"
    assert dan.review.counts(cid).open == 2
    with pytest.raises(InputError, match="A decision is one of"):
        dan.review.decide(a, "maybe")
    with pytest.raises(InputError, match="not in collection"):
        dan.review.decide(outside, "approved", collection_id=cid)


def test_comments_thread_pin_and_mention(board, team):
    dan, rita, cid, (a, b, _c), _outside = board
    box = rita.review.comment(a, "The handle is too thin", pin={"x": 0.1, "y": 0.2, "w": 0.3, "h": 0.4})
    assert box.pin == Pin(0.1, 0.2, 0.3, 0.4) and box.collection_id == cid and box.author == RITA
    reply = dan.review.comment(a, "Thicker like this, @rita?", parent_id=box.id)
    assert reply.mentions == (RITA,)
    deeper = rita.review.comment(a, "Yes, and ask @eve@studio.test", parent_id=reply.id)
    assert deeper.parent_id == box.id  # a reply to a reply joins the thread
    point = rita.review.comment(a, "A speck here", pin=Pin(0.9, 0.9))
    plain = dan.review.comment(a, "Overall nice")
    thread = rita.review.comments(a)
    assert [(t.id, t.depth, t.number) for t in thread] == [
        (box.id, 0, 1),
        (reply.id, 1, None),
        (deeper.id, 1, None),
        (point.id, 0, 2),
        (plain.id, 0, None),
    ]
    assert thread[2].mentions == (EVE,)
    mentionable = rita.review.mentionable()
    assert {DAN, EVE, RITA} <= set(mentionable) and "off@studio.test" not in mentionable  # not the disabled
    assert rita.review.comments(b) == []

    for bad in (
        {"x": 1.2, "y": 0.5},
        {"x": 0.7, "y": 0.1, "w": 0.5, "h": 0.1},
        {"x": 0.1, "y": 0.1, "w": 0.2},
    ):
        with pytest.raises(InputError):
            rita.review.comment(a, "bad pin", pin=bad)
    with pytest.raises(InputError, match="empty"):
        rita.review.comment(a, "   ")
    with pytest.raises(InputError, match="is not a comment on generation"):
        rita.review.comment(b, "wrong thread", parent_id=box.id)
    assert rita.review.resolve(box.id, True) is True
    assert rita.review.comments(a)[0].resolved
    # the team's audit log names who commented
    log = team.studio._store.activity.list(action_prefix="review.")
    assert {(x.actor, x.action) for x in log} >= {(RITA, "review.comment"), (DAN, "review.comment")}


def test_reviewers_review_only_collections_shared_with_them_for_review(board, team):
    dan, rita, cid, (a, _b, _c), outside = board
    eve, ann = as_(team, EVE), as_(team, ANN)
    dan.organise.share_collection(cid, RITA, "view")  # view only: read, never decide or comment
    assert rita.review.comments(a) == [] and rita.review.decisions(a) == []
    with pytest.raises(NotAllowed) as caught:
        rita.review.decide(a, "approved")
    assert caught.value.message == VIEW_ONLY
    with pytest.raises(NotAllowed):
        rita.review.comment(a, "not allowed")
    with pytest.raises(InputError, match="not in the history"):
        rita.review.decide(outside, "approved")  # not shared at all: not even seen
    dan.organise.share_collection(cid, "*", "review")  # the whole team, for review: the wider share wins
    assert rita.review.decide(a, "approved").status == "approved"
    # designers and admins review whatever they can see
    assert eve.review.decide(outside, "rejected").by == EVE
    assert ann.review.comment(outside, "agreed").author == ANN
    with pytest.raises(NotSignedIn):
        as_(team, None).review.decide(a, "approved")
    with pytest.raises(NotAllowed):
        rita.review.next_version(ann.review.comment(a, "redo").id)  # reviewers never generate
    private = make(dan, "a private teapot", private=True)
    with pytest.raises(InputError, match="not in the history"):
        eve.review.comment(private, "I cannot see this")


def test_queues_and_unread_counts(board, team):
    dan, rita, cid, (a, b, c), _outside = board
    eve = as_(team, EVE)
    assert [r.id for r in rita.review.waiting_for_me()] == [c, b, a]
    assert rita.review.unread() == {"waiting": 3, "feedback": 0}
    rita.review.decide(a, "approved")
    note = rita.review.comment(b, "Needs a warmer glaze")
    ping = rita.review.comment(c, "What do you think, @eve?")
    assert rita.review.unread()["waiting"] == 2
    assert dan.review.unread() == {"waiting": 0, "feedback": 2}
    assert [x.id for x in dan.review.feedback_on_my_work()] == [ping.id, note.id]
    assert [x.id for x in eve.review.feedback_on_my_work()] == [ping.id]  # mentioned, not the author
    own = dan.review.comment(b, "On it")  # one's own comments are never feedback
    assert own.id not in [x.id for x in dan.review.feedback_on_my_work()]
    dan.review.mark_read([note.id, ping.id, 999_999])
    assert dan.review.unread()["feedback"] == 0
    dan.review.mark_read([note.id])  # again: nothing changes
    assert eve.review.unread()["feedback"] == 1  # read marks are per person
    assert db_execute(team.studio._store, "SELECT COUNT(*) FROM comment_seen")[0][0] == 2


def test_next_version_from_a_pinned_comment_joins_the_same_collection(board):
    dan, rita, cid, (a, b, _c), _outside = board
    rita.review.comment(b, "first note")
    ask = rita.review.comment(b, "Make the lid blue", pin={"x": 0.25, "y": 0.25, "w": 0.5, "h": 0.5})
    rita.review.decide(b, "changes")
    nxt = dan.review.next_version(ask.id)
    assert (nxt.source_id, nxt.instruction, nxt.pin) == (b, "Make the lid blue", ask.pin)
    assert nxt.annotation is not None and nxt.annotation_name == "annotation-1.png"
    source = dan.get(b).images[0]
    drawn = Image.open(io.BytesIO(nxt.annotation))
    assert drawn.format == "PNG" and drawn.size == (source.width, source.height)
    left, top, right, bottom = ask.pin.pixels(*drawn.size)
    edge = drawn.convert("RGB").getpixel((right - 1, (top + bottom) // 2))
    assert edge == MARKER  # the box is drawn where the comment pinned it
    unpinned = dan.review.next_version(rita.review.comment(b, "Also brighter").id)
    assert unpinned.annotation is None and unpinned.pin is None

    new = make(dan, "a teapot with a blue lid")
    dan.review.link_version(ask.id, new)
    in_board = {r.id for r in dan.gallery.page(GalleryFilter(collection_id=cid), limit=50)}
    assert {b, new} <= in_board
    assert next(x for x in dan.review.comments(b) if x.id == ask.id).version_id == new
    assert new in [r.id for r in rita.review.waiting_for_me()]  # the reviewer sees the next version to review
    with pytest.raises(InputError, match="does not exist"):
        dan.review.next_version(999_999)
    with pytest.raises(NotAllowed):
        rita.review.link_version(ask.id, new)


def test_review_pack_is_a_pdf_with_a_page_per_six_images(board):
    dan, rita, cid, ids, _outside = board
    more = [make(dan, f"another teapot {n}") for n in range(4)]
    dan.organise.add_to_collection(more, cid)
    rita.review.decide(ids[0], "approved")
    rita.review.comment(ids[1], "Too dark <script>", pin=Pin(0.5, 0.5))
    pdf = rita.review.pack_pdf(cid)
    assert pdf.startswith(b"%PDF-")
    parsed = PdfParser.PdfParser(buf=pdf)  # Pillow reads back the PDF it wrote
    assert len(parsed.pages) == 2  # 7 images, 6 a page
    assert parsed.page_tree_root[b"Count"] == 2
    assert pdf.count(b"/Subtype /Image") >= 2
    with pytest.raises(InputError, match="does not exist"):
        dan.review.pack_pdf(cid + 1000)
    hidden = dan.organise.create_collection("Not for Rita")
    assert dan.review.pack_pdf(hidden).startswith(b"%PDF-")
    with pytest.raises(InputError, match="does not exist"):
        rita.review.pack_pdf(hidden)  # a reviewer never learns of collections not shared with them


def test_without_sign_in_the_one_person_reviews_everything(monkeypatch, studio_env):
    studio = Studio(load_settings())
    try:
        me = studio.session(Actor.signed_out())
        gen_id = make(me, "a local teapot")
        cid = me.organise.create_collection("Mine")
        me.organise.add_to_collection([gen_id], cid)
        assert me.review.decide(gen_id, "approved").by == "local"
        assert studio.review.comment(gen_id, "lovely", pin=Pin(0.5, 0.5)).author == "local"
        assert studio.review.counts(cid).sentence() == "1 approved"
        assert studio.review.pack_pdf(cid).startswith(b"%PDF-")
        assert studio._store.activity.list() == []  # one person: no audit log
    finally:
        studio.close()


def test_an_older_history_upgrades_with_every_generation_open(tmp_path):
    """Revision 0004 on a real pre-Alembic file (tests/data/studio-v7.db): every row keeps its meaning, and
    every generation starts open (no decision, no comment, no link)."""
    sqlite_only("upgrades a SQLite file made by an older studio")
    data = _v7_copy(tmp_path)
    store = Store(data)
    try:
        live = store.gallery.count(GalleryFilter())
        assert live > 0 and store.gallery.count(GalleryFilter(review_status="open")) == live
        assert store.gallery.count(GalleryFilter(review_status="approved")) == 0
        for table in ("decision", "comment", "comment_seen", "share_link"):
            assert db_execute(store, f"SELECT COUNT(*) FROM {table}") == [(0,)]  # noqa: S608
        first = store.gallery.page(GalleryFilter(), limit=1)[0]
        decision = store.review.decide(first.id, "approved", "local")
        assert decision.status == "approved" and store.generations.get(first.id).review_status == "approved"
    finally:
        store.close()


def test_emptying_the_trash_takes_a_generation_s_review_with_it(board, team):
    dan, rita, cid, (a, b, _c), _outside = board
    note = rita.review.comment(a, "pinned", pin=Pin(0.5, 0.5))
    rita.review.comment(a, "a reply", parent_id=note.id)
    rita.review.decide(a, "approved")
    dan.review.mark_read([note.id])
    ask = rita.review.comment(b, "make the next one")
    dan.review.link_version(ask.id, a)  # a is the version made from b's comment
    dan.organise.trash([a])
    assert dan.review.counts(cid).approved == 0  # the trash is not counted
    as_(team, ANN).organise.empty_trash()
    store = team.studio._store
    for table in ("decision", "comment_seen"):
        assert db_execute(store, f"SELECT COUNT(*) FROM {table}") == [(0,)]  # noqa: S608
    assert db_execute(store, "SELECT COUNT(*) FROM comment WHERE generation_id = ?", (a,)) == [(0,)]
    assert [(x.id, x.version_id) for x in dan.review.comments(b)] == [(ask.id, None)]


def test_make_the_next_version_end_to_end(board):
    """The issue's flow through the services: a pinned "changes requested" comment becomes an Edit turn on
    its image with the annotation as a reference; the new version is linked to the comment, is the source's
    child, and shows in the same collection."""
    dan, rita, cid, (_a, b, _c), _outside = board
    ask = rita.review.comment(b, "Make the lid blue", pin={"x": 0.2, "y": 0.2, "w": 0.4, "h": 0.3})
    rita.review.decide(b, "changes")
    nxt = dan.review.next_version(ask.id)
    assert nxt.reference is not None and nxt.reference.data[:8] == b"\x89PNG\r\n\x1a\n"
    [new_id] = dan.editing.continue_(nxt.source_id, nxt.instruction, [nxt.reference])
    dan.review.link_version(nxt.comment_id, new_id)
    [new] = dan.wait([new_id], timeout=30)
    assert new.status == "succeeded" and new.parent_id == b and new.prompt == "Make the lid blue"
    assert len(new.references) == 1  # the annotation went with the instruction
    board_ids = [r.id for r in dan.gallery.page(GalleryFilter(collection_id=cid), limit=50)]
    assert new_id in board_ids and b in board_ids
    assert [c.version_id for c in dan.review.comments(b)] == [new_id]
    assert [r.id for r in dan.gallery.children(b)] == [new_id]  # before/after: the source's next version


def test_two_reviewers_deciding_at_once_leave_the_log_and_the_status_agreeing(board, team):
    """Two processes (two stores, two connection pools) decide on the same generation at the same moment,
    many times: after each round the log's newest entry is the generation's status, on both backends
    (PostgreSQL runs the two transactions truly at once)."""
    import os
    import threading
    from pathlib import Path

    from tests.stores import open_store

    _dan, _rita, cid, (a, _b, _c), _outside = board
    stores = [team.studio._store, open_store(Path(os.environ["STUDIO_DATA_DIR"]))]
    try:
        for round_ in range(40):
            barrier = threading.Barrier(2)
            errors: list[BaseException] = []

            def decide(
                store: Store,
                status: str,
                by: str,
                barrier: threading.Barrier = barrier,
                errors: list[BaseException] = errors,
            ) -> None:
                try:
                    barrier.wait(timeout=30)
                    store.review.decide(a, status, by, cid)
                except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                    errors.append(exc)

            threads = [
                threading.Thread(target=decide, args=(stores[0], "approved", RITA)),
                threading.Thread(target=decide, args=(stores[1], "rejected", EVE)),
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
            assert errors == []
            log = stores[1].review.decisions(a)
            assert len(log) == 2 * (round_ + 1)
            newest = log[-1]
            assert stores[0].generations.get(a).review_status == newest.status, f"round {round_}"
            assert [d.at for d in log] == sorted(d.at for d in log)  # the log's times run with its order
    finally:
        stores[1].close()


def test_the_next_version_follows_its_source_when_the_comment_s_collection_changed(board):
    """A comment remembers the collection it was made in (no foreign key): when the source has moved to
    another collection, or that collection is deleted, the next version goes where the source is now, and
    linking never fails after the version (already paid for) exists."""
    dan, rita, cid, (_a, b, c), _outside = board
    ask = rita.review.comment(b, "Make the lid blue")
    assert ask.collection_id == cid
    moved = dan.organise.create_collection("Moved teapots")
    dan.organise.add_to_collection([b], moved)
    dan.organise.remove_from_collection([b], cid)
    new = make(dan, "a teapot with a blue lid")
    dan.review.link_version(ask.id, new)

    def members(collection_id: int) -> set[int]:
        return {r.id for r in dan.gallery.page(GalleryFilter(collection_id=collection_id), limit=50)}

    assert new in members(moved) and new not in members(cid)

    again = rita.review.comment(c, "And a red one")
    dan.organise.add_to_collection([c], moved)
    dan.organise.delete_collection(cid)
    newer = make(dan, "a red teapot")
    dan.review.link_version(again.id, newer)  # the comment's collection is gone: no foreign-key error
    assert newer in members(moved)
    assert next(x for x in dan.review.comments(c) if x.id == again.id).version_id == newer


def test_revision_0004_indexes_what_its_cascades_look_up(team):
    """Deleting a comment cascades to its replies (``parent_id``) and read marks (``comment_seen.comment_id``);
    deleting a generation clears ``comment.version_id``: each is looked up by an index, not a table scan."""
    from sqlalchemy import inspect

    engine = team.studio._store.db.engine
    indexed = {
        (table, tuple(ix["column_names"])[0])
        for table in ("comment", "comment_seen")
        for ix in inspect(engine).get_indexes(table)
    }
    assert {("comment", "parent_id"), ("comment", "version_id"), ("comment_seen", "comment_id")} <= indexed


def test_reviewers_never_review_the_trash_nor_count_collections_not_shared(board, team):
    """The trash is the designers': a reviewer cannot decide, comment or read the review of a trashed
    generation (even in a collection shared with them), and a collection not shared with them does not
    exist for them, even to count."""
    dan, rita, cid, (a, b, _c), _outside = board
    note = rita.review.comment(a, "before the trash")
    dan.organise.trash([a])
    for attempt in (
        lambda: rita.review.decide(a, "approved"),
        lambda: rita.review.comment(a, "in the trash"),
        lambda: rita.review.comments(a),
        lambda: rita.review.decisions(a),
        lambda: rita.review.resolve(note.id, True),
    ):
        with pytest.raises(InputError, match="not in the history"):
            attempt()
    assert rita.review.decide(b, "approved").status == "approved"  # live ones as before
    assert dan.review.decide(a, "rejected").by == DAN  # designers keep the trash in view
    assert [x.id for x in dan.review.comments(a)] == [note.id]

    hidden = dan.organise.create_collection("Not for Rita")
    dan.organise.add_to_collection([b], hidden)
    assert dan.review.counts(hidden).approved == 1
    for unknown in (hidden, cid + 1000):
        with pytest.raises(InputError, match="does not exist"):
            rita.review.counts(unknown)
    assert rita.review.counts(cid).approved == 1  # b; a is in the trash
