"""Acting on jobs in the database: cancel requests, what a rerun copies, and each job's log lines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.storage import queue
from app.storage.db import Bind, transaction
from app.storage.jobs import JOB, JOB_FILE, finish_job, job_row
from app.storage.models import FileRole, JobFile, JobLog, Status, User

LOG_KEPT = 10_000  # lines kept per job; older ones are dropped and counted
JOB_LOG = JobLog.__table__  # type: ignore[attr-defined]


class NotRunning(ValueError):
    """The job to cancel has already ended."""


@dataclass(frozen=True, slots=True)
class RerunSource:
    """What a rerun copies from the job it runs again."""

    job_id: int
    job_type: str
    status: str
    description: str
    run_at: str
    params: dict[str, Any]
    inputs: list[JobFile]


@dataclass(frozen=True, slots=True)
class LogLine:
    seq: int
    at: datetime
    level: str
    message: str


def _visible(viewer: User, job_id: int) -> Any:
    condition = JOB.c.id == job_id
    return condition if viewer.is_admin else sa.and_(condition, JOB.c.run_by_id == viewer.id)


def request_cancel(bind: Bind, *, viewer: User, job_id: int) -> tuple[dict[str, Any], int] | None:
    """Ask the job's worker (on any node) to stop; returns its row and owner, or None if ``viewer`` may not see it.

    Raises NotRunning when the job has ended. A second request keeps the first requester's name.
    """
    with transaction(bind) as connection:
        found = connection.execute(sa.select(JOB.c.status).where(_visible(viewer, job_id))).first()
        if found is None:
            return None
        statement = (
            sa.update(JOB)
            .where(JOB.c.id == job_id, JOB.c.status == Status.IN_PROGRESS)
            .values(cancelled_by=sa.func.coalesce(JOB.c.cancelled_by, viewer.username))
            .returning(*JOB.c)
        )
        row = connection.execute(statement).first()
        if row is None:
            raise NotRunning(f'Job {job_id} is not running')
        if row.engine_job_id is not None and queue.cancel_queued(connection, engine_job_id=row.engine_job_id):
            # Still queued (every worker busy): no worker will run it, so it ends here and now.
            return finish_job(connection, job_id=job_id), row.run_by_id
        return job_row(row), row.run_by_id


def cancel_requests(engine: sa.Engine, *, job_ids: Sequence[int]) -> dict[int, str]:
    """Which of these jobs someone asked to cancel, and who (one query for every job a node runs)."""
    query = sa.select(JOB.c.id, JOB.c.cancelled_by).where(JOB.c.id.in_(job_ids), JOB.c.cancelled_by.is_not(None))
    with engine.connect() as connection:
        return {row.id: row.cancelled_by for row in connection.execute(query)}


def rerun_source(engine: sa.Engine, *, viewer: User, job_id: int) -> RerunSource | None:
    """The job to run again with its input files, or None if ``viewer`` may not see it."""
    with engine.connect() as connection:
        job = connection.execute(sa.select(JOB).where(_visible(viewer, job_id))).first()
        if job is None:
            return None
        files = connection.execute(
            sa.select(JOB_FILE).where(JOB_FILE.c.job_id == job_id, JOB_FILE.c.role == FileRole.INPUT)
            .order_by(JOB_FILE.c.id)
        )  # fmt: skip
        inputs = [JobFile(**row._mapping) for row in files]
    return RerunSource(job.id, job.job_type, job.status, job.description, job.run_at, dict(job.params or {}), inputs)


def append_log(bind: Bind, *, job_id: int, lines: Sequence[LogLine]) -> dict[str, Any]:
    """Store log lines (numbered by the caller), drop all but the newest LOG_KEPT; returns the job's row."""
    with transaction(bind) as connection:
        connection.execute(
            sa.insert(JOB_LOG),
            [{'job_id': job_id, 'seq': line.seq, 'at': line.at, 'level': line.level, 'message': line.message}
             for line in lines],
        )  # fmt: skip
        last = lines[-1].seq
        dropped = 0
        if last > LOG_KEPT:
            deleted = connection.execute(
                sa.delete(JOB_LOG).where(JOB_LOG.c.job_id == job_id, JOB_LOG.c.seq <= last - LOG_KEPT)
            )
            dropped = deleted.rowcount or 0
        statement = (
            sa.update(JOB)
            .where(JOB.c.id == job_id)
            .values(log_seq=sa.func.max(JOB.c.log_seq, last) if connection.dialect.name == 'sqlite'
                    else sa.func.greatest(JOB.c.log_seq, last), log_dropped=JOB.c.log_dropped + dropped)
            .returning(*JOB.c)
        )  # fmt: skip
        return job_row(connection.execute(statement).one())


def read_log(
    engine: sa.Engine, *, viewer: User, job_id: int, after: int = 0, limit: int | None = None
) -> tuple[list[LogLine], int] | None:
    """A job's log lines after ``after`` (oldest first) and how many were dropped; None if not visible."""
    with engine.connect() as connection:
        dropped = connection.execute(sa.select(JOB.c.log_dropped).where(_visible(viewer, job_id))).first()
        if dropped is None:
            return None
        query = (
            sa.select(JOB_LOG.c.seq, JOB_LOG.c.at, JOB_LOG.c.level, JOB_LOG.c.message)
            .where(JOB_LOG.c.job_id == job_id, JOB_LOG.c.seq > after)
            .order_by(JOB_LOG.c.seq)
            .limit(limit)
        )
        lines = [LogLine(row.seq, row.at, row.level, row.message) for row in connection.execute(query)]
    return lines, int(dropped[0])
