from __future__ import annotations

import pytest

from studio import catalogue


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
