"""The reference-limit rule of the Generate form, per model (pure function, no Streamlit run)."""

from __future__ import annotations

import pytest

from studio.app.widgets.references import apply_limits, limit_sentence
from studio.domain import catalogue
from studio.domain.requests import Reference


def _refs(objects: int, characters: int = 0) -> list[Reference]:
    def ref(i: int, role: str) -> Reference:
        return Reference(b"x", "image/png", f"{i:064x}", 8, 8, role=role, name=f"{role}{i}.png")

    return [ref(i, "object") for i in range(objects)] + [ref(100 + i, "character") for i in range(characters)]


@pytest.mark.parametrize(
    ("model", "objects", "characters", "kept", "refused"),
    [
        pytest.param("gemini-2.5-flash-image", 3, 0, 3, 0, id="flash25-at-limit"),
        pytest.param("gemini-2.5-flash-image", 2, 2, 3, 1, id="flash25-roles-share-one-limit"),
        pytest.param("gemini-3-pro-image", 7, 0, 6, 1, id="pro-objects-capped-at-6"),
        pytest.param("gemini-3-pro-image", 6, 6, 11, 1, id="pro-characters-capped-at-5"),
        pytest.param("gemini-3.1-flash-image", 10, 4, 14, 0, id="flash31-full"),
    ],
)
def test_limits_keep_the_first_and_explain_the_rest(model, objects, characters, kept, refused):
    spec = catalogue.lookup(model)
    accepted, reasons = apply_limits(spec, _refs(objects, characters))
    assert len(accepted) == kept
    assert len(reasons) == refused
    assert all("is not sent" in reason and "at most" in reason for reason in reasons)


def test_limit_sentences():
    assert limit_sentence(catalogue.lookup("gemini-2.5-flash-image")) == "3 references max on this model."
    pro = limit_sentence(catalogue.lookup("gemini-3-pro-image"))
    assert "6 object images + 5 character images" in pro
