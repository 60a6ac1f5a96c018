"""Organising the history: favourites, ratings, tags, collections and the trash.

Every change the app makes to a generation's place in the library comes through here (never the Store),
so that per-person permissions can later be applied in one place. Each action takes a list of ids and is
one transaction; it returns how many generations changed.
"""

from __future__ import annotations

from collections.abc import Iterable

from studio.storage import Store, TrashReport


class OrganiseService:
    def __init__(self, store: Store) -> None:
        self._store = store

    def set_favourite(self, ids: Iterable[int], value: bool) -> int:
        return self._store.organise.set_favourite(ids, value)

    def set_rating(self, ids: Iterable[int], rating: int | None) -> int:
        return self._store.organise.set_rating(ids, rating)

    def add_tags(self, ids: Iterable[int], names: Iterable[str]) -> int:
        return self._store.organise.add_tags(ids, names)

    def remove_tag(self, ids: Iterable[int], name: str) -> int:
        return self._store.organise.remove_tag(ids, name)

    def collections(self) -> list[tuple[int, str, int]]:
        """(id, name, how many generations) for every collection."""
        return self._store.organise.collections()

    def create_collection(self, name: str) -> int:
        return self._store.organise.create_collection(name)

    def rename_collection(self, cid: int, name: str) -> None:
        self._store.organise.rename_collection(cid, name)

    def delete_collection(self, cid: int) -> None:
        """The collection goes; its generations stay in the history."""
        self._store.organise.delete_collection(cid)

    def add_to_collection(self, ids: Iterable[int], cid: int) -> int:
        return self._store.organise.add_to_collection(ids, cid)

    def remove_from_collection(self, ids: Iterable[int], cid: int) -> int:
        return self._store.organise.remove_from_collection(ids, cid)

    def trash(self, ids: Iterable[int]) -> int:
        return self._store.trash_bin.trash(ids)

    def restore(self, ids: Iterable[int]) -> int:
        return self._store.trash_bin.restore(ids)

    def empty_trash(self) -> TrashReport:
        """Delete what is in the trash for good, with the image files no other generation uses."""
        return self._store.trash_bin.empty_trash()
