"""Job, subtask and job-file queries. The API and the pages both read through these functions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, func, select

from app.storage.db import session
from app.storage.files import StoredFile
from app.storage.models import Job, JobFile, Status, Subtask, User, utcnow

INTERRUPTED = 'Interrupted: the server stopped while this job was running'


@dataclass(frozen=True, slots=True)
class NewFile:
    role: str
    filename: str
    stored: StoredFile


def job_row(job: Job, username: str | None = None) -> dict[str, Any]:
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
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def create_job(
    engine: sa.Engine,
    *,
    job_type: str,
    name: str,
    category: str,
    description: str,
    run_by_id: int,
    run_at: str,
    params: dict[str, Any],
    input_files: Sequence[NewFile] = (),
) -> dict[str, Any]:
    """Record a new In Progress job with its input files; returns its row."""
    with session(engine) as db:
        run_by = db.get(User, run_by_id)
        if run_by is None:
            raise ValueError(f'No user with id {run_by_id}')
        job = Job(
            job_type=job_type,
            run_by_name=run_by.username,
            name=name,
            category=category,
            description=description,
            run_by_id=run_by_id,
            run_at=run_at,
            params=params,
        )
        db.add(job)
        db.flush()
        assert job.id is not None
        for new_file in input_files:
            db.add(_job_file(job.id, new_file))
        db.commit()
        return _row(db, job)


def add_file(engine: sa.Engine, *, job_id: int, new_file: NewFile) -> JobFile:
    """Attach a stored file to a job."""
    with session(engine) as db:
        job_file = _job_file(job_id, new_file)
        db.add(job_file)
        db.commit()
        return job_file


def _job_file(job_id: int, new_file: NewFile) -> JobFile:
    return JobFile(
        job_id=job_id,
        role=new_file.role,
        filename=new_file.filename,
        relative_path=new_file.stored.relative_path,
        size=new_file.stored.size,
        sha256=new_file.stored.sha256,
    )


def start_subtask(engine: sa.Engine, *, job_id: int, name: str) -> Subtask:
    """Append an In Progress subtask to a job."""
    with session(engine) as db:
        position = db.exec(select(func.count()).where(Subtask.job_id == job_id)).one()
        subtask = Subtask(job_id=job_id, position=position, name=name)
        db.add(subtask)
        db.commit()
        return subtask


def finish_subtask(engine: sa.Engine, *, subtask_id: int, status: Status, message: str = '') -> None:
    with session(engine) as db:
        subtask = db.get(Subtask, subtask_id)
        assert subtask is not None
        subtask.status, subtask.message, subtask.updated_at = status, message, utcnow()
        db.commit()


def set_progress(engine: sa.Engine, *, job_id: int, done: int, total: int) -> dict[str, Any]:
    with session(engine) as db:
        job = db.get(Job, job_id)
        assert job is not None
        job.progress_done, job.progress_total = done, total
        db.commit()
        return _row(db, job)


def finish_job(engine: sa.Engine, *, job_id: int, error: str | None = None) -> dict[str, Any]:
    """End a job: Completed, or Failed with ``error``; subtasks still open fail with it."""
    now = utcnow()
    with session(engine) as db:
        job = db.get(Job, job_id)
        assert job is not None
        job.ended_at = now
        if error is None:
            job.status = Status.COMPLETED
        else:
            job.status, job.failed_at, job.error = Status.FAILED, now, error
            _fail_open_subtasks(db, [job_id], error, now)
        db.commit()
        return _row(db, job)


def fail_interrupted(engine: sa.Engine) -> list[dict[str, Any]]:
    """Mark every job (and subtask) left In Progress by a crash as Failed; returns their rows."""
    now = utcnow()
    with session(engine) as db:
        jobs = list(db.exec(select(Job).where(Job.status == Status.IN_PROGRESS)))
        for job in jobs:
            job.status, job.ended_at, job.failed_at, job.error = Status.FAILED, now, now, INTERRUPTED
        _fail_open_subtasks(db, [job.id for job in jobs if job.id is not None], INTERRUPTED, now)
        db.commit()
        return [_row(db, job) for job in jobs]


def _fail_open_subtasks(db: Any, job_ids: list[int], message: str, now: datetime) -> None:
    if job_ids:
        db.execute(
            sa.update(Subtask)
            .where(col(Subtask.job_id).in_(job_ids), col(Subtask.status) == Status.IN_PROGRESS)
            .values(status=Status.FAILED, message=message, updated_at=now)
        )


def _row(db: Any, job: Job) -> dict[str, Any]:
    return job_row(job)


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
    detail = job_row(job)
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
    with session(engine) as db:
        query = select(JobFile).where(JobFile.job_id == job_id)
        if role is not None:
            query = query.where(JobFile.role == role)
        return list(db.exec(query.order_by(col(JobFile.id))))


def job_owner(engine: sa.Engine, job_id: int) -> int | None:
    with session(engine) as db:
        return db.exec(select(Job.run_by_id).where(Job.id == job_id)).first()
