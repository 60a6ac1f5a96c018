from __future__ import annotations

import pytest

from studio.domain import catalogue
from studio.domain.errors import InputError
from studio.domain.requests import GenerationRequest, Reference


def test_spec_models_are_all_in_the_catalogue():
    for model_id in catalogue.SPEC_MODELS:
        assert catalogue.is_known(model_id)
    assert catalogue.is_known(catalogue.DEFAULT_MODEL)


@pytest.mark.parametrize(
    ("model", "ratio", "size", "pixels"),
    [
        ("gemini-2.5-flash-image", "16:9", None, (1344, 768)),
        ("gemini-3-pro-image-preview", "1:1", "4K", (4096, 4096)),
        ("gemini-3-pro-image", "21:9", "2K", (3168, 1344)),
        ("gemini-3.1-flash-image-preview", "8:1", "512", (1536, 192)),
        ("gemini-3.1-flash-image", "9:16", "1K", (768, 1376)),
    ],
)
def test_pixel_sizes_match_the_reference_tables(model, ratio, size, pixels):
    assert catalogue.lookup(model).pixel_size(ratio, size) == pixels


def test_pixel_sizes_keep_the_ratio_within_four_percent():
    for spec in catalogue.MODELS.values():
        for table in spec.pixels.values():
            for ratio, (w, h) in table.items():
                a, b = (int(x) for x in ratio.split(":"))
                assert abs((w / h) / (a / b) - 1) < 0.04, (spec.id, ratio, w, h)


def test_reference_limits_per_model():
    assert catalogue.lookup("gemini-3-pro-image").max_objects == 6
    assert catalogue.lookup("gemini-3-pro-image").max_characters == 5
    assert catalogue.lookup("gemini-3.1-flash-image").max_references == 14
    assert catalogue.lookup("gemini-2.5-flash-image").max_references == 3


def test_estimates_follow_list_prices():
    est = catalogue.estimate("gemini-3-pro-image", size="4K", ratio="1:1", variants=4)
    assert est.usd == pytest.approx(4 * 0.24, abs=0.001)
    assert est.output_tokens == 8000 and est.pixels == (4096, 4096)
    one = catalogue.estimate("gemini-2.5-flash-image", size="4K", ratio="3:2", variants=1)
    assert one.usd == pytest.approx(0.039, abs=0.001) and one.pixels == (1248, 832)  # 2.5 is 1K only


def test_unknown_model_gets_permissive_defaults():
    spec = catalogue.lookup("gemini-9-ultra-image")
    assert spec.stage == "unknown" and "1:8" in spec.ratios and "4K" in spec.sizes


# -- the one rule and the model resolver ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "model"),
    [
        ("Nano Banana Pro", "gemini-3-pro-image"),
        ("nano-banana-pro", "gemini-3-pro-image"),
        ("  NANO_BANANA_PRO ", "gemini-3-pro-image"),
        ("Nano Banana Pro (3 Pro Image)", "gemini-3-pro-image"),
        ("3 Pro Image", "gemini-3-pro-image"),
        ("models/gemini-3-pro-image", "gemini-3-pro-image"),
        ("Nano Banana", "gemini-2.5-flash-image"),
        ("nano-banana-2", "gemini-3.1-flash-image"),
        ("Nano Banana 2 Lite", "gemini-3.1-flash-lite-image"),
        (
            "Nano Banana 2 preview (preview)",
            "gemini-3.1-flash-image-preview",
        ),  # as the Generate picker shows it
        ("my-relay/gemini-next-image", "my-relay/gemini-next-image"),  # a relay's image model: kept as typed
    ],
)
def test_resolve_model_accepts_ids_display_names_and_aliases(typed, model):
    assert catalogue.resolve_model(typed) == model


@pytest.mark.parametrize("typed", ["Nano Banana 9", "gemini-2.5-flash", "dall-e-3", ""])
def test_resolve_model_refuses_anything_else_listing_the_known_models(typed):
    with pytest.raises(InputError) as exc:
        catalogue.resolve_model(typed)
    for model_id in catalogue.MODELS:
        assert model_id in exc.value.message


def _refs(roles):
    return tuple(Reference(b"x", "image/png", f"{i:064x}", 1, 1, role=role) for i, role in enumerate(roles))


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"model": "gemini-3-pro-image", "references": _refs(["object"] * 7)}, "at most 6 object"),
        ({"model": "gemini-3-pro-image", "references": _refs(["character"] * 6)}, "at most 5 character"),
        (
            {"model": "gemini-3.1-flash-image", "references": _refs(["object"] * 10 + ["character"] * 5)},
            "at most 14 reference",
        ),
        ({"modalities": ("TEXT",)}, "Ask for an image"),
        ({"modalities": ()}, "Ask for an image"),
        ({"thinking_level": "HIGH"}, "no thinking level"),
        ({"model": "gemini-3.1-flash-image", "thinking_level": "MEDIUM"}, "MINIMAL or HIGH"),
        ({"google_search": True}, "no Google Search"),
        ({"model": "gemini-3-pro-image", "google_search": True, "image_search": True}, "Image search"),
    ],
)
def test_validate_refuses_what_the_catalogue_says_the_model_does_not_take(changes, words):
    req = GenerationRequest(**({"prompt": "x", "model": "gemini-2.5-flash-image"} | changes))
    with pytest.raises(InputError, match=words):
        catalogue.validate(req)


@pytest.mark.parametrize(
    "req",
    [
        GenerationRequest(
            prompt="x", model="gemini-3-pro-image", references=_refs(["object"] * 6 + ["character"] * 5)
        ),
        GenerationRequest(
            prompt="x",
            model="gemini-3.1-flash-image",
            modalities=("text", "image"),
            thinking_level="high",
            google_search=True,
            image_search=True,
        ),
        GenerationRequest(prompt="x", model="gemini-2.5-flash-image", image_size="1K"),  # its one size, named
        GenerationRequest(
            prompt="x", model="my-relay-model", references=_refs(["character"] * 14), thinking_level="LOW"
        ),
    ],
)
def test_validate_accepts_what_the_model_takes(req):
    catalogue.validate(req)
