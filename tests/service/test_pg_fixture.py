"""The two-backend fixture really moves the history: the service opens the database it names."""

from __future__ import annotations

import pytest

from tests.stores import open_store

pytestmark = pytest.mark.usefixtures("backend")


def test_the_studio_uses_the_backend_under_test(backend: str, studio) -> None:
    assert studio._store.db.dialect == backend
    assert studio._store.gallery.count() == 0  # a fresh database for every test


def test_open_store_uses_the_backend_under_test(backend: str, tmp_path) -> None:
    s = open_store(tmp_path)
    try:
        assert s.db.dialect == backend and not s.readonly
        gen = s.generations.create_pending(prompt="a teapot", model="m", settings={}, owner="p")
        assert [g.id for g in s.gallery.page(search="teapots")] == [gen]
    finally:
        s.close()
