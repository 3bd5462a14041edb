"""The Database Backup task: snapshot, gzip, verify by reopening, keep as the job's output file."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import re
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

from app.jobs.context import JobContext
from app.jobs.reports import quantity, utc_stamp
from app.storage import maintenance
from app.units import size_text

CHUNK = 1024 * 1024
Progress = Callable[[int, int], None]


def _ignore(_done: int, _total: int) -> None:
    pass


PG_DUMP_MISSING = 'pg_dump is not installed; install the PostgreSQL client tools to back up a PostgreSQL database'
DUMP_HEADER = b'-- PostgreSQL database dump'
DUMP_COMPLETE = b'-- PostgreSQL database dump complete'
JOB_TABLE = re.compile(rb'^CREATE TABLE (?:\S+\.)?"?job"? \(', re.MULTILINE)
STEPS = {'Snapshot database': 50, 'Compress snapshot': 30, 'Verify backup': 17, 'Store backup': 3}
JOB_COPY = re.compile(rb'^COPY (?:\S+\.)?"?job"? \(')


async def run_backup(ctx: JobContext) -> None:
    """Database Backup: a consistent snapshot (SQLite online backup or pg_dump), gzip-compressed and verified."""
    sqlite = ctx.engine.dialect.name == 'sqlite'
    filename = f'backup-{utc_stamp()}.{"sqlite" if sqlite else "sql"}.gz'
    snapshot, compressed, restored = ctx.temp_path(), ctx.temp_path(), ctx.temp_path()
    ctx.plan(STEPS)
    try:
        async with ctx.subtask('Snapshot database') as step:
            if sqlite:
                # A long copy: the worker pool keeps it away from the pool that records job progress.
                await ctx.run_blocking(maintenance.backup_sqlite, ctx.engine, snapshot)
            else:
                pg_dump = shutil.which('pg_dump')
                if pg_dump is None:
                    raise RuntimeError(PG_DUMP_MISSING)
                await ctx.run_blocking(maintenance.dump_postgres, ctx.engine, pg_dump, snapshot)
            step.message = f'{size_text(snapshot.stat().st_size)} {"copied" if sqlite else "dumped"}'
            ctx.log(f'Snapshot: {step.message}')
        async with ctx.subtask('Compress snapshot') as step:
            digest = await ctx.run_blocking(compress, snapshot, compressed, _watch(ctx))
            step.message = f'{size_text(compressed.stat().st_size)} compressed'
            snapshot.unlink()
        async with ctx.subtask('Verify backup') as step:
            if await ctx.run_blocking(decompress, compressed, restored, _watch(ctx)) != digest:
                raise RuntimeError('The compressed backup does not decompress to the snapshot')
            jobs = await ctx.run_blocking(verify_sqlite if sqlite else verify_dump, restored)
            step.message = f'Reopened the backup: {quantity(jobs, "job")}'
            ctx.log(f'Verified: {step.message}')
            restored.unlink()
        async with ctx.subtask('Store backup') as step:
            size = compressed.stat().st_size
            await ctx.add_output(filename, compressed)
            step.message = filename
            ctx.log(f'Backup stored as {filename} ({size_text(size)})')
    finally:
        for path in (snapshot, compressed, restored):
            path.unlink(missing_ok=True)


def compress(source: Path, target: Path, progress: Progress = _ignore) -> str:
    """Gzip ``source`` into ``target``; returns the sha256 of the uncompressed bytes. ``progress`` hears bytes
    read of the size after each chunk (and may raise to stop)."""
    digest = hashlib.sha256()
    size, done = source.stat().st_size, 0
    with source.open('rb') as reader, gzip.open(target, 'wb', compresslevel=6) as writer:
        while chunk := reader.read(CHUNK):
            digest.update(chunk)
            writer.write(chunk)
            done += len(chunk)
            progress(done, max(size, done))
    return digest.hexdigest()


def decompress(source: Path, target: Path, progress: Progress = _ignore) -> str:
    """Gunzip ``source`` into ``target``; returns the sha256 of the uncompressed bytes (``progress``: compressed
    bytes read of the compressed size, as for ``compress``)."""
    digest = hashlib.sha256()
    size = source.stat().st_size
    with source.open('rb') as raw, gzip.open(raw, 'rb') as reader, target.open('wb') as writer:
        while chunk := reader.read(CHUNK):
            digest.update(chunk)
            writer.write(chunk)
            progress(min(raw.tell(), size), size)
    return digest.hexdigest()


def _watch(ctx: JobContext) -> Progress:
    """Progress of a long copy from its worker thread, which is also where it learns of a cancel."""

    def report(done: int, total: int) -> None:
        ctx.check_cancelled()
        ctx.progress(done, total)

    return report


def verify_sqlite(path: Path) -> int:
    """Open a restored SQLite backup read-only, check its integrity; returns how many jobs it holds."""
    with contextlib.closing(sqlite3.connect(f'{path.as_uri()}?mode=ro', uri=True)) as database:
        result = database.execute('PRAGMA integrity_check').fetchall()
        if result != [('ok',)]:
            raise RuntimeError(f'The backup failed its integrity check: {"; ".join(str(r[0]) for r in result[:5])}')
        count: int = database.execute('SELECT count(*) FROM job').fetchone()[0]
        return count


def verify_dump(path: Path) -> int:
    """Read a restored pg_dump file through; returns how many job rows it holds."""
    jobs, in_job_copy, has_job_table, complete = 0, False, False, False
    with path.open('rb') as dump:
        if DUMP_HEADER not in dump.read(256):
            raise RuntimeError('The backup is not a PostgreSQL dump')
        dump.seek(0)
        for line in dump:
            if in_job_copy:
                in_job_copy = line != b'\\.\n'
                jobs += in_job_copy
            elif JOB_TABLE.match(line):
                has_job_table = True
            elif JOB_COPY.match(line):
                in_job_copy = True
            elif line.startswith(DUMP_COMPLETE):
                complete = True
    if not has_job_table:
        raise RuntimeError('The backup has no job table')
    if not complete:
        raise RuntimeError('The backup is incomplete: pg_dump did not finish it')
    return jobs
