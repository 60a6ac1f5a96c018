"""Prompt enhancement against the emulator: three proposals, and a failure that changes nothing."""

from __future__ import annotations

import pytest

from studio.domain.errors import InputError, StudioError


def test_enhance_returns_three_distinct_proposals(studio):
    proposals = studio.enhance("a lighthouse in a storm")
    assert len(proposals) == 3 and len(set(proposals)) == 3
    assert all(p.strip() for p in proposals)


def test_a_failing_enhancement_raises_a_sentence_and_changes_nothing(studio):
    idea = "[[fault:500]] a lighthouse in a storm"
    prompt = idea
    with pytest.raises(StudioError) as caught:
        prompt = studio.enhance(idea)[0]
    assert prompt == idea
    assert caught.value.message and "Traceback" not in caught.value.message
    with pytest.raises(InputError, match="Write an idea first"):
        studio.enhance("   ")
