"""UI-only fixtures: an AppTest of the real app with the Studio seam patched."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import studio as studio_pkg
from studio.app import resources

APP = Path(studio_pkg.__file__).parent / "app" / "main.py"


@pytest.fixture
def make_app(monkeypatch):
    """``make_app(studio)`` -> an AppTest whose every page uses ``studio`` (the one patch seam)."""

    def make(studio) -> AppTest:
        monkeypatch.setattr(resources, "get_studio", lambda: studio)
        return AppTest.from_file(str(APP), default_timeout=15)

    return make
