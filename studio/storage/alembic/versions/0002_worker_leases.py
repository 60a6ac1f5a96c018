"""Worker leases: several studio processes share one history (issue 13).

Each process registers its owner id in ``worker`` and renews a lease with a heartbeat, so another process (on
another machine too) knows when the pending rows of a dead one may be adopted. A new table; no existing row
changes meaning. Plain types, so the same statements create it on SQLite and PostgreSQL; times are UTC ISO
text like every other timestamp of the history.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

WORKER_DDL = """
CREATE TABLE worker (
    owner TEXT PRIMARY KEY NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL,
    lease_expires_at TEXT NOT NULL
);;
CREATE INDEX ix_worker_lease_expires_at ON worker (lease_expires_at)
"""


def upgrade() -> None:
    for statement in WORKER_DDL.split(";;"):
        if statement.strip():
            op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE worker")
