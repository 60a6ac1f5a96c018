"""``PeopleRepository`` (``store.people``): the members of a team studio, on the ``person`` table of
revision 0003.

Every change writes its audit line (``activity``) in the same transaction, so the log never misses a change
and never names one that was rolled back. Inserts are one statement with ON CONFLICT (two processes adding or
joining the same person at once: one row, no error for the joiner). "The last admin" is checked under a lock:
SQLite's IMMEDIATE write transaction, PostgreSQL's ``SELECT ... FOR UPDATE`` on the admin rows, so two admins
demoting each other at once cannot leave the studio with none.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from studio.domain.errors import InputError
from studio.domain.people import ADMIN, UNSET, Person, Unset
from studio.storage.activity_repo import write_activity
from studio.storage.database import Database, rowcount, upsert
from studio.storage.tables import Person as PersonRow
from studio.storage.tables import utc_now


def _person(row: PersonRow) -> Person:
    return Person(
        email=row.email,
        role=row.role,
        budget_usd=row.budget_usd,
        disabled=bool(row.disabled),
        joined=row.joined,
        created_at=row.created_at,
    )


def last_admin_sentence(email: str) -> str:
    return (
        f"{email} is the studio's last admin; make someone else an admin first "
        "(`studio users set OTHER@EXAMPLE.COM --role admin`)."
    )


class PeopleRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, email: str) -> Person | None:
        with self.db.read() as session:
            row = session.get(PersonRow, email)
            return _person(row) if row is not None else None

    def list(self) -> list[Person]:
        """Everyone, by email."""
        with self.db.read() as session:
            return [_person(r) for r in session.exec(select(PersonRow).order_by(col(PersonRow.email))).all()]

    def count_admins(self) -> int:
        """Enabled admins."""
        stmt = select(PersonRow.email).where(col(PersonRow.role) == ADMIN, col(PersonRow.disabled).is_(False))
        with self.db.read() as session:
            return len(session.exec(stmt).all())

    def _insert(self, session: Session, person: Person) -> bool:
        now = utc_now()
        stmt = (
            upsert(session, PersonRow)
            .values(
                email=person.email,
                role=person.role,
                budget_usd=person.budget_usd,
                disabled=person.disabled,
                joined=person.joined,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["email"])
        )
        return rowcount(session.exec(stmt)) > 0

    def add(self, person: Person, *, actor: str, action: str = "users.add") -> Person:
        """A new member (``person.email`` already normalised); InputError when the email is a member."""
        with self.db.write() as session:
            if not self._insert(session, person):
                raise InputError(
                    f"{person.email} is already a member; change them with `studio users set {person.email}`."
                )
            detail = {"role": person.role, "budget_usd": person.budget_usd, "joined": person.joined}
            write_activity(session, actor, action, person.email, detail)
            row = session.get(PersonRow, person.email)
            assert row is not None
            return _person(row)

    def join(self, person: Person, *, action: str = "users.join") -> tuple[Person, bool]:
        """Add ``person`` unless they are already a member (then nothing changes); the stored person and
        whether this call added them. Two first sign-ins at once: one row, one log line, no error."""
        with self.db.write() as session:
            created = self._insert(session, person)
            if created:
                detail = {"role": person.role, "budget_usd": person.budget_usd, "joined": person.joined}
                write_activity(session, person.email, action, person.email, detail)
            row = session.get(PersonRow, person.email, populate_existing=True)
            assert row is not None
            return _person(row), created

    def update(
        self,
        email: str,
        *,
        actor: str,
        role: str | None = None,
        budget_usd: float | None | Unset = UNSET,
        disabled: bool | None = None,
    ) -> Person | None:
        """Change what is given (None / UNSET: leave it); None when ``email`` is not a member. InputError when
        the change would leave no enabled admin. Writes "users.set" with what changed (nothing changed:
        no line)."""
        with self.db.write() as session:
            # Lock the admin rows first, in one order, then the person: two admins demoting each other wait
            # their turn instead of deadlocking, and the second sees the first's change.
            admins: list[str] = []
            if (role is not None and role != ADMIN) or disabled:
                enabled_admins = (
                    select(PersonRow.email)
                    .where(col(PersonRow.role) == ADMIN, col(PersonRow.disabled).is_(False))
                    .order_by(col(PersonRow.email))
                )
                admins = list(session.exec(enabled_admins.with_for_update()).all())
            row = session.exec(
                select(PersonRow).where(col(PersonRow.email) == email).with_for_update()
            ).first()
            if row is None:
                return None
            changes: dict[str, Any] = {}
            if role is not None and role != row.role:
                changes["role"] = [row.role, role]
            if not isinstance(budget_usd, Unset) and budget_usd != row.budget_usd:
                changes["budget_usd"] = [row.budget_usd, budget_usd]
            if disabled is not None and bool(disabled) != bool(row.disabled):
                changes["disabled"] = [bool(row.disabled), bool(disabled)]
            if not changes:
                return _person(row)
            new_role = role if role is not None else row.role
            new_disabled = bool(disabled) if disabled is not None else bool(row.disabled)
            was_admin = row.role == ADMIN and not row.disabled
            if was_admin and (new_role != ADMIN or new_disabled) and not [e for e in admins if e != email]:
                raise InputError(last_admin_sentence(email))
            row.role = new_role
            row.disabled = new_disabled
            if "budget_usd" in changes:
                row.budget_usd = changes["budget_usd"][1]
            row.updated_at = utc_now()
            session.add(row)
            write_activity(session, actor, "users.set", email, changes)
            session.flush()
            return _person(row)
