"""Alembic's environment for the hotline: always given an open connection by voice_app.migrations, which owns
the transaction and the lock, so every run goes through the same checks."""

from alembic import context
from sqlmodel import SQLModel

import voice_app.database  # noqa: F401  (imports every model module, so the metadata holds all tables)

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `voice-app db upgrade`; the alembic command line is not configured")

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    # SQLite cannot ALTER most things; batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    on_version_apply=context.config.attributes.get("on_version_apply"),
)
# The caller has begun the transaction, so this one joins it rather than committing on its own.
with context.begin_transaction():
    context.run_migrations()
