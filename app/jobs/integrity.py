"""The Storage Integrity Check task: recorded files against the disk, and files on disk nobody records."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from app.jobs.context import Cancelled, JobContext
from app.jobs.reports import CsvReport, quantity, utc_stamp
from app.storage import maintenance
from app.storage.files import FileStore, UnsafePath, hash_file
from app.storage.models import JobFile

HEADER = ('problem', 'file_id', 'job_id', 'path', 'detail')
BATCH = 200
STEPS = {'List stored files': 5, 'Check recorded files': 85, 'Find orphaned files': 5, 'Write report': 5}
Problem = tuple[str, int | str, int | str, str, str]


async def run_integrity_check(ctx: JobContext) -> None:
    """Storage Integrity Check: size and sha256 of every job file, and orphans; Failed if anything is wrong."""
    filename = f'integrity-report-{utc_stamp()}.csv'
    problems: Counter[str] = Counter()
    report: CsvReport = await ctx.run_blocking(CsvReport, ctx.temp_path(), HEADER)
    ctx.plan(STEPS)
    try:
        await _check(ctx, report, filename, problems)
    except Cancelled:  # the problems found so far are still worth having
        await ctx.add_output(filename, await ctx.run_blocking(report.close))
        ctx.log(f'Cancelled; {filename} lists the {quantity(report.rows, "problem")} found so far', 'warning')
        raise
    finally:
        report.discard()
    if problems:
        ctx.fail(f'{quantity(sum(problems.values()), "problem")} found ({describe(problems)}); see {filename}')
    ctx.log(f'Integrity check: {describe(problems) or "no problems"}; report {filename}')


async def _check(ctx: JobContext, report: CsvReport, filename: str, problems: Counter[str]) -> None:
    """The four steps; problems go to ``report`` and are counted in ``problems``."""
    async with ctx.subtask('List stored files') as step:
        # Listed before the rows are read, so a file stored meanwhile is not mistaken for an orphan.
        unclaimed = set(await ctx.run_blocking(ctx.files.iter_stored))
        step.message = f'{quantity(len(unclaimed), "file")} in the storage directory'
    async with ctx.subtask('Check recorded files') as step:
        total = await ctx.db(maintenance.count_job_files)
        checked = last_id = 0
        while batch := await ctx.db(maintenance.job_files_after, after_id=last_id, limit=BATCH):
            found = await ctx.run_blocking(check_files, ctx.files, batch, unclaimed)
            await ctx.run_blocking(report.write, found)
            for kind, file_id, job_id, path, detail in found:
                ctx.log(f'{kind.replace("_", " ")}: file {file_id} of job {job_id} ({path}): {detail}', 'warning')
            problems.update(problem for problem, *_ in found)
            checked, last_id = checked + len(batch), batch[-1].id or 0
            ctx.progress(checked, max(total, checked))
            ctx.check_cancelled()
        step.message = f'{quantity(checked, "file")} checked'
        if problems:
            step.fail(f'{sum(problems.values()):,} of {quantity(checked, "file")} have problems')
    async with ctx.subtask('Find orphaned files') as step:
        candidates = sorted(unclaimed)
        # Rows committed after the scan passed (a job adding an output) still claim their files.
        claimed = await ctx.db(maintenance.recorded_paths, paths=candidates) if candidates else set()
        orphans = [path for path in candidates if path not in claimed]
        step.message = quantity(len(orphans), 'orphaned file')
        if orphans:
            found = await ctx.run_blocking(orphan_problems, ctx.files, orphans)
            await ctx.run_blocking(report.write, found)
            for _kind, _file, _job, path, detail in found:
                ctx.log(f'orphan: {path}: {detail}', 'warning')
            problems['orphan'] = len(orphans)
            step.fail(step.message)
    async with ctx.subtask('Write report') as step:
        await ctx.add_output(filename, await ctx.run_blocking(report.close))
        step.message = f'{filename}: {quantity(report.rows, "problem")}'


def check_files(files: FileStore, batch: Sequence[JobFile], unclaimed: set[str]) -> list[Problem]:
    """Compare each job file with the disk; claims the paths it sees from ``unclaimed``."""
    problems: list[Problem] = []
    for job_file in batch:
        unclaimed.discard(job_file.relative_path)
        problem = check_file(files, job_file)
        if problem is not None:
            kind, detail = problem
            problems.append((kind, job_file.id or '', job_file.job_id, job_file.relative_path, detail))
    return problems


def check_file(files: FileStore, job_file: JobFile) -> tuple[str, str] | None:
    """The problem with one job file as (problem, detail), or None when it is intact."""
    try:
        path = files.path(job_file.relative_path)
    except UnsafePath:
        return 'unsafe_path', 'the recorded path leaves the storage directory'
    if not path.is_file():
        return 'missing', f'no file for "{job_file.filename}"'
    size = path.stat().st_size
    if size != job_file.size:
        return 'size_mismatch', f'recorded {job_file.size:,} bytes, found {size:,} bytes'
    digest, _size = hash_file(path)
    if digest != job_file.sha256:
        return 'checksum_mismatch', f'recorded sha256 {job_file.sha256}, found {digest}'
    return None


def orphan_problems(files: FileStore, relative_paths: Sequence[str]) -> list[Problem]:
    """Report rows for stored files that no job file names."""
    problems: list[Problem] = []
    for relative_path in relative_paths:
        try:
            size = f'{files.path(relative_path).stat().st_size:,} bytes'
        except (OSError, UnsafePath):
            size = 'size unknown'
        problems.append(('orphan', '', '', relative_path, f'no job file names this file ({size})'))
    return problems


def describe(problems: Counter[str]) -> str:
    """``1 missing, 2 size mismatch`` in a stable order."""
    order = ('missing', 'size_mismatch', 'checksum_mismatch', 'unsafe_path', 'orphan')
    return ', '.join(f'{problems[kind]:,} {kind.replace("_", " ")}' for kind in order if problems[kind])
