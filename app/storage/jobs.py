"""Job, subtask and job-file queries. The API and the pages both read through these functions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel, col, select

from app.storage.db import Bind, session, transaction
from app.storage.files import StoredFile
from app.storage.models import FileRole, Job, JobFile, Status, Subtask, User, utcnow

INTERRUPTED = 'Interrupted: the server stopped while this job was running'
WORKER_LOST = 'Interrupted: the worker running this job stopped'


@dataclass(frozen=True, slots=True)
class NewFile:
    role: str
    filename: str
    stored: StoredFile


def job_row(job: Job | sa.Row[Any], username: str | None = None) -> dict[str, Any]:
    """A job as the API and the grids show it."""
    return {
        'id': job.id,
        'job': job.name,
        'category': job.category,
        'description': job.description,
        'status': job.status,
        'started_at': _iso(job.started_at),
        'ended_at': _iso(job.ended_at),
        'failed_at': _iso(job.failed_at),
        'run_by': username if username is not None else job.run_by_name,
        'run_at': job.run_at,
        'error': job.error if job.status == Status.FAILED else None,
        'progress_done': job.progress_done,
        'progress_total': job.progress_total,
        'attempts': job.attempts,
        'rerun_of': job.rerun_of,
        'cancelled_by': job.cancelled_by,
        'progress': progress_of(job),
        'progress_step': job.progress_step if job.status == Status.IN_PROGRESS else None,
        'log_seq': job.log_seq,
    }


def progress_of(job: Job | sa.Row[Any]) -> dict[str, Any] | None:
    """The contract's ``progress``: one scale for the whole job; 100 once Completed; the ETA only while running."""
    if job.status == Status.COMPLETED:
        return {'percent': 100.0, 'eta_seconds': None}
    if job.progress_percent is None:
        return None
    eta = job.progress_eta if job.status == Status.IN_PROGRESS else None
    return {'percent': round(min(job.progress_percent, 100.0), 1), 'eta_seconds': eta}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# The runtime writes a job's rows many times a second under load: these writes are plain Core statements with
# RETURNING (no ORM identity map, refresh or extra read). Given a connection, they join its transaction, which
# is how app.jobs.writer commits a burst of them at once; given an engine, each commits on its own.
JOB = SQLModel.metadata.tables['job']
SUBTASK = SQLModel.metadata.tables['subtask']
JOB_FILE = SQLModel.metadata.tables['job_file']
USER = SQLModel.metadata.tables['user']


# Built once: constructing a statement costs more than SQLite takes to run it.
_USERNAME = sa.select(USER.c.username).where(USER.c.id == sa.bindparam('user_id'))
_INSERT_JOB = sa.insert(JOB).returning(*JOB.c)
_INSERT_FILE = sa.insert(JOB_FILE).returning(*JOB_FILE.c)
_INSERT_SUBTASK = (
    sa.insert(SUBTASK)
    .values(position=sa.select(sa.func.count()).where(SUBTASK.c.job_id == sa.bindparam('of_job')).scalar_subquery())
    .returning(SUBTASK.c.id)
)
_UPDATE_SUBTASK = sa.update(SUBTASK).where(SUBTASK.c.id == sa.bindparam('subtask_id'))
_UPDATE_JOB = sa.update(JOB).where(JOB.c.id == sa.bindparam('job_id')).returning(*JOB.c)


def create_job(
    bind: Bind,
    *,
    job_type: str,
    name: str,
    category: str,
    description: str,
    run_by_id: int,
    run_at: str,
    params: dict[str, Any],
    input_files: Sequence[NewFile] = (),
    rerun_of: int | None = None,
) -> dict[str, Any]:
    """Record a new In Progress job with its input files (``rerun_of``: the job it runs again); returns its row."""
    with transaction(bind) as connection:
        username = connection.execute(_USERNAME, {'user_id': run_by_id}).scalar()
        if username is None:
            raise ValueError(f'No user with id {run_by_id}')
        values = {
            'job_type': job_type,
            'name': name,
            'category': category,
            'description': description,
            'status': Status.IN_PROGRESS,
            'started_at': utcnow(),
            'ended_at': None,
            'failed_at': None,
            'run_by_id': run_by_id,
            'run_by_name': username,
            'run_at': run_at,
            'progress_done': 0,
            'progress_total': 0,
            'error': None,
            'params': params,
            'rerun_of': rerun_of,
        }
        job = connection.execute(_INSERT_JOB, values).one()
        for new_file in input_files:
            connection.execute(_INSERT_FILE, _file_values(job.id, new_file))
        return job_row(job)


def add_file(bind: Bind, *, job_id: int, new_file: NewFile) -> JobFile:
    """Attach a stored file to a job."""
    with transaction(bind) as connection:
        row = connection.execute(_INSERT_FILE, _file_values(job_id, new_file)).one()
        return JobFile(**row._mapping)


