"""Budgets on both backends: each submission reserves its estimate in the transaction that writes its rows,
a final row counts its actual cost, a submission that does not fit is one ``refused`` row with a sentence,
and threads racing for the last room never pass the cap."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from studio.domain.errors import OverBudget
from studio.domain.requests import GenerationRequest
from studio.domain.settings import load_settings
from studio.services import budgets
from studio.services.studio import Studio
from studio.storage.spend_repo import BudgetLimits, SpendRepository, month_bounds, stamp
from tests.stores import db_execute, open_store

EST = 0.25


@pytest.fixture
def store(backend, tmp_path):
    s = open_store(tmp_path / "data")
    yield s
    s.close()


def limits(
    person: float | None = None, team: float | None = None, now: datetime | None = None
) -> BudgetLimits:
    return BudgetLimits(
        person, team, month_bounds(now or datetime.now(UTC))[0], explain=budgets.refusal_sentence
    )


def submit(store, *, count=1, author="ann@studio.test", limit=None, est=EST, prompt="a teapot"):
    return store.generations.create_pending_many(
        count=count,
        author=author,
        private=False,
        estimate_usd=est,
        limits=limit,
        prompt=prompt,
        model="gemini-2.5-flash-image",
        settings={"aspect_ratio": "1:1"},
        owner="test-owner",
    )


def used(store, author: str | None = "ann@studio.test", now: datetime | None = None) -> float:
    start, end = month_bounds(now or datetime.now(UTC))
    return SpendRepository(store.db).month(since=start, until=end, author=author).used_usd


def test_rows_reserve_their_estimate_and_a_submission_that_does_not_fit_is_one_refused_row(store):
    ids = submit(store, count=3, limit=limits(person=1.0))
    assert len(ids) == 3
    rows = [store.generations.get(i) for i in ids]
    assert [r.status for r in rows] == ["pending"] * 3
    assert [r.variant_index for r in rows] == [0, 1, 2]
    assert db_execute(store, "SELECT DISTINCT author, estimate_usd FROM generation") == [
        ("ann@studio.test", EST)
    ]
    assert used(store) == pytest.approx(0.75)

    with pytest.raises(OverBudget) as caught:
        submit(store, count=2, limit=limits(person=1.0))
    sentence = "This needs about $0.50 but only $0.25 is left of your $1.00 budget this month. Ask an admin to raise it."
    assert caught.value.message == sentence
    assert caught.value.kind == "budget"
    refused = store.generations.get(caught.value.generation_id)
    assert (refused.status, refused.error_kind, refused.error_message) == ("refused", "budget", sentence)
    assert db_execute(store, "SELECT count(*) FROM generation") == [(4,)]  # one row for the refusal
    assert used(store) == pytest.approx(0.75)  # a refusal reserves nothing

    assert len(submit(store, count=1, limit=limits(person=1.0))) == 1  # exactly the room that was left
    assert used(store) == pytest.approx(1.0)


def test_references_are_saved_once_and_linked_to_every_row(store, png_bytes):
    from studio.imaging import images

    ids = store.generations.create_pending_many(
        count=2,
        author="local",
        private=True,
        estimate_usd=0.1,
        limits=None,
        prompt="p",
        model="gemini-2.5-flash-image",
        settings={},
        owner="o",
        references=(images.sanitize_upload(png_bytes, "ref.png"),),
        first_variant=3,
    )
    rows = [store.generations.get(i) for i in ids]
    assert [len(r.references) for r in rows] == [1, 1]
    assert rows[0].references[0].sha256 == rows[1].references[0].sha256
    assert [r.variant_index for r in rows] == [3, 4]
    assert db_execute(store, "SELECT count(*) FROM asset") == [(1,)]
    assert db_execute(store, "SELECT count(*) FROM generation WHERE private") == [(2,)]


def test_final_rows_count_their_actual_cost_not_their_estimate(store):
    from studio.domain.errors import StudioError

    a, b, c, d = submit(store, count=4, limit=limits(person=1.0))
    assert used(store) == pytest.approx(1.0)
    store.generations.save_failure(a, status="failed", error=StudioError("the endpoint said no"))
    store.generations.set_status(b, "cancelled")
    store.generations.interrupt_owned("test-owner")  # c and d: a stop gave up on them
    assert used(store) == pytest.approx(0.0)  # nothing was charged for any of them
    db_execute(store, "UPDATE generation SET status = 'succeeded', cost_usd = 0.4 WHERE id = ?", (c,))
    assert used(store) == pytest.approx(0.4)  # settled to what it actually cost
    assert len(submit(store, count=2, limit=limits(person=1.0))) == 2  # 0.4 + 0.5 fits under 1.00
    with pytest.raises(OverBudget, match=r"only \$0.10 is left"):
        submit(store, limit=limits(person=1.0))


def test_the_team_cap_counts_everyone_and_says_so(store):
    submit(store, count=2, author="ann@studio.test", limit=limits(person=5.0, team=1.0))
    submit(store, count=1, author="bob@studio.test", limit=limits(person=5.0, team=1.0))
    with pytest.raises(OverBudget) as caught:
        submit(store, count=2, author="bob@studio.test", limit=limits(person=5.0, team=1.0))
    assert caught.value.message.startswith(
        "This needs about $0.50 but only $0.25 is left of the team's $1.00 budget this month."
    )
    assert used(store, author=None) == pytest.approx(0.75)
    assert used(store, author="bob@studio.test") == pytest.approx(0.25)
    # the tightest cap is the one named: bob's own budget leaves less than the team's
    with pytest.raises(OverBudget, match=r"of your \$0.30 budget"):
        submit(store, count=1, author="bob@studio.test", limit=limits(person=0.30, team=1.0))


def test_a_new_month_starts_from_zero(store):
    submit(store, count=4, limit=limits(person=1.0))
    with pytest.raises(OverBudget):
        submit(store, limit=limits(person=1.0))
    now = datetime.now(UTC)
    next_month = datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, tzinfo=UTC)
    assert len(submit(store, limit=limits(person=1.0, now=next_month))) == 1
    # rows of last month no longer count this month
    last_month = stamp(datetime(2020, 1, 31, 23, 59, 59, tzinfo=UTC))
    db_execute(store, "UPDATE generation SET created_at = ?", (last_month,))
    assert used(store) == 0
    assert len(submit(store, count=4, limit=limits(person=1.0))) == 4


def test_refused_rows_show_in_facets_totals_and_history(store):
    with pytest.raises(OverBudget) as caught:
        submit(store, count=1, limit=limits(person=0.1), prompt="too dear")
    assert ("refused", 1) in store.gallery.facets()["status"]
    assert store.gallery.count(status="refused") == 1
    assert store.gallery.totals()["count"] == 1
    page = store.gallery.page(status="refused")
    assert [r.id for r in page] == [caught.value.generation_id]
    assert page[0].to_json()["error"]["kind"] == "budget"


def test_threads_racing_for_the_last_room_never_pass_the_cap(store):
    n, fits = 12, 5
    barrier = threading.Barrier(n)
    outcomes: list[str] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        barrier.wait()
        try:
            submit(
                store, author="ann@studio.test", limit=limits(person=fits * EST + EST / 2), prompt=f"race {i}"
            )
            result = "sent"
        except OverBudget:
            result = "refused"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["refused"] * (n - fits) + ["sent"] * fits
    assert db_execute(store, "SELECT status, count(*) FROM generation GROUP BY status ORDER BY status") == [
        ("pending", fits),
        ("refused", n - fits),
    ]


# -- through the Studio: the emulator, real calls, the budget line -------------------------------------------


def test_studio_refuses_before_sending_and_settles_to_the_actual_cost(backend, studio_env, monkeypatch):
    monkeypatch.setenv("STUDIO_TEAM_BUDGET", "0.10")  # fits two calls of gemini-2.5-flash-image ($0.039)
    studio = Studio(load_settings())
    try:
        req = GenerationRequest(prompt="budget settles", model="gemini-2.5-flash-image")
        first = studio.generate(req)
        second = studio.generate(req)
        assert [r.status for r in first + second] == ["succeeded", "succeeded"]
        assert db_execute(studio._store, "SELECT DISTINCT author FROM generation") == [("local",)]
        before = len([r for r in studio_env.requests if r["path"].endswith(":generateContent")])
        with pytest.raises(OverBudget) as caught:
            studio.generate(req)
        after = len([r for r in studio_env.requests if r["path"].endswith(":generateContent")])
        assert after == before  # nothing was sent
        assert caught.value.message == (
            "This needs about $0.039 but only $0.022 is left of this studio's $0.10 budget this month "
            "(STUDIO_TEAM_BUDGET). Raise it to generate more."
        )
        refused = studio.get(caught.value.generation_id)
        assert refused.status == "refused" and refused.error_kind == "budget"
        assert [r.id for r in studio.history(status="refused")] == [refused.id]
        spent = sum(r.cost_usd for r in first + second)
        assert used(studio._store, author=None) == pytest.approx(spent)
    finally:
        studio.close()


def test_a_person_budget_applies_in_team_mode(backend, studio_env, monkeypatch):
    from studio.services.accounts import operator_people

    monkeypatch.setenv("STUDIO_LOGIN", "proxy")
    monkeypatch.setenv("STUDIO_PROXY_SECRET", "s3cret-for-tests")
    monkeypatch.setenv("STUDIO_TEAM_BUDGET", "100")
    settings = load_settings()
    with operator_people(settings) as people:
        people.add("ann@studio.test", budget_usd=0.05)
        people.add("bob@studio.test")  # no personal budget
    studio = Studio(settings)
    try:
        ann = studio.session(studio.sign_in("ann@studio.test"))
        req = GenerationRequest(prompt="mine", model="gemini-2.5-flash-image")
        assert ann.budget_line() == "$0.00 of $0.05 used this month"
        [gen_id] = ann.submit(req, private=True)
        assert ann.budget_line() == "$0.04 of $0.05 used this month"  # reserved while it runs
        [record] = ann.wait([gen_id])
        assert (record.status, record.author, record.private) == ("succeeded", "ann@studio.test", True)
        with pytest.raises(OverBudget, match=r"only \$0.011 is left of your \$0.05 budget"):
            ann.submit(req)
        # someone without a personal budget is held only by the team's cap, and sees its line
        bob = studio.session(studio.sign_in("bob@studio.test"))
        assert len(bob.submit(replace(req, variants=3))) == 3
        assert bob.budget_line() == "$0.16 of the team's $100.00 used this month"
    finally:
        studio.close()


def test_a_refusal_shows_in_studio_history_json(backend, studio_env, monkeypatch, capsys):
    import json

    from studio.cli.main import main

    monkeypatch.setenv("STUDIO_TEAM_BUDGET", "0.01")
    assert main(["generate", "too dear for the cap", "--model", "gemini-2.5-flash-image", "--json"]) == 1
    capsys.readouterr()
    assert main(["history", "--json"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    record = json.loads(line)
    assert (record["status"], record["error"]["kind"], record["author"]) == ("refused", "budget", "local")
    assert record["error"]["message"].startswith("This needs about $0.039 but only $0.01 is left")


# -- the spend report (Admin) ---------------------------------------------------------------------------------


def test_the_spend_report_by_day_person_and_model_with_csv(backend, studio_env, monkeypatch):
    from studio.domain.errors import NotAllowed
    from studio.services.accounts import operator_people

    monkeypatch.setenv("STUDIO_LOGIN", "proxy")
    monkeypatch.setenv("STUDIO_PROXY_SECRET", "s3cret-for-tests")
    settings = load_settings()
    with operator_people(settings) as people:
        people.add("boss@studio.test", role="admin")
        people.add("ann@studio.test", budget_usd=1.0)
    studio = Studio(settings)
    try:
        boss = studio.session(studio.sign_in("boss@studio.test"))
        ann = studio.session(studio.sign_in("ann@studio.test"))
        flash = GenerationRequest(prompt="teapot", model="gemini-2.5-flash-image", variants=2)
        ann.generate(flash)
        boss.generate(replace(flash, model="gemini-3-pro-image", variants=1))
        ann.generate(replace(flash, prompt="[[fault:500]] broken", variants=1))
        with pytest.raises(OverBudget):
            ann.submit(replace(flash, model="gemini-3-pro-image", variants=8))
        # last month's work is outside the period
        db_execute(
            studio._store,
            "INSERT INTO generation (created_at, updated_at, status, model, author, cost_usd) "
            "VALUES ('2020-01-02T10:00:00.000000+00:00', '2020-01-02T10:00:00.000000+00:00', 'succeeded', "
            "'gemini-3-pro-image', 'ann@studio.test', 9.0)",
        )
        today = datetime.now(UTC).date()
        rows = boss.spend.report(today, today)
        by_key = {(r.person, r.model): r for r in rows}
        assert set(by_key) == {
            ("ann@studio.test", "gemini-2.5-flash-image"),
            ("ann@studio.test", "gemini-3-pro-image"),
            ("boss@studio.test", "gemini-3-pro-image"),
        }
        ann_flash = by_key[("ann@studio.test", "gemini-2.5-flash-image")]
        assert (ann_flash.day, ann_flash.images, ann_flash.failures, ann_flash.generations) == (
            today.isoformat(),
            2,
            1,
            3,
        )
        assert ann_flash.spend_usd == pytest.approx(2 * 0.039, abs=1e-4)
        assert ann_flash.tokens > 0
        refused = by_key[("ann@studio.test", "gemini-3-pro-image")]
        assert (refused.spend_usd, refused.failures, refused.generations) == (0, 1, 1)
        assert by_key[("boss@studio.test", "gemini-3-pro-image")].spend_usd == pytest.approx(0.134, abs=1e-4)

        text = boss.spend.csv(rows)
        lines = text.splitlines()
        assert lines[0] == "day,person,model,spend_usd,images,tokens,failures,generations"
        assert f"{today.isoformat()},ann@studio.test,gemini-2.5-flash-image,0.0780,2," in text
        assert len(lines) == 4

        month = ann.spend.month()
        assert (month.used_usd, month.reserved_usd, month.limit_usd) == (
            pytest.approx(0.078, abs=1e-4),
            0,
            1.0,
        )
        assert ann.spend.line() == "$0.08 of $1.00 used this month"
        assert boss.spend.month("ann@studio.test").limit_usd == 1.0  # an admin reads anyone's month
        for forbidden in (
            lambda: ann.spend.report(today, today),
            lambda: ann.spend.csv(rows),
            lambda: ann.spend.month("boss@studio.test"),
        ):
            with pytest.raises(NotAllowed):
                forbidden()
        from studio.domain.errors import InputError

        with pytest.raises(InputError, match="ends before it starts"):
            boss.spend.report(today, today.replace(year=today.year - 1))
    finally:
        studio.close()


def test_rows_another_process_adopts_or_interrupts_settle_too(store):
    """A process killed mid-call leaves active rows reserving their estimate; whoever claims them settles
    them: adopted from the journal (its image was saved) at its cost, interrupted at nothing."""
    from studio.storage import journal
    from tests.factories import make_image

    saved, lost = submit(store, count=2, limit=limits(person=1.0))
    assert used(store) == pytest.approx(0.5)
    stored = store.generations._save_image(make_image())
    journal.write(store.generations.journals, saved, {"latency_ms": 7, "cost_usd": 0.2}, [stored], [])
    adopted, interrupted = store.generations.claim_orphans(lambda owner: False)
    assert (adopted, interrupted) == ([saved], [lost])
    assert used(store) == pytest.approx(0.2)
    assert len(submit(store, count=3, limit=limits(person=1.0))) == 3  # 0.2 + 0.75 fits under 1.00


def test_an_image_paid_for_but_unreadable_counts_its_cost(store):
    """The endpoint charged for an image whose bytes could not be read: the row fails, and its cost counts."""
    from studio.domain.requests import ImagePart, Outcome

    [gen_id] = submit(store, limit=limits(person=1.0))
    outcome = Outcome(images=[ImagePart(b"not an image at all", "image/png")], finish_reason="STOP")
    record = store.generations.save_success(gen_id, outcome, latency_ms=5, cost_usd=0.3)
    assert (record.status, record.error_kind, record.cost_usd) == ("failed", "bad_response", 0.3)
    assert used(store) == pytest.approx(0.3)


def test_a_month_is_read_under_the_stored_spelling_of_the_address(backend, studio_env, monkeypatch):
    """People are stored under one spelling (trimmed, lower case): a month asked for as typed is theirs,
    for the person themself and for an admin, never an empty month of a spelling no row carries."""
    from studio.domain.errors import InputError
    from studio.services.accounts import operator_people

    monkeypatch.setenv("STUDIO_LOGIN", "proxy")
    monkeypatch.setenv("STUDIO_PROXY_SECRET", "s3cret-for-tests")
    settings = load_settings()
    with operator_people(settings) as people:
        people.add("boss@studio.test", role="admin")
        people.add("ann@studio.test", budget_usd=1.0)
    studio = Studio(settings)
    try:
        boss = studio.session(studio.sign_in("boss@studio.test"))
        ann = studio.session(studio.sign_in("ann@studio.test"))
        [record] = ann.generate(GenerationRequest(prompt="spelled", model="gemini-2.5-flash-image"))
        assert record.cost_usd == pytest.approx(0.039, abs=1e-3)
        own = ann.spend.month()
        assert own.used_usd == pytest.approx(record.cost_usd)
        assert ann.spend.month(" ANN@Studio.test ") == own  # her own month, however she types it
        assert boss.spend.month("Ann@STUDIO.test") == own
        assert boss.spend.line(" ann@studio.TEST") == "$0.04 of $1.00 used this month"
        with pytest.raises(InputError, match="not an email address"):
            boss.spend.month("ann at studio")
    finally:
        studio.close()


# -- replies without an image are billed too: the budget settles to their usage -----------------------------


def test_a_reply_without_an_image_is_priced_from_its_usage():
    """Tokens the endpoint reports are billed whether or not an image came back: input at the catalogue's
    text rate, text and thinking at its output rate, image tokens at the image's price per token. A reply
    that reports no usage is priced as the input part of the estimate."""
    from studio.domain import catalogue

    spec = catalogue.lookup("gemini-3-pro-image")
    usage = {
        "promptTokenCount": 1000,
        "candidatesTokenCount": 1120 + 40,
        "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1120}],
        "thoughtsTokenCount": 160,
    }
    cost = catalogue.reply_usd("gemini-3-pro-image", usage, size="1K", references=0, prompt_chars=10)
    expected = 1000 * 2.0 / 1e6 + 200 * spec.usd_per_m_text_out / 1e6 + spec.price("1K")
    assert cost == pytest.approx(expected, abs=1e-6)
    assert cost > 0.134  # the image tokens alone are the list price of one image
    blocked = catalogue.reply_usd(
        "gemini-2.5-flash-image", {"promptTokenCount": 4000}, size=None, references=2, prompt_chars=9
    )
    assert blocked == pytest.approx(4000 * 0.30 / 1e6)
    # no usage in the reply: what the estimate charges for the input (references and prompt text)
    silent = catalogue.reply_usd("gemini-2.5-flash-image", {}, size=None, references=2, prompt_chars=4000)
    assert silent == pytest.approx(2 * 0.0004 + 1000 * 0.30 / 1e6)
    assert silent < catalogue.estimate("gemini-2.5-flash-image", size=None, ratio=None, references=2).usd


@pytest.mark.parametrize("fault", ["blocked", "image_safety", "no_image", "text_only"])
def test_blocked_and_imageless_replies_count_what_their_tokens_cost(backend, studio_env, fault):
    from studio.domain import catalogue

    studio = Studio(load_settings())
    try:
        req = GenerationRequest(
            prompt=f"[[fault:{fault}]] an owl " + "in detail " * 50, model="gemini-3-pro-image"
        )
        [record] = studio.generate(req)
        assert record.status in ("blocked", "no_image")
        prompt_tokens = record.usage["promptTokenCount"]
        assert prompt_tokens > 100
        priced = catalogue.reply_usd(
            "gemini-3-pro-image", record.usage, size=None, references=0, prompt_chars=len(req.prompt)
        )
        assert record.cost_usd == pytest.approx(priced) and priced >= prompt_tokens * 2.0 / 1e6
        assert used(studio._store, author=None) == pytest.approx(record.cost_usd)
    finally:
        studio.close()


def test_an_interrupted_call_that_was_sent_keeps_its_estimate(store):
    """A row interrupted while its call was out (``running``: the request had been sent) may have been
    billed although no image came back: it counts its estimate as its cost, in the month and the report.
    A row interrupted before it was sent (``pending``) was not: it counts nothing."""
    sent, queued = submit(store, count=2, limit=limits(person=1.0))
    store.generations.mark_running(sent)
    assert store.generations.interrupt_owned("test-owner") == [sent, queued]
    assert store.generations.get(sent).cost_usd == pytest.approx(EST)
    assert store.generations.get(queued).cost_usd is None
    assert used(store) == pytest.approx(EST)
    today = datetime.now(UTC).date()
    [row] = SpendRepository(store.db).report(today, today)
    assert (row.spend_usd, row.failures) == (pytest.approx(EST), 2)
    # the same on a restart that finds a dead owner's rows
    again = submit(store, count=1, limit=limits(person=1.0))[0]
    store.generations.mark_running(again)
    assert store.generations.claim_orphans(lambda owner: False) == ([], [again])
    assert used(store) == pytest.approx(2 * EST)
    with pytest.raises(OverBudget, match=r"only \$0.50 is left"):
        submit(store, count=3, limit=limits(person=1.0))


def test_a_call_that_may_have_been_billed_counts_its_estimate(backend, studio_env, monkeypatch):
    """A time-out after the request was sent, and a cancel while waiting for the endpoint, say "the server
    may still bill the image": each row counts its estimate in the month and the report, so a budget is not
    passed by calls that may have cost money. A cancel before anything was sent counts nothing."""
    import time

    from studio.domain import catalogue

    estimate = catalogue.estimate("gemini-2.5-flash-image", size=None, ratio=None).usd
    monkeypatch.setenv("STUDIO_READ_TIMEOUT", "0.5")
    studio = Studio(load_settings())
    try:
        [timed_out] = studio.generate(
            GenerationRequest(prompt="a slow owl [[latency:3]]", model="gemini-2.5-flash-image")
        )
        assert (timed_out.status, timed_out.error_kind) == ("failed", "timeout")
        assert timed_out.cost_usd == pytest.approx(estimate) and estimate > 0
    finally:
        studio.close()
    monkeypatch.delenv("STUDIO_READ_TIMEOUT")
    studio = Studio(load_settings())
    try:
        [waiting] = studio.submit(
            GenerationRequest(prompt="a slower owl [[latency:5]]", model="gemini-2.5-flash-image")
        )
        deadline = time.monotonic() + 10
        while studio.get(waiting).status != "running":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(0.2)  # the request is out
        assert studio.cancel(waiting)
        studio.wait([waiting], timeout=10)
        cancelled = studio.get(waiting)
        assert cancelled.status == "cancelled" and "may still bill" in (cancelled.error_message or "")
        assert cancelled.cost_usd == pytest.approx(estimate)
        assert used(studio._store, author=None) == pytest.approx(timed_out.cost_usd + cancelled.cost_usd)
        today = datetime.now(UTC).date()
        [row] = SpendRepository(studio._store.db).report(today, today)
        assert row.spend_usd == pytest.approx(timed_out.cost_usd + cancelled.cost_usd)
    finally:
        studio.close()


def test_emptying_the_trash_never_gives_budget_back(store):
    """Spend is a sum over the month's rows, and emptying the trash deletes rows: what they cost is kept
    (``removed_spend``), so the budget check and the spend report still count it. A row that cost nothing
    adds nothing; an imported row (another studio's cost) is not this studio's spend before or after."""
    paid, free = submit(store, count=2, limit=limits(person=1.0))
    db_execute(
        store,
        "UPDATE generation SET status = 'succeeded', cost_usd = 0.4, total_tokens = 1290 WHERE id = ?",
        (paid,),
    )
    store.generations.set_status(free, "cancelled")
    today = datetime.now(UTC).date()
    before = SpendRepository(store.db).report(today, today)
    assert used(store) == pytest.approx(0.4)
    store.trash_bin.trash([paid, free])
    report = store.trash_bin.empty_trash()
    assert report.generations == 2 and store.generations.get(paid) is None
    assert used(store) == pytest.approx(0.4)  # still spent this month
    assert used(store, author=None) == pytest.approx(0.4)
    assert SpendRepository(store.db).report(today, today) == before  # the same lines, images and tokens
    with pytest.raises(OverBudget, match=r"only \$0.60 is left"):
        submit(store, count=3, limit=limits(person=1.0))
