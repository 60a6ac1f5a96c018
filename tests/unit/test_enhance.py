from __future__ import annotations

import pytest

from studio.domain.errors import BadResponse
from studio.gemini.enhance import proposals_from_text


@pytest.mark.parametrize(
    "answer",
    [
        '["a fox at dawn", "a fox at dusk", "a fox in snow"]',
        '```json\n["a fox at dawn", "a fox at dusk", "a fox in snow"]\n```',
        '{"prompts": ["a fox at dawn", "a fox at dusk", "a fox in snow"]}',
        "1. a fox at dawn\n2. a fox at dusk\n3) a fox in snow",
    ],
)
def test_proposals_are_read_from_common_answer_shapes(answer):
    assert proposals_from_text(answer, 3) == ["a fox at dawn", "a fox at dusk", "a fox in snow"]


def test_unreadable_answer_is_a_clear_error():
    with pytest.raises(BadResponse, match="unchanged"):
        proposals_from_text("[]", 3)