def _file_values(job_id: int, new_file: NewFile) -> dict[str, Any]:
    return {
        'job_id': job_id,
        'role': new_file.role,
        'filename': new_file.filename,
        'relative_path': new_file.stored.relative_path,
        'size': new_file.stored.size,
        'sha256': new_file.stored.sha256,
        'created_at': utcnow(),
    }


def start_subtask(bind: Bind, *, job_id: int, name: str) -> int:
    """Append an In Progress subtask to a job; returns its id."""
    values = {'of_job': job_id, 'job_id': job_id, 'name': name, 'status': Status.IN_PROGRESS, 'updated_at': utcnow(),
              'message': ''}  # fmt: skip
    with transaction(bind) as connection:
        subtask_id: int = connection.execute(_INSERT_SUBTASK, values).scalar_one()
        return subtask_id


def finish_subtask(bind: Bind, *, subtask_id: int, status: Status, message: str = '') -> None:
    """End a subtask with ``status`` and ``message``."""
    with transaction(bind) as connection:
        connection.execute(
            _UPDATE_SUBTASK, {'subtask_id': subtask_id, 'status': status, 'message': message, 'updated_at': utcnow()}
        )


def set_progress(
    bind: Bind,
    *,
    job_id: int,
    done: int,
    total: int,
    percent: float | None = None,
    eta: float | None = None,
    step: str | None = None,
) -> dict[str, Any]:
    """Record how far a job got; its percent only ever grows (whatever attempt or node reports it)."""
    values: dict[str, Any] = {'progress_done': done, 'progress_total': total}
    if percent is not None:
        current = sa.func.coalesce(JOB.c.progress_percent, 0.0)
        values['progress_percent'] = sa.case((current > percent, current), else_=sa.literal(percent, sa.Float))
        values['progress_eta'] = eta
        values['progress_step'] = step
    statement = sa.update(JOB).where(JOB.c.id == job_id).values(values).returning(*JOB.c)
    with transaction(bind) as connection:
        return job_row(connection.execute(statement).one())


def finish_job(bind: Bind, *, job_id: int, error: str | None = None) -> dict[str, Any]:
    """End a job: Completed, or Failed with ``error``; subtasks still open fail with it.

    A job someone asked to cancel ends Failed "Cancelled by <name>", whatever its handler made of it.
    """
    now = utcnow()
    with transaction(bind) as connection:
        cancelled_by = connection.execute(sa.select(JOB.c.cancelled_by).where(JOB.c.id == job_id)).scalar()
        if cancelled_by is not None:
            error = cancelled_message(cancelled_by)
        values = {
            'job_id': job_id,
            'status': Status.COMPLETED if error is None else Status.FAILED,
            'ended_at': now,
            'failed_at': None if error is None else now,
            'error': error,
        }
        job = connection.execute(_UPDATE_JOB, values).one()
        if error is not None:
            _fail_open_subtasks(connection, [job_id], 'Cancelled' if cancelled_by is not None else error, now)
        return job_row(job)


def cancelled_message(username: str) -> str:
    """The error of a cancelled job."""
    return f'Cancelled by {username}'


def job_rows(engine: sa.Engine, *, job_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The rows of these jobs, as the grids show them (missing ids are left out)."""
    with engine.connect() as connection:
        return [job_row(job) for job in connection.execute(sa.select(JOB).where(JOB.c.id.in_(job_ids)))]


def set_engine_job_id(connection: sa.Connection, *, job_id: int, engine_job_id: int) -> None:
    """Remember the executor's id for the run (in the transaction that recorded the job)."""
    connection.execute(sa.update(JOB).where(JOB.c.id == job_id).values(engine_job_id=engine_job_id))


def is_running(bind: Bind, *, job_type: str, lock: bool = False) -> bool:
    """Whether a job of this type is In Progress. With ``lock`` (inside a write), PostgreSQL serialises the
    check per job type until the transaction ends, so two nodes cannot both see "not running"."""
    with transaction(bind) as connection:
        if lock and connection.dialect.name == 'postgresql':
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(f'job_type:{job_type}'))))
        query = sa.select(JOB.c.id).where(JOB.c.status == Status.IN_PROGRESS, JOB.c.job_type == job_type).limit(1)
        return connection.execute(query).first() is not None


def running_types(engine: sa.Engine, *, job_types: Sequence[str]) -> set[str]:
    """Which of these job types have a job In Progress."""
    query = sa.select(JOB.c.job_type).where(JOB.c.status == Status.IN_PROGRESS, JOB.c.job_type.in_(job_types))
    with engine.connect() as connection:
        return set(connection.execute(query.distinct()).scalars())


def job_for_run(bind: Bind, *, job_id: int) -> dict[str, Any] | None:
    """What a worker needs to run a recorded job: type, owner, category, params, status."""
    columns = (JOB.c.job_type, JOB.c.run_by_id, JOB.c.category, JOB.c.params, JOB.c.status, JOB.c.attempts,
               JOB.c.log_seq, JOB.c.cancelled_by)  # fmt: skip
    with transaction(bind) as connection:
        row = connection.execute(sa.select(*columns).where(JOB.c.id == job_id)).first()
        return dict(row._mapping) if row is not None else None


