"""The history alone, for the commands that read, move or organise records (``history``, ``export``,
``import``, ``collect``, ``share``).

No worker pool, no client and no orphan adoption (unlike ``open_studio``): looking never changes a row.
It acts for one caller like a ``StudioSession``: the local person without sign-in, else ``STUDIO_USER`` (or
the ``actor`` given); every method checks them first and reads only what they may see.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from studio.domain.errors import InputError, StoreError
from studio.domain.people import Actor
from studio.domain.settings import Settings, load_settings
from studio.services import accounts, exchange
from studio.services.access import Access
from studio.services.gallery import GalleryService
from studio.services.links import LinkService
from studio.services.organise import OrganiseService
from studio.services.reviews import ReviewService
from studio.services.session import default_access
from studio.storage import GalleryFilter, GenerationRecord, Store


@dataclass(frozen=True)
class CollectReport:
    """What ``studio collect`` did to one collection."""

    collection_id: int
    collection: str
    created: bool  # made by this call (``--create``)
    ids: tuple[int, ...]  # the generations named, each once, in the order given
    changed: int  # added (or, with ``remove``, removed)
    removed: bool  # the ids were taken out rather than put in
    items: int  # the collection's generations now (not counting the trash)

    @property
    def unchanged(self) -> int:
        """Named but already there (or, removing, not in it)."""
        return len(self.ids) - self.changed


@dataclass(frozen=True)
class SharedLink:
    """A client link ``studio share`` made: where it points and until when."""

    url: str
    expires: str  # UTC ISO text
    collection_id: int
    collection: str
    feedback: bool
    include_prompts: bool
    items: int  # the collection's generations when the link was made


@dataclass(frozen=True)
class PackReport:
    """A review pack ``studio export --pdf`` wrote."""

    path: Path
    collection_id: int
    collection: str
    bytes: int


def _missing_sentence(missing: Sequence[int], done: str) -> str:
    names = ", ".join(map(str, missing))
    if len(missing) == 1:
        return f"Generation {names} is not in the history; {done}"
    return f"Generations {names} are not in the history; {done}"


class Archive:
    def __init__(self, settings: Settings, actor: Actor | None = None) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir
        self._store = Store.for_settings(settings)
        try:
            if not settings.team_mode:
                self.access = Access.local()
            elif actor is not None:
                self.access = Access(Actor.signed_out() if actor.local else actor, self._store.people.get)
            else:
                self.access, _ = default_access(
                    self._store,
                    settings,
                    lambda email: accounts.sign_in(self._store, settings, email),
                    people_lookup=self._store.people.get,
                )
        except BaseException:
            self._store.close()
            raise

    def history(self, *, search: str | None = None, limit: int = 20) -> list[GenerationRecord]:
        """Newest first (what the caller may see)."""
        vis = self.access.visibility()
        return self._store.gallery.page(GalleryFilter(visibility=vis), search=search, limit=limit)

    def trashed(self) -> int:
        """How many generations are in the trash (of those the caller may see)."""
        vis = self.access.visibility()
        return self._store.gallery.count(GalleryFilter(deleted=True, visibility=vis))

    def export_zip(
        self,
        out: Path,
        *,
        ids: Sequence[int] = (),
        search: str | None = None,
        collection: str | None = None,
    ) -> exchange.ExportReport:
        """Raises InputError, writing nothing, when an id is not in the history (or not one the caller may
        see), or ``collection`` (a name or an id: only its generations) is not there."""
        vis = self.access.visibility()
        cid = self._collection_id(collection) if collection is not None else None
        return exchange.export_selection(
            self._store, out, ids=ids, search=search, visibility=vis, collection_id=cid
        )

    def import_zip(self, path: Path) -> exchange.ImportReport:
        """Import a ZIP's generations (admins and designers: it adds to the team's history)."""
        actor = self.access.require_organise()
        return exchange.import_zip(self._store, path, author=actor.email)

    # -- collections (``studio collect``, ``studio share``) ------------------------------------------

    @cached_property
    def gallery(self) -> GalleryService:
        """The history as the caller sees it."""
        return GalleryService(self._store, self.access)

    @cached_property
    def organise(self) -> OrganiseService:
        """Collections, shares and the rest of organising, checked against the caller."""
        return OrganiseService(self._store, self.access)

    def find_collection(self, name_or_id: str) -> tuple[int, str, int] | None:
        """(id, name, generations) of the collection ``name_or_id`` names, of those the caller sees (a
        reviewer: the ones shared with them): its exact name, else its name in any case when only one
        matches, else its id; None when none does."""
        wanted = name_or_id.strip()
        rows = self.organise.collections()
        exact = [row for row in rows if row[1] == wanted]
        if exact:
            return exact[0]
        folded = [row for row in rows if row[1].casefold() == wanted.casefold()]
        if len(folded) == 1:
            return folded[0]
        if wanted.lstrip("#").isdigit():
            cid = int(wanted.lstrip("#"))
            return next((row for row in rows if row[0] == cid), None)
        return None

    def _require_history(self, ids: Sequence[int], done: str) -> None:
        """InputError naming the ids that are not in the history (in the trash counts as in it) or that
        the caller may not see: one count when all are there, the records only to name the missing."""
        if self.gallery.count(GalleryFilter(ids=tuple(ids), deleted=None)) == len(ids):
            return
        found = {record.id for record in self.gallery.records(ids)}
        missing = [i for i in ids if i not in found]
        if missing:
            raise InputError(_missing_sentence(missing, done))

    def no_collection(self, name_or_id: str, *, create_hint: bool) -> InputError:
        """The sentence for a collection that is not there (naming a few that are)."""
        names = [name for _, name, _ in self.organise.collections()]
        hint = " Add --create to make it." if create_hint else ""
        if names:
            shown = ", ".join(f"“{n}”" for n in names[:8]) + (", …" if len(names) > 8 else "")
            hint += f" The collections are {shown}."
        return InputError(f"There is no collection called “{name_or_id.strip()}”.{hint}")

    def _collection_id(self, name_or_id: str) -> int:
        found = self.find_collection(name_or_id)
        if found is None:
            raise self.no_collection(name_or_id, create_hint=False)
        return found[0]

    def collect(
        self, collection: str, ids: Sequence[int], *, remove: bool = False, create: bool = False
    ) -> CollectReport:
        """Add generations to a collection (a name or an id), or with ``remove`` take them out. With
        ``create`` a collection that is not there is made first (not when removing). Raises InputError,
        changing nothing, when an id is not in the history (or not one the caller may see) or the
        collection is not there; NotAllowed for a caller who may not organise (a reviewer)."""
        self.access.require_organise()
        wanted = tuple(dict.fromkeys(int(i) for i in ids))
        if not wanted:
            raise InputError("Name at least one generation id.")
        self._require_history(wanted, "nothing was changed.")
        found = self.find_collection(collection)
        created = False
        if found is None:
            if not create or remove:
                raise self.no_collection(collection, create_hint=not remove)
            cid, name = self.organise.create_collection(collection), collection.strip()
            created = True
        else:
            cid, name = found[0], found[1]
        if remove:
            changed = self.organise.remove_from_collection(wanted, cid)
        else:
            changed = self.organise.add_to_collection(wanted, cid)
        row = next((r for r in self.organise.collections() if r[0] == cid), (cid, name, 0))
        return CollectReport(cid, row[1], created, wanted, changed, remove, row[2])

    # -- client links and the review pack (issue 15) ---------------------------------------------------

    @cached_property
    def links(self) -> LinkService:
        return LinkService(self._store, self.access, self.settings)

    @cached_property
    def review(self) -> ReviewService:
        return ReviewService(self._store, self.access)

    def share(
        self, collection: str, *, days: int = 14, feedback: bool = False, include_prompts: bool = False
    ) -> SharedLink:
        """A new client link to a collection (a name or an id): designers and admins (NotAllowed for a
        reviewer, asked before the collection is looked up); InputError when it is not there."""
        self.access.require_organise()
        found = self.find_collection(collection)
        if found is None:
            raise self.no_collection(collection, create_hint=False)
        link = self.links.create(found[0], days=days, feedback=feedback, include_prompts=include_prompts)
        return SharedLink(link.url, link.expires, found[0], found[1], feedback, include_prompts, found[2])

    def revoke(self, url_or_token: str) -> None:
        """Stop a client link working; InputError when no working link of this studio has that URL."""
        if not self.links.revoke(url_or_token):
            raise InputError(
                "No working link of this studio has that URL: check it was copied whole (it may already "
                "have been revoked or have expired)."
            )

    def write_review_pack(self, collection: str, out: Path) -> PackReport:
        """A collection (a name or an id) as a PDF contact sheet with each image's decision and comments,
        written to a temp file beside ``out`` and renamed into place (never half a file)."""
        self.access.require_member()
        found = self.find_collection(collection)
        if found is None:
            raise self.no_collection(collection, create_hint=False)
        data = self.review.pack_pdf(found[0])
        path = Path(out).expanduser().absolute()
        tmp: str | None = None
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            tmp = None
        except OSError as exc:
            raise StoreError(
                f"The review pack could not be written to {path} ({exc.strerror or exc})."
            ) from exc
        finally:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
        return PackReport(path, found[0], found[1], len(data))

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_archive(settings: Settings | None = None, actor: Actor | None = None) -> Archive:
    return Archive(settings or load_settings(), actor)


#: The records come from the store; re-exported so that the CLI need not import the storage package.
__all__ = ["Archive", "CollectReport", "GenerationRecord", "PackReport", "SharedLink", "open_archive"]
