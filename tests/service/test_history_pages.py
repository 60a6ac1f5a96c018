"""History pages over a real store and the real emulator: variants stacked by submission, a submission never
split across pages, the "Newer" cursor, ← → neighbours under a filter, and thumbnails by sha256 only."""

from __future__ import annotations

from studio.domain.requests import GenerationRequest
from studio.services.gallery import GalleryFilter, group_variants

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
    assert second.has_newer and second.newer is None  # "Newer" goes back to the first page
    third = studio.gallery.grouped_page(limit=3, before_id=second.older)
    assert [[r.id for r in g] for g in third.groups] == [first] and third.older is None
    assert third.has_newer and third.newer == trio[0] + 3  # the 3 ids above #first start below this cursor


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
