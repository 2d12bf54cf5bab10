"""Alembic environment: runs migrations on the connection that `Database.migrate` passes in.

There is no `alembic.ini`. `Database.migrate` builds the configuration in code and hands over a
connection that already holds the migration lock, so the upgrade runs inside its transaction.
To start a new revision, call `alembic.command.revision` with a `Config` whose
`script_location` is this directory and pass the next number as `rev_id`.
"""

from __future__ import annotations

from alembic import context

from chalicelib.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "no database connection was passed to the migrations; run them with Store.migrate()"
    )

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot alter most table properties in place; batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
