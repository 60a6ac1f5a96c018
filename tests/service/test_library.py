"""The prompt library: templates and presets on the real SQLite history."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from studio.domain import prompts
from studio.domain.errors import InputError
from studio.services import templates as library
from studio.services.access import Access
from studio.services.templates import TemplateService
from tests.stores import open_store

pytestmark = pytest.mark.usefixtures("backend")

NAME = st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True)
VALUE = st.text(alphabet="abc xyz-{}", min_size=1, max_size=10).filter(lambda v: v.strip())


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "data")
    yield s
    s.close()


@pytest.fixture
def service(store):
    return TemplateService(store, Access.local())


@given(st.lists(NAME, min_size=1, max_size=4, unique=True), st.data())
def test_fill_puts_every_value_in_and_leaves_no_variable(names, data):
    template = " and ".join(f"{{{n}}}" for n in names) + " {{literal}}"
    values = {n: data.draw(VALUE) for n in names}
    filled = prompts.fill(template, values)
    assert filled.endswith(" {literal}")
    for name in names:
        assert " ".join(values[name].split()) in filled
    assert prompts.variables(template) == names


def test_templates_crud_tags_and_search(service):
    t = service.save(
        "Animal  portrait",
        "a {animal} in {style} style",
        tags=["pets", "pets", "a,b"],
        notes="for the zine",
    )
    assert (t.name, t.kind, t.tags) == ("Animal portrait", "template", ("pets", "a b"))
    assert library.variables(t.body) == ["animal", "style"]
    with pytest.raises(InputError, match="already exists"):
        service.save("Animal portrait", "other")
    other = service.save("Landscape", "a {place} at dawn")
    assert [x.name for x in service.templates()] == ["Animal portrait", "Landscape"]
    assert [x.name for x in service.templates(tag="pets")] == ["Animal portrait"]
    assert [x.name for x in service.templates(search="dawn")] == ["Landscape"]
    updated = service.save("Landscape", "a {place} at dusk", template_id=other.id)
    assert updated.body == "a {place} at dusk" and updated.id == other.id
    with pytest.raises(InputError, match="already exists"):
        service.save("Animal portrait", "x", template_id=other.id)
    assert service.delete(other.id) and service.get(other.id) is None
    with pytest.raises(InputError, match="name"):
        service.save("  ", "x")


def test_presets_are_separate_and_append_once(service):
    service.save("Golden hour", "warm golden-hour light", kind="preset")
    service.save("Golden hour", "a {thing}")  # same name, other kind: allowed
    [preset] = service.presets()
    [template] = service.templates()
    text = library.render(template.body, {"thing": "kite"}, [preset.body, preset.body])
    assert text == "a kite, warm golden-hour light"
    req = library.request_from(template, {"thing": "kite"}, "gemini-2.5-flash-image", [preset])
    assert req.prompt == text and req.composition["template"]["values"] == {"thing": "kite"}
    assert req.composition["presets"] == ["Golden hour"]
    with pytest.raises(InputError, match=r"\{thing\}"):
        library.render(template.body, {})


def test_start_a_template_from_a_past_prompt(store, service):
    gen_id = store.generations.create_pending(
        prompt="a paper crane on a desk", model="m", settings={}, owner="test"
    )
    t = service.from_generation(gen_id, "Crane")
    assert t.body == "a paper crane on a desk" and f"#{gen_id}" in t.notes
    with pytest.raises(InputError, match="not in the history"):
        service.from_generation(9999, "Nope")
