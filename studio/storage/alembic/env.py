"""Alembic's environment for the studio, configured in code (``migrations.alembic_config``): it runs on
the connection the studio hands it, inside the studio's own transaction and lock, never on a URL of its
own. SQLite alters tables in batch mode (copy and rename); PostgreSQL alters them in place."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the studio always passes its connection
    raise RuntimeError("Studio runs its migrations through studio.storage.migrations, with a connection.")

context.configure(
    connection=connection,
    target_metadata=None,
    render_as_batch=connection.dialect.name == "sqlite",
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
