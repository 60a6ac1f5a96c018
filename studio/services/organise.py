"""Organising the history: favourites, ratings, tags, collections, the trash, private generations and
shared collections.

Every change the app makes to a generation's place in the library comes through here (never the Store), so
that per-person permissions are applied in one place: each action asks the session's ``Access`` first
(reviewers may not organise), acts only on the generations the caller may see, and, in a team studio, writes
an ``activity`` row (who did what to which generations). Each action takes a list of ids and is one
transaction; it returns how many generations changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from studio.domain.errors import InputError, NotAllowed
from studio.domain.people import WHOLE_TEAM, Actor, normalise_email
from studio.services.access import Access, not_author
from studio.storage import Store, TrashReport

__all__ = ["SHARE_ACCESS", "OrganiseService", "Share"]

#: What a collection can be shared for: looking at it, or reviewing it (comments and approvals, issue 15).
SHARE_ACCESS = ("view", "review")


@dataclass(frozen=True)
class Share:
    collection_id: int
    email: str  # a person's email, or "*": the whole team
    access: str  # "view" | "review"
    shared_by: str
    shared_at: str


def subject(ids: Iterable[int]) -> str:
    """An activity row's subject for generations: ``generation:12,13`` (at most 20 ids, then ``…``)."""
    ids = list(ids)
    text = ",".join(str(i) for i in ids[:20])
    return f"generation:{text}{',…' if len(ids) > 20 else ''}"


