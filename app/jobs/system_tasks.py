"""System tasks: Database Backup, Purge Old Jobs, Storage Integrity Check."""

from __future__ import annotations

from app.jobs.context import JobContext
from app.jobs.registry import JobType
from app.storage.models import Category


async def run_backup(ctx: JobContext) -> None:
    raise NotImplementedError('Database Backup is not implemented yet')


async def run_purge(ctx: JobContext) -> None:
    raise NotImplementedError('Purge Old Jobs is not implemented yet')


async def run_integrity_check(ctx: JobContext) -> None:
    raise NotImplementedError('Storage Integrity Check is not implemented yet')


DATABASE_BACKUP = JobType(
    key='database_backup',
    name='Database Backup',
    category=Category.GENERAL,
    run=run_backup,
    summary='Consistent, compressed snapshot of the database',
)
PURGE_OLD_JOBS = JobType(
    key='purge_old_jobs',
    name='Purge Old Jobs',
    category=Category.GENERAL,
    run=run_purge,
    summary='Deletes jobs that ended longer ago than the retention period, with their files',
)
STORAGE_INTEGRITY_CHECK = JobType(
    key='storage_integrity_check',
    name='Storage Integrity Check',
    category=Category.GENERAL,
    run=run_integrity_check,
    summary='Checks every stored file against its recorded size and checksum, and finds orphans',
)
TASKS = (DATABASE_BACKUP, PURGE_OLD_JOBS, STORAGE_INTEGRITY_CHECK)
