"""System tasks: Database Backup, Purge Old Jobs, Storage Integrity Check (scheduled from the settings)."""

from __future__ import annotations

from app.jobs.backup import run_backup
from app.jobs.integrity import run_integrity_check
from app.jobs.purge import run_purge
from app.jobs.registry import JobType
from app.storage.models import Category

DATABASE_BACKUP = JobType(
    key='database_backup',
    name='Database Backup',
    category=Category.GENERAL,
    run=run_backup,
    summary='Consistent, compressed snapshot of the database',
    system=True,
)
PURGE_OLD_JOBS = JobType(
    key='purge_old_jobs',
    name='Purge Old Jobs',
    category=Category.GENERAL,
    run=run_purge,
    summary='Deletes jobs that ended longer ago than the retention period, with their files',
    system=True,
)
STORAGE_INTEGRITY_CHECK = JobType(
    key='storage_integrity_check',
    name='Storage Integrity Check',
    category=Category.GENERAL,
    run=run_integrity_check,
    summary='Checks every stored file against its recorded size and checksum, and finds orphans',
    system=True,
)
TASKS = (DATABASE_BACKUP, PURGE_OLD_JOBS, STORAGE_INTEGRITY_CHECK)
