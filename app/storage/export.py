"""Every job of a list, streamed in sort order for a CSV export: memory stays flat however many rows there are."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from app.storage.jobs import JOB, job_row
from app.storage.listing import JobFilter, order_by
from app.storage.models import User

CHUNK = 2000  # rows fetched from the database at a time


def iter_jobs(engine: sa.Engine, *, viewer: User, filters: JobFilter, sort: str) -> Iterator[list[dict[str, Any]]]:
    """The jobs ``viewer`` may see that ``filters`` select, in ``sort`` order, in chunks of rows (blocking)."""
    query = sa.select(JOB)
    if not viewer.is_admin:
        query = query.where(JOB.c.run_by_id == viewer.id)
    query = filters.apply(query, engine.dialect.name).order_by(*order_by(sort))
    with engine.connect() as connection:
        # One statement: a consistent snapshot of the list, read a chunk at a time (a server-side cursor on
        # PostgreSQL, SQLite's own stepping otherwise).
        result = connection.execution_options(stream_results=True, yield_per=CHUNK).execute(query)
        for partition in result.partitions(CHUNK):
            yield [job_row(row) for row in partition]
