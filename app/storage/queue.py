"""procrastinate's queue as our own transactions see it: the few SQL calls its public API cannot make for us.

procrastinate (the cluster executor, app.jobs.cluster) is otherwise used through its public API, deferring
included (``configure_task(connection=...)`` joins our transaction). What is left here must share one
transaction with the app's job row, which procrastinate's API cannot do: taking over a stalled run only while
its dead worker still holds it, and finding job rows whose queue entry is gone. These calls name versioned SQL
functions of procrastinate's schema, so pyproject.toml pins procrastinate to the minor version they were checked
against, and tests/storage/test_queue.py checks that the installed schema has each with the arguments we pass.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.storage import jobs as queries
from app.storage.models import Status

log = logging.getLogger('app.storage')

# Each versioned function called below, with the argument types PostgreSQL reports for it.
FUNCTIONS = {
    'procrastinate_retry_job_v2': 'job_id bigint, retry_at timestamp with time zone, new_priority integer, '
    'new_queue_name character varying, new_lock character varying',
    'procrastinate_finish_job_v1': 'job_id bigint, end_status procrastinate_job_status, delete_job boolean',
    'procrastinate_cancel_job_v1': 'job_id bigint, abort boolean, delete_job boolean',
}
# And the columns of procrastinate's job table that the queries below read.
JOB_COLUMNS = ('id', 'status', 'worker_id')


@dataclass(frozen=True, slots=True)
class TakenOver:
    job_id: int
    owner_id: int = 0
    category: str = ''
    row: dict[str, Any] | None = None  # the job's row when it ended (failed at its last attempt)


def take_over(
    engine: sa.Engine, *, engine_job_id: int, worker_id: int | None, retry: bool, job_id: Any, message: str
) -> TakenOver | None:
    """Queue a stalled run again (``retry``) or fail it, in one transaction with the app's job row, and only while
    the dead worker still holds it: another node may have queued it again and a live worker claimed it since the
    stalled list was read. Returns None when there was nothing left to do."""
    with engine.begin() as connection:
        held = connection.execute(_STILL_HELD, {'id': engine_job_id, 'worker': worker_id}).first()
        if held is None:
            return None
        connection.execute(_RETRY if retry else _FAIL, {'id': engine_job_id})
        if not isinstance(job_id, int):  # a scheduled launch: nothing of the app's to update
            return TakenOver(job_id=0)
        job = connection.execute(_JOB_STATE, {'id': job_id}).first()
        if job is None or job.status != Status.IN_PROGRESS:
            return TakenOver(job_id=job_id)
        if retry:
            queries.interrupt_attempt(connection, job_id=job_id, message=message)
            return TakenOver(job_id, job.run_by_id, job.category)
        row = queries.finish_job(connection, job_id=job_id, error=message)
        return TakenOver(job_id, job.run_by_id, job.category, row)


def fail_orphaned(engine: sa.Engine) -> list[tuple[dict[str, Any], int]]:
    """Fail In Progress jobs that no queue entry will ever run (say, left by a crash of a single-node setup
    before this database served a cluster); returns their rows and owners."""
    with engine.connect() as connection:
        orphans = connection.execute(_ORPHANS).all()
    failed = []
    for job_id, owner_id in orphans:
        log.warning('job %s has no queued run left; marking it failed', job_id)
        failed.append((queries.finish_job(engine, job_id=job_id, error=queries.INTERRUPTED), owner_id))
    return failed


_STILL_HELD = sa.text(
    "SELECT 1 FROM procrastinate_jobs WHERE id = :id AND status = 'doing'"
    ' AND worker_id IS NOT DISTINCT FROM :worker FOR UPDATE'
)
_CANCEL = sa.text('SELECT procrastinate_cancel_job_v1(:id, false, false)')
_RETRY = sa.text('SELECT procrastinate_retry_job_v2(:id, now(), NULL, NULL, NULL)')
_FAIL = sa.text("SELECT procrastinate_finish_job_v1(:id, 'failed', false)")
_JOB_STATE = sa.text('SELECT status, run_by_id, category FROM job WHERE id = :id')
_ORPHANS = sa.text(
    "SELECT id, run_by_id FROM job WHERE status = 'in_progress' AND NOT EXISTS ("
    "SELECT 1 FROM procrastinate_jobs q WHERE q.id = job.engine_job_id AND q.status IN ('todo', 'doing'))"
)


def cancel_queued(connection: sa.Connection, *, engine_job_id: int) -> bool:
    """Cancel a queue entry no worker has claimed yet (procrastinate's own cancel); False once a worker has it."""
    return connection.execute(_CANCEL, {'id': engine_job_id}).scalar() is not None
