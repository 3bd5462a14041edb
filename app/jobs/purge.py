"""The Purge Old Jobs task: delete jobs that ended before the retention period, with their files."""

from __future__ import annotations

import logging
from datetime import timedelta

from app.jobs.context import Cancelled, JobContext
from app.jobs.reports import CsvReport, quantity, utc_stamp
from app.storage import maintenance
from app.storage.files import FileStore, UnsafePath
from app.storage.models import utcnow

HEADER = ('job_id', 'job', 'description', 'status', 'started_at', 'ended_at', 'run_by', 'files_removed', 'file_names')
BATCH = 500
STEPS = {'Find old jobs': 2, 'Delete jobs and files': 95, 'Write report': 3}
log = logging.getLogger('app.jobs')


async def run_purge(ctx: JobContext) -> None:
    """Purge Old Jobs: delete finished jobs older than ``retention_days`` in batches; report what was removed."""
    cutoff = utcnow() - timedelta(days=ctx.settings.retention_days)
    filename = f'purged-jobs-{utc_stamp()}.csv'
    ctx.plan(STEPS)
    async with ctx.subtask('Find old jobs') as step:
        total = await ctx.db(maintenance.count_purgeable, cutoff=cutoff, keep_job_id=ctx.job_id)
        step.message = f'{quantity(total, "job")} ended more than {ctx.settings.retention_days} days ago'
    report: CsvReport = await ctx.run_blocking(CsvReport, ctx.temp_path(), HEADER)
    try:
        async with ctx.subtask('Delete jobs and files') as step:
            jobs = files = kept = 0
            # Batches keep memory flat however many jobs are due; each batch is its own transaction.
            try:
                while batch := await ctx.db(
                    maintenance.purge_batch, cutoff=cutoff, keep_job_id=ctx.job_id, limit=BATCH
                ):
                    removed, failed = await ctx.run_blocking(remove_files, ctx.files, report, batch)
                    jobs, files, kept = jobs + len(batch), files + removed, kept + failed
                    ctx.log(f'Removed {quantity(len(batch), "job")} ({describe_ids(batch)}) and '
                            f'{quantity(removed, "file")}')  # fmt: skip
                    ctx.progress(jobs, max(total, jobs))
                    ctx.check_cancelled()
            except Cancelled:  # what was deleted is gone: the report still lists it
                await ctx.add_output(filename, await ctx.run_blocking(report.close))
                ctx.log(f'Cancelled after {quantity(jobs, "job")}; {filename} lists them', 'warning')
                raise
            step.message = f'{quantity(jobs, "job")} and {quantity(files, "file")} deleted'
            ctx.log(f'Purged {step.message} (ended before {cutoff:%Y-%m-%d %H:%M} UTC)')
            if kept:
                step.fail(f'{step.message}; {quantity(kept, "file")} could not be deleted (see the log)')
                ctx.fail(f'{quantity(kept, "stored file")} of purged jobs could not be deleted')
        async with ctx.subtask('Write report') as step:
            await ctx.add_output(filename, await ctx.run_blocking(report.close))
            step.message = f'{filename}: {quantity(report.rows, "job")}'
    finally:
        report.discard()


def describe_ids(batch: list[maintenance.PurgedJob]) -> str:
    """``jobs 4-9, 12``-style list of the purged job ids, short enough for one log line."""
    ids = sorted(job.id for job in batch)
    shown = ', '.join(str(job_id) for job_id in ids[:20])
    return f'ids {shown}' + (f' and {len(ids) - 20:,} more' if len(ids) > 20 else '')


def remove_files(files: FileStore, report: CsvReport, batch: list[maintenance.PurgedJob]) -> tuple[int, int]:
    """Delete the stored files of jobs already deleted from the database and list the jobs in the report.

    The rows go first: a file left behind by a failure here is only an orphan (the integrity check finds it),
    whereas a row whose file is gone would be a broken download. Returns (files removed, files that failed).
    """
    removed = failed = 0
    rows = []
    for job in batch:
        job_removed = 0
        for _name, relative_path in job.files:
            try:
                files.delete(relative_path)
                job_removed += 1
            except (OSError, UnsafePath) as error:
                log.warning('purge: could not delete stored file %r of job %s: %s', relative_path, job.id, error)
                failed += 1
        removed += job_removed
        rows.append((
            job.id,
            job.name,
            job.description,
            job.status,
            job.started_at.isoformat(),
            job.ended_at.isoformat() if job.ended_at else '',
            job.run_by,
            job_removed,
            '; '.join(name for name, _path in job.files),
        ))  # fmt: skip
    report.write(rows)
    return removed, failed