class OrganiseService:
    def __init__(self, store: Store, access: Access) -> None:
        self._store = store
        self._access = access  # required: a service built without one must not act as the local admin

    # -- checks and the audit log -----------------------------------------------------------------

    def _may(self, ids: Iterable[int]) -> tuple[Actor, list[int]]:
        """The caller (who must be allowed to organise) and, of ``ids``, the ones they may see."""
        actor = self._access.require_organise()
        return actor, self._store.gallery.visible_ids(ids, self._access.visibility())

    def _record(self, actor: Actor, action: str, subject_: str, **detail: Any) -> None:
        """An ``activity`` row in a team studio (the one person of ``STUDIO_LOGIN=none`` has no audit log)."""
        if actor.local or actor.email is None:
            return
        self._store.activity.record(actor.email, action, subject_, detail)

    def _changed(self, actor: Actor, action: str, ids: list[int], n: int, **detail: Any) -> int:
        if n:
            self._record(actor, action, subject(ids), count=n, **detail)
        return n

    # -- favourites, ratings, tags ----------------------------------------------------------------

    def set_favourite(self, ids: Iterable[int], value: bool) -> int:
        actor, ids = self._may(ids)
        n = self._store.organise.set_favourite(ids, value)
        return self._changed(actor, "favourite.set", ids, n, value=bool(value))

    def set_rating(self, ids: Iterable[int], rating: int | None) -> int:
        actor, ids = self._may(ids)
        n = self._store.organise.set_rating(ids, rating)
        return self._changed(actor, "rating.set", ids, n, rating=rating)

    def add_tags(self, ids: Iterable[int], names: Iterable[str]) -> int:
        actor, ids = self._may(ids)
        names = list(names)
        n = self._store.organise.add_tags(ids, names)
        return self._changed(actor, "tags.add", ids, n, tags=names)

    def remove_tag(self, ids: Iterable[int], name: str) -> int:
        actor, ids = self._may(ids)
        n = self._store.organise.remove_tag(ids, name)
        return self._changed(actor, "tags.remove", ids, n, tag=name)

    # -- private generations ----------------------------------------------------------------------

    def set_private(self, ids: Iterable[int], value: bool) -> int:
        """Make generations private (seen only by their author and admins) or visible to the team again.
        Only a generation's author or an admin may; NotAllowed, changing nothing, otherwise."""
        actor, ids = self._may(ids)
        if not actor.is_admin and not actor.local:
            others = [r.id for r in self._store.gallery.records(ids) if r.author != actor.email]
            if others:
                what = f"generation #{others[0]}" if len(others) == 1 else "some of these generations"
                raise NotAllowed(not_author(what))
        n = self._store.organise.set_private(ids, bool(value))
        return self._changed(actor, "private.set", ids, n, value=bool(value))

    # -- collections ------------------------------------------------------------------------------

    def collections(self) -> list[tuple[int, str, int]]:
        """(id, name, how many generations) for every collection (a reviewer: those shared with them)."""
        self._access.require_member()
        vis = self._access.visibility()
        rows = self._store.organise.collections(vis)  # counts of what the caller may see
        if vis.everything or not vis.shared_only:
            return rows
        shared = set(self._store.organise.shared_with(vis.email or ""))
        return [row for row in rows if row[0] in shared]

    def create_collection(self, name: str) -> int:
        actor = self._access.require_organise()
        cid = self._store.organise.create_collection(name)
        self._record(actor, "collection.create", f"collection:{cid}", name=name)
        return cid

    def rename_collection(self, cid: int, name: str) -> None:
        actor = self._access.require_organise()
        self._store.organise.rename_collection(cid, name)
        self._record(actor, "collection.rename", f"collection:{cid}", name=name)

    def delete_collection(self, cid: int) -> None:
        """The collection goes; its generations stay in the history."""
        actor = self._access.require_organise()
        self._store.organise.delete_collection(cid)
        self._record(actor, "collection.delete", f"collection:{cid}")

    def add_to_collection(self, ids: Iterable[int], cid: int) -> int:
        actor, ids = self._may(ids)
        n = self._store.organise.add_to_collection(ids, cid)
        return self._changed(actor, "collection.add", ids, n, collection=cid)

    def remove_from_collection(self, ids: Iterable[int], cid: int) -> int:
        actor, ids = self._may(ids)
        n = self._store.organise.remove_from_collection(ids, cid)
        return self._changed(actor, "collection.remove", ids, n, collection=cid)

    # -- shared collections (reviewers see only these) --------------------------------------------

    def share_collection(self, cid: int, email_or_star: str, access: str = "view") -> Share:
        """Share a collection with one person (their email) or the whole team (``*``), to view or to
        review. Sharing again changes the access."""
        actor = self._access.require_organise()
        if access not in SHARE_ACCESS:
            raise InputError(f"A collection is shared to {' or '.join(SHARE_ACCESS)}, not {access!r}.")
        who = WHOLE_TEAM if email_or_star.strip() == WHOLE_TEAM else normalise_email(email_or_star)
        row = self._store.organise.share(cid, who, access, shared_by=actor.email or "")
        self._record(actor, "collection.share", f"collection:{cid}", email=who, access=access)
        return Share(*row)

    def unshare_collection(self, cid: int, email_or_star: str) -> bool:
        """Stop sharing a collection with a person (or the whole team); False when it was not shared."""
        actor = self._access.require_organise()
        who = WHOLE_TEAM if email_or_star.strip() == WHOLE_TEAM else normalise_email(email_or_star)
        gone = self._store.organise.unshare(cid, who)
        if gone:
            self._record(actor, "collection.unshare", f"collection:{cid}", email=who)
        return gone

    def shares(self, cid: int) -> list[Share]:
        """Whom a collection is shared with (admins and designers)."""
        self._access.require_organise()
        return [Share(*row) for row in self._store.organise.shares(cid)]

    # -- the trash --------------------------------------------------------------------------------

    def trash(self, ids: Iterable[int]) -> int:
        actor, ids = self._may(ids)
        n = self._store.trash_bin.trash(ids)
        return self._changed(actor, "trash.move", ids, n)

    def restore(self, ids: Iterable[int]) -> int:
        actor, ids = self._may(ids)
        n = self._store.trash_bin.restore(ids)
        return self._changed(actor, "trash.restore", ids, n)

    def empty_trash(self) -> TrashReport:
        """Delete what is in the trash for good, with the image files no other generation uses (admins
        only in a team studio: it deletes everyone's trashed work)."""
        actor = self._access.require_admin()
        report = self._store.trash_bin.empty_trash()
        self._record(actor, "trash.empty", "trash", generations=report.generations)
        return report
