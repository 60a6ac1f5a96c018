"""Pins every field of every catalogue entry (and of the fallback for an unknown id), so that a change in
how the catalogue is written (typed family templates, ``dataclasses.replace``) cannot change what it says.

Regenerate the pinned file only for a deliberate catalogue change:
``python -c "from tests.unit.test_catalogue_snapshot import dump; dump()"``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from studio.domain import catalogue

PINNED = Path(__file__).with_name("catalogue_snapshot.json")


def snapshot() -> dict[str, Any]:
    specs = [*catalogue.MODELS.values(), catalogue.lookup("some-relay-model-image")]
    # A JSON round trip turns tuples into lists, as the pinned file has them; the order of MODELS is kept.
    return json.loads(
        json.dumps({"order": list(catalogue.MODELS), "specs": [dataclasses.asdict(s) for s in specs]})
    )


def dump() -> None:
    PINNED.write_text(json.dumps(snapshot(), indent=1) + "\n", encoding="utf-8")


def test_every_model_spec_field_matches_the_pinned_catalogue() -> None:
    pinned = json.loads(PINNED.read_text(encoding="utf-8"))
    now = snapshot()
    assert now["order"] == pinned["order"]
    for spec, want in zip(now["specs"], pinned["specs"], strict=True):
        assert spec == want, spec["id"]
