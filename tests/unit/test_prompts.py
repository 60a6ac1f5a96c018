from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from studio.domain import prompts
from studio.domain.errors import InputError

_value = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=40).map(
    lambda s: " ".join(s.split())
)
_fields = st.dictionaries(st.sampled_from([k for k, _ in prompts.FIELDS]), _value)


@given(_fields)
def test_structured_prompt_round_trips(fields):
    text = prompts.assemble(fields)
    parsed, extra = prompts.parse(text)
    assert parsed == {k: v for k, v in fields.items() if v}
    assert extra == ""


def test_assemble_orders_fields_and_keeps_free_text_first():
    text = prompts.assemble({"lighting": "golden hour", "subject": "a red fox"}, extra="Editorial photo")
    assert text == "Editorial photo\nSubject: a red fox\nLighting: golden hour"
    assert prompts.parse(text) == ({"subject": "a red fox", "lighting": "golden hour"}, "Editorial photo")


def test_parse_keeps_unlabelled_lines_as_extra():
    fields, extra = prompts.parse("A cat on a sofa\nStyle: gouache\nnote: keep it warm")
    assert fields == {"style": "gouache"}
    assert extra == "A cat on a sofa note: keep it warm"


def test_template_variables_in_order_and_escapes():
    template = "a {animal} in {style} style, {{not a var}}, another {animal}"
    assert prompts.variables(template) == ["animal", "style"]
    assert prompts.fill(template, {"animal": "fox", "style": "ukiyo-e"}) == (
        "a fox in ukiyo-e style, {not a var}, another fox"
    )


def test_template_refuses_attribute_access_and_missing_values():
    assert prompts.variables("{x.__class__} {y[0]}") == []
    assert prompts.fill("{x.__class__}", {}) == "{x.__class__}"
    with pytest.raises(InputError, match=r"\{style\}"):
        prompts.fill("a {animal} in {style}", {"animal": "fox"})


@given(st.dictionaries(st.sampled_from("abcd"), st.lists(st.integers(), max_size=3), max_size=4))
def test_matrix_expansion_is_the_cartesian_product(axes):
    cells = prompts.expand(axes)
    assert len(cells) == prompts.cell_count(axes)
    if all(len(set(v)) == len(v) for v in axes.values()):
        assert len({tuple(sorted(c.items())) for c in cells}) == len(cells)
    for cell in cells:
        for name, value in cell.items():
            assert value in axes[name]


def test_presets_append_once():
    assert prompts.apply_presets("a fox", ["35mm lens", "a fox", "35mm lens"]) == "a fox, 35mm lens"
    out = prompts.apply_presets("a fox, 35mm lens", ["35mm lens", "soft light"])
    assert out == "a fox, 35mm lens, soft light"
