"""Alembic environment: the connection is handed in by ``app.storage.db.migrate``."""

from alembic import context
from sqlmodel import SQLModel

from app.storage import models  # noqa: F401  (registers the tables on SQLModel.metadata)
from app.storage.db import include_object

connection = context.config.attributes['connection']
context.configure(
    connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True, include_object=include_object
)
with context.begin_transaction():
    context.run_migrations()