def start_attempt(bind: Bind, *, job_id: int, attempt: int) -> tuple[dict[str, Any], list[str]]:
    """Start the job again after its worker died: count the attempt and drop the outputs and error reports
    of the interrupted one (they are made again). Returns the job row and the stored paths to delete."""
    with transaction(bind) as connection:
        files = sa.select(JOB_FILE.c.id, JOB_FILE.c.relative_path).where(
            JOB_FILE.c.job_id == job_id, JOB_FILE.c.role != FileRole.INPUT
        )
        old = connection.execute(files).all()
        if old:
            connection.execute(sa.delete(JOB_FILE).where(JOB_FILE.c.id.in_([file.id for file in old])))
        values = {'job_id': job_id, 'attempts': attempt, 'progress_done': 0, 'progress_total': 0}
        job = connection.execute(_UPDATE_JOB, values).one()
        return job_row(job), [file.relative_path for file in old]


def interrupt_attempt(bind: Bind, *, job_id: int, message: str) -> None:
    """End the attempt the job's worker could not finish: the step it was in fails with ``message`` (a step the
    cancellation already failed as Interrupted is told the same); the job stays In Progress for its next attempt."""
    interrupted = sa.or_(
        SUBTASK.c.status == Status.IN_PROGRESS,
        sa.and_(SUBTASK.c.status == Status.FAILED, SUBTASK.c.message == INTERRUPTED),
    )
    with transaction(bind) as connection:
        connection.execute(
            sa.update(SUBTASK)
            .where(SUBTASK.c.job_id == job_id, interrupted)
            .values(status=Status.FAILED, message=message, updated_at=utcnow())
        )


def fail_interrupted(engine: sa.Engine) -> list[tuple[dict[str, Any], int]]:
    """Mark every job (and subtask) left In Progress by a crash as Failed; returns their rows and owners."""
    now = utcnow()
    with session(engine) as db:
        jobs = list(db.exec(select(Job).where(Job.status == Status.IN_PROGRESS)))
        for job in jobs:
            error = cancelled_message(job.cancelled_by) if job.cancelled_by else INTERRUPTED  # asked to stop anyway
            job.status, job.ended_at, job.failed_at, job.error = Status.FAILED, now, now, error
        _fail_open_subtasks(db, [job.id for job in jobs if job.id is not None], INTERRUPTED, now)
        db.commit()
        return [(job_row(job), job.run_by_id) for job in jobs]


def _fail_open_subtasks(db: Any, job_ids: list[int], message: str, now: datetime) -> None:
    if job_ids:
        db.execute(
            sa.update(SUBTASK)
            .where(SUBTASK.c.job_id.in_(job_ids), SUBTASK.c.status == Status.IN_PROGRESS)
            .values(status=Status.FAILED, message=message, updated_at=now)
        )


def visible_to(query: Any, viewer: User) -> Any:
    """Restrict a job query to what ``viewer`` may see: admins everything, others their own jobs."""
    return query if viewer.is_admin else query.where(Job.run_by_id == viewer.id)


def get_job(engine: sa.Engine, *, viewer: User, job_id: int) -> dict[str, Any] | None:
    """A job with its subtasks and files, or None when it does not exist or ``viewer`` may not see it."""
    with session(engine) as db:
        job = db.exec(visible_to(select(Job), viewer).where(Job.id == job_id)).first()
        if job is None:
            return None
        subtasks = db.exec(select(Subtask).where(Subtask.job_id == job_id).order_by(col(Subtask.position))).all()
        files = db.exec(select(JobFile).where(JobFile.job_id == job_id).order_by(col(JobFile.id))).all()
        reruns = list(db.exec(select(Job.id).where(Job.rerun_of == job_id).order_by(col(Job.id))))
    detail = job_row(job)
    detail['reruns'] = reruns
    detail['job_type'] = job.job_type
    detail['subtasks'] = [
        {'name': s.name, 'status': s.status, 'updated_at': _iso(s.updated_at), 'message': s.message} for s in subtasks
    ]
    detail['files'] = [
        {'id': f.id, 'role': f.role, 'filename': f.filename, 'size': f.size, 'url': f'/files/{f.id}'} for f in files
    ]
    return detail


def get_file(engine: sa.Engine, *, viewer: User, file_id: int) -> JobFile | None:
    """A job file, or None when it does not exist or ``viewer`` may not see its job."""
    with session(engine) as db:
        query = select(JobFile).join(Job, col(Job.id) == JobFile.job_id).where(JobFile.id == file_id)
        return db.exec(visible_to(query, viewer)).first()


def job_files(engine: sa.Engine, *, job_id: int, role: str | None = None) -> list[JobFile]:
    """A job's files (of one ``role`` if given), oldest first."""
    with session(engine) as db:
        query = select(JobFile).where(JobFile.job_id == job_id)
        if role is not None:
            query = query.where(JobFile.role == role)
        return list(db.exec(query.order_by(col(JobFile.id))))
