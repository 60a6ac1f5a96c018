"""History pages over a real store and the real emulator: variants stacked by submission, a submission never
split across pages, the "Newer" cursor, ← → neighbours under a filter, and thumbnails by sha256 only."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from studio.domain.requests import GenerationRequest
from studio.services.gallery import GalleryFilter, group_variants

pytestmark = pytest.mark.usefixtures("backend")

FLASH = "gemini-2.5-flash-image"


def _submit(studio, prompt: str, variants: int = 1) -> list[int]:
    return [
        r.id
        for r in studio.generate(GenerationRequest(prompt=prompt, model=FLASH, variants=variants), timeout=30)
    ]


def test_variants_of_one_submission_stack_and_failures_are_apart(studio):
    lone = _submit(studio, "a lone kite")
    trio = _submit(studio, "a trio of kites", variants=3)
    failed = _submit(studio, "[[fault:blocked]] a forbidden kite")
    again = _submit(studio, "a trio of kites")  # the same prompt, a new submission: its own tile
    page = studio.gallery.grouped_page(limit=48)
    assert [[r.id for r in g] for g in page.groups] == [again, trio, lone]  # newest first, variant 0 first
    assert [r.id for r in page.missing] == failed
    assert page.ids == sorted(lone + trio + failed + again, reverse=True)
    assert page.older is None and not page.has_newer
    # a filter that hides a variant leaves the others stacked
    studio._store.organise.set_favourite([trio[0], trio[2]], True)
    fav = studio.gallery.grouped_page(GalleryFilter(favourite=True))
    assert [[r.id for r in g] for g in fav.groups] == [[trio[0], trio[2]]]


def test_a_page_never_splits_a_submission_and_pages_back_and_forth(studio):
    first = _submit(studio, "first")
    trio = _submit(studio, "three at once", variants=3)
    last = _submit(studio, "last")
    page = studio.gallery.grouped_page(limit=3)  # last + two of the trio would split it
    assert [[r.id for r in g] for g in page.groups] == [last]
    assert page.older == last[0] and not page.has_newer
    second = studio.gallery.grouped_page(limit=3, before_id=page.older)
    assert [[r.id for r in g] for g in second.groups] == [trio]
    assert second.has_newer and second.newer == trio[-1]  # "Newer": the page just above the trio
    assert studio.gallery.grouped_page(limit=3, after_id=second.newer).ids == page.ids
    third = studio.gallery.grouped_page(limit=3, before_id=second.older)
    assert [[r.id for r in g] for g in third.groups] == [first] and third.older is None
    assert third.has_newer and third.newer == first[0]
    up = studio.gallery.grouped_page(limit=3, after_id=third.newer)  # #first and two of the trio: split
    assert [[r.id for r in g] for g in up.groups] == [trio] and up.older == trio[0]


def test_neighbours_walk_the_filters_results(studio):
    a = _submit(studio, "a red kite")[0]
    _submit(studio, "a whale")
    b = _submit(studio, "a blue kite")[0]
    c = _submit(studio, "a green kite")[0]
    kites = GalleryFilter(search="kite")
    assert studio.gallery.neighbours(kites, b) == (c, a)
    assert studio.gallery.neighbours(kites, c) == (None, b)
    assert studio.gallery.neighbours(kites, a) == (b, None)
    assert studio.gallery.neighbours(GalleryFilter(), a) == (a + 1, None)


def test_thumbnails_are_served_by_sha256_only(studio):
    gen_id = _submit(studio, "a kite")[0]
    image = studio.get(gen_id).images[0]
    path = studio.gallery.thumbnail_file(image.sha256)
    assert path is not None and path == image.thumb_path and path.read_bytes()[:3] == b"\xff\xd8\xff"
    for bad in ("../studio.db", image.sha256.upper(), image.sha256[:-1], "0" * 64, "", f"{image.sha256}/x"):
        assert studio.gallery.thumbnail_file(bad) is None
    studio.organise.trash([gen_id])  # a trashed generation's thumbnail is not served
    assert studio.gallery.thumbnail_file(image.sha256) is None


def test_group_variants_needs_consecutive_ids_and_the_same_request(studio):
    trio = studio.gallery.records(_submit(studio, "same", variants=3))
    newest_first = list(reversed(trio))
    assert [[r.id for r in g] for g in group_variants(newest_first)] == [[r.id for r in trio]]
    other = studio.gallery.records(_submit(studio, "other", variants=2))
    mixed = [other[1], trio[2], trio[1], other[0]]  # ids out of step: nothing joins across submissions
    assert [len(g) for g in group_variants(mixed)] == [1, 2, 1]


def test_a_submission_is_its_variants_only(studio):
    before = _submit(studio, "same prompt")
    trio = _submit(studio, "same prompt", variants=3)
    after = _submit(studio, "same prompt")
    for gen_id in trio:
        assert [r.id for r in studio.gallery.submission(studio.get(gen_id))] == trio
    assert [r.id for r in studio.gallery.submission(studio.get(before[0]))] == before
    assert [r.id for r in studio.gallery.submission(studio.get(after[0]))] == after
    studio.organise.trash([trio[1]])
    assert [r.id for r in studio.gallery.submission(studio.get(trio[0]))] == [trio[0], trio[2]]


def _shown(page) -> list[int]:
    return page.ids


def _walk(gallery, f, limit):
    """Older from the first page to the end, then Newer back to the top: the pages of each walk."""
    down = [gallery.grouped_page(f, limit=limit)]
    while down[-1].older is not None:
        down.append(gallery.grouped_page(f, limit=limit, before_id=down[-1].older))
    up = [down[-1]]
    while up[-1].has_newer:
        assert up[-1].newer is not None  # a real cursor, not "back to the first page"
        up.append(gallery.grouped_page(f, limit=limit, after_id=up[-1].newer))
    return down, up


def _no_split(pages, limit: int) -> None:
    """No submission that fits on a page is split across two (a bigger one has to be)."""
    where: dict[int, set[int]] = {}  # a submission's first id -> the pages its variants are on
    size: dict[int, int] = {}
    for n, page in enumerate(pages):
        for group in page.groups:
            base = group[0].id - group[0].variant_index
            where.setdefault(base, set()).add(n)
            size[base] = size.get(base, 0) + len(group)
    split = [base for base, on in where.items() if len(on) > 1 and size[base] <= limit]
    assert not split, f"limit {limit}: submissions {split} split across pages"


@example(stacks=[8] + [0] * 45, limits=[48, 47, 46])  # failure chips above part of 8 variants
@example(stacks=[1, 2, 4, 4, 8] * 12, limits=[48, 7, 5])  # a lived-in history, the grid's page size
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    stacks=st.lists(st.one_of(st.integers(1, 8), st.just(0)), min_size=1, max_size=40),
    limits=st.lists(st.integers(1, 50), min_size=3, max_size=3),
)
def test_walking_older_then_newer_shows_every_generation_once_each_way(studio, stacks, limits):
    """Random stacks (0 = a failure chip) of random sizes, paged with random page sizes: each walk shows
    every generation exactly once, never splits a submission it can keep whole, and each step back
    returns the page one came from."""
    word = f"w{uuid.uuid4().hex[:10]}"  # this example's own generations, found by a search
    ids: list[int] = []
    for n, size in enumerate(stacks):
        prompt = f"[[fault:blocked]] {word} {n}" if size == 0 else f"{word} {n}"
        ids += studio.submit(GenerationRequest(prompt=prompt, model=FLASH, variants=max(size, 1)))
    studio.wait(ids, timeout=120)
    f = GalleryFilter(search=word)
    for limit in [*limits, 8, 48]:
        down, up = _walk(studio.gallery, f, limit)
        for walk in (down, up):
            every = [i for page in walk for i in _shown(page)]
            assert sorted(every) == sorted(ids), f"limit {limit}: ids missing or shown twice"
            _no_split(walk, limit)
        for page in down[1:]:  # Newer then Older comes back to the same page
            above = studio.gallery.grouped_page(f, limit=limit, after_id=page.newer)
            assert studio.gallery.grouped_page(f, limit=limit, before_id=above.older).ids == page.ids
        for page in up[1:]:  # and Older then Newer too
            below = studio.gallery.grouped_page(f, limit=limit, before_id=page.older)
            assert studio.gallery.grouped_page(f, limit=limit, after_id=below.newer).ids == page.ids
