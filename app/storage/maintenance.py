"""Queries and database access behind the system tasks: snapshots, purging old jobs, listing stored files."""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, func, select

from app.storage.db import libpq_url, session
from app.storage.jobs import job_row, visible_to
from app.storage.models import Job, JobFile, JobLog, Status, Subtask, User

SEARCH_PATH = re.compile(r'-c\s*search_path\s*=\s*(\S+)')


@dataclass(frozen=True, slots=True)
class PurgedJob:
    """A deleted job as the purge report lists it; ``files`` are (file name, stored relative path)."""

    id: int
    name: str
    description: str
    status: str
    started_at: datetime
    ended_at: datetime | None
    run_by: str
    files: tuple[tuple[str, str], ...]


def backup_sqlite(engine: sa.Engine, target: Path) -> None:
    """Copy a consistent snapshot of a SQLite database into a new file with the online backup API."""
    with contextlib.closing(engine.raw_connection()) as raw:
        source = raw.driver_connection
        assert isinstance(source, sqlite3.Connection)
        with contextlib.closing(sqlite3.connect(target)) as copy:
            # One step: the snapshot is taken in one read transaction, so concurrent writers never restart it.
            source.backup(copy)
            # The live database runs in WAL mode; a backup should be one self-contained file.
            copy.execute('PRAGMA journal_mode=DELETE')


def dump_postgres(engine: sa.Engine, pg_dump: str, target: Path) -> None:
    """Write a consistent ``pg_dump`` (plain SQL) of the application's database to ``target``."""
    url = engine.url
    command = [pg_dump, '--format=plain', '--no-password', f'--dbname={libpq_url(url)}']
    command += [f'--schema={schema}' for schema in search_path_schemas(url)]
    env = dict(os.environ)
    if url.password is not None:
        env['PGPASSWORD'] = str(url.password)  # not on the command line, where `ps` would show it
    with target.open('wb') as output, tempfile.TemporaryFile() as errors:
        # pg_dump runs in one repeatable-read transaction, so the dump is consistent while jobs keep writing.
        returncode = subprocess.run(command, stdout=output, stderr=errors, env=env, check=False).returncode
        if returncode != 0:
            errors.seek(0)
            detail = errors.read().decode(errors='replace').strip()
            raise RuntimeError(f'pg_dump failed (exit code {returncode}): {detail}')


def search_path_schemas(url: sa.URL) -> list[str]:
    """Schemas named by a ``-c search_path=...`` connection option; the application's tables live there."""
    options = url.query.get('options', '')
    text = ' '.join(options) if isinstance(options, tuple) else options
    match = SEARCH_PATH.search(text)
    if match is None:
        return []
    names = (name.strip().strip('"') for name in match.group(1).split(','))
    return [name for name in names if name and name != '$user']


def count_purgeable(engine: sa.Engine, *, cutoff: datetime, keep_job_id: int) -> int:
    """How many finished jobs ended before ``cutoff`` (``keep_job_id`` excluded)."""
    with session(engine) as db:
        return db.exec(_purgeable(select(func.count()).select_from(Job), cutoff, keep_job_id)).one()


def purge_batch(engine: sa.Engine, *, cutoff: datetime, keep_job_id: int, limit: int = 500) -> list[PurgedJob]:
    """Delete up to ``limit`` finished jobs that ended before ``cutoff``, oldest first, with their subtasks and
    file rows, in one transaction; returns what was deleted so its stored files can be removed and listed."""
    query = select(Job, User.username).join(User, col(User.id) == Job.run_by_id)
    query = _purgeable(query, cutoff, keep_job_id).order_by(col(Job.ended_at), col(Job.id)).limit(limit)
    with session(engine) as db:
        found = db.exec(query).all()
        ids = [job.id for job, _ in found if job.id is not None]
        if not ids:
            return []
        files: dict[int, list[tuple[str, str]]] = {}
        for job_file in db.exec(select(JobFile).where(col(JobFile.job_id).in_(ids)).order_by(col(JobFile.id))):
            files.setdefault(job_file.job_id, []).append((job_file.filename, job_file.relative_path))
        # Explicit deletes rather than relying on ON DELETE CASCADE, which SQLite only honours with the pragma on.
        db.execute(sa.delete(JobFile).where(col(JobFile.job_id).in_(ids)))
        db.execute(sa.delete(Subtask).where(col(Subtask.job_id).in_(ids)))
        db.execute(sa.delete(JobLog).where(col(JobLog.job_id).in_(ids)))
        db.execute(sa.delete(Job).where(col(Job.id).in_(ids)))
        db.commit()
    return [
        PurgedJob(
            id=job.id,
            name=job.name,
            description=job.description,
            status=job.status,
            started_at=job.started_at,
            ended_at=job.ended_at,
            run_by=username,
            files=tuple(files.get(job.id, ())),
        )
        for job, username in found
        if job.id is not None
    ]


def _purgeable(query: Any, cutoff: datetime, keep_job_id: int) -> Any:
    # ended_at is NULL while a job runs; the status test also keeps a job that is running again by mistake.
    return query.where(col(Job.ended_at) < cutoff, col(Job.status) != Status.IN_PROGRESS, col(Job.id) != keep_job_id)


def count_job_files(engine: sa.Engine) -> int:
    """How many job files are recorded."""
    with session(engine) as db:
        return db.exec(select(func.count()).select_from(JobFile)).one()


def job_files_after(engine: sa.Engine, *, after_id: int, limit: int = 500) -> list[JobFile]:
    """The next ``limit`` job files by id after ``after_id`` (keyset paging, so any number of files is fine)."""
    with session(engine) as db:
        query = select(JobFile).where(col(JobFile.id) > after_id).order_by(col(JobFile.id)).limit(limit)
        return list(db.exec(query))


def recorded_paths(engine: sa.Engine, *, paths: Sequence[str]) -> set[str]:
    """Which of ``paths`` some job file names."""
    found: set[str] = set()
    with session(engine) as db:
        for start in range(0, len(paths), 500):
            chunk = paths[start : start + 500]
            found.update(db.exec(select(JobFile.relative_path).where(col(JobFile.relative_path).in_(chunk))))
    return found


def latest_jobs(engine: sa.Engine, *, viewer: User, job_types: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The newest job ``viewer`` may see of each type, as a grid row, keyed by job type."""
    latest: dict[str, dict[str, Any]] = {}
    with session(engine) as db:
        for job_type in job_types:
            query = select(Job, User.username).join(User, col(User.id) == Job.run_by_id)
            query = visible_to(query.where(Job.job_type == job_type), viewer).order_by(col(Job.id).desc()).limit(1)
            found = db.exec(query).first()
            if found is not None:
                latest[job_type] = job_row(*found)
    return latest
