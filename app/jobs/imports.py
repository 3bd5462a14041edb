"""The Contacts Import job: validate a CSV, upsert contacts, write the result and error reports."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import csv
import functools
import io
import logging
import operator
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, TypeVar

import sqlalchemy as sa

from app.jobs import contacts_csv
from app.jobs.contacts_csv import ERROR_HEADER, FileProblem, Summary
from app.jobs.context import Cancelled, JobContext, describe_error
from app.jobs.registry import JobType
from app.jobs.reports import FORMULA_STARTS, CsvReport, quantity, safe_cell
from app.storage.contacts import ContactBatch, Written, write_batch
from app.storage.models import Category

T = TypeVar('T')
STOP_TIMEOUT = 30  # seconds a stopped worker thread gets to reach its next progress report
RESULT_HEADER = ('line', 'email', 'action', 'contact_id')
# The share of each step in the job's one progress scale. Validate rows and Write contacts run at the same time.
STEPS = {'Read file': 4, 'Validate rows': 48, 'Write contacts': 46, 'Write reports': 2}
HANDOFF_DEPTH = 2  # validated batches waiting for the writer at most: memory stays flat however long the file
WAKE = 0.1  # seconds a thread waiting on the other looks again whether that one stopped
log = logging.getLogger('app.jobs')
REFUSED = 'refused'  # job parameter: why the uploaded file was refused before it was stored
NOT_CSV = 'The file is not a CSV file: choose a file whose name ends in .csv'


class Stopped(Exception):
    """The job was cancelled (server shutdown) while a worker thread was still busy with it."""


@dataclass
class Work:
    """Temp files of one import run and a flag that tells worker threads to stop."""

    ctx: JobContext
    stop: threading.Event = field(default_factory=threading.Event)
    temps: list[Path] = field(default_factory=list)
    stopping: list[concurrent.futures.Future[Any]] = field(default_factory=list)

    def temp(self) -> Path:
        path = self.ctx.temp_path()
        self.temps.append(path)
        return path

    def progress(self, done: int, total: int, step: str | None = None) -> None:
        """Progress from a worker thread, which is also where it learns that it should stop or was cancelled."""
        if self.stop.is_set():
            raise Stopped
        self.ctx.check_cancelled()
        self.ctx.progress(done, total, step)

    def progress_of(self, step: str) -> Callable[[int, int], None]:
        """``progress`` for one of two steps that run at the same time."""
        return functools.partial(self.progress, step=step)

    async def blocking(self, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``function`` in a worker thread; if the job is cancelled meanwhile, tell the thread to stop."""
        thread = self.ctx.start_blocking(functools.partial(function, *args, **kwargs))
        try:
            return await asyncio.wrap_future(thread)
        except asyncio.CancelledError:
            self.stop.set()
            self.stopping.append(thread)
            raise

    def discard(self) -> None:
        """Delete the temp files not handed over to the store, once a stopped thread can no longer write them."""
        concurrent.futures.wait(self.stopping, timeout=STOP_TIMEOUT)
        for path in self.temps:
            path.unlink(missing_ok=True)


class Handoff:
    """Batches of valid rows on their way from validation (one thread) to the writer (another), a few at a time."""

    def __init__(self, depth: int = HANDOFF_DEPTH) -> None:
        self._queue: queue.Queue[ContactBatch | None] = queue.Queue(depth)
        self._closed = threading.Event()
        self._abandoned = threading.Event()

    def put(self, batch: ContactBatch) -> None:
        """Hand a batch over; waits while the writer is behind, unless it stopped."""
        while not self._abandoned.is_set():
            try:
                self._queue.put(batch, timeout=WAKE)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        """Validation ended, however it ended: the writer finishes what it was handed and stops."""
        self._closed.set()
        with contextlib.suppress(queue.Full):  # then the writer finds the flag once it has taken the rest
            self._queue.put_nowait(None)

    def abandon(self) -> None:
        """The writer stopped (failed or cancelled): validation goes on without waiting for it."""
        self._abandoned.set()

    def __iter__(self) -> Iterator[ContactBatch]:
        while True:
            try:
                batch = self._queue.get(timeout=WAKE)
            except queue.Empty:
                if self._closed.is_set() and self._queue.empty():
                    return
                continue
            if batch is None:
                return
            yield batch


async def run_contacts_import(ctx: JobContext) -> None:
    """Import the job's one input CSV: read, validate, upsert by e-mail, then write the reports."""
    if refused := ctx.params.get(REFUSED):  # the upload was not stored (see ``refused_params``)
        await _refuse(ctx, report_stem(str(ctx.params.get('filename') or '')), str(refused))
        return
    inputs = await ctx.input_files()
    if len(inputs) != 1:
        raise RuntimeError('A contacts import needs exactly one input file')
    stem = report_stem(inputs[0].filename)
    work = Work(ctx)
    try:
        await _import(ctx, work, ctx.path_of(inputs[0]), stem)
    finally:
        await ctx.run_blocking(work.discard)


def refused_params(filename: str, reason: str) -> dict[str, str]:
    """The parameters of an import whose file was refused before it was stored (over the size limit, not .csv):
    the job still runs, and ends Failed with a line-0 error report saying why, like any unreadable file."""
    return {REFUSED: reason, 'filename': filename}


async def _refuse(ctx: JobContext, stem: str, reason: str) -> None:
    try:
        async with ctx.subtask('Read file'):
            raise FileProblem(reason)
    except FileProblem:  # the subtask is marked Failed with it
        ctx.log(reason, 'error')
        await _report_file_problem(ctx, stem, reason)


async def _import(ctx: JobContext, work: Work, source: Path, stem: str) -> None:
    errors, result = work.temp(), work.temp()
    ctx.plan(STEPS)
    try:
        await _steps(ctx, work, source, stem, errors=errors, result=result)
    except Cancelled:
        # What the import got through stays: the rows written, and the reports of the rows it read.
        await _keep_partial_reports(ctx, stem, errors=errors, result=result)
        raise


async def _steps(ctx: JobContext, work: Work, source: Path, stem: str, *, errors: Path, result: Path) -> None:
    try:
        async with ctx.subtask('Read file') as step:
            layout = await work.blocking(
                contacts_csv.inspect_file, source, limit=ctx.settings.max_upload_bytes, progress=work.progress
            )
            step.message = f'{layout.size:,} bytes; columns: {", ".join(layout.columns)}'
            ctx.log(f'Read {layout.size:,} bytes, about {layout.lines:,} lines; columns: {", ".join(layout.columns)}')
        summary, write_error = await _validate_and_write(ctx, work, source, layout, errors=errors, result=result)
    except FileProblem as problem:  # the subtask it came from is already marked Failed with it
        ctx.log(str(problem), 'error')
        await _report_file_problem(ctx, stem, str(problem))
        return

    async with ctx.subtask('Write reports') as step:
        names = [f'{stem}-result.csv']
        await ctx.add_output(names[0], result)
        if summary.problems:
            names.append(f'{stem}-errors.csv')
            await ctx.add_error_report(names[1], errors)
        step.message = ', '.join(names)
        ctx.log(f'Reports stored: {step.message}')
    if write_error is not None:
        ctx.fail(write_error)
    elif summary.rejected:
        ctx.fail(rejected_message(summary))


async def _validate_and_write(ctx: JobContext, work: Work, source: Path, layout: contacts_csv.Layout, *,
                              errors: Path, result: Path) -> tuple[Summary, str | None]:  # fmt: skip
    """Validate rows and Write contacts at once, in two threads: a batch is written while the next ones are
    validated (the databases do their part without the GIL). Read file has found any problem of the whole file,
    so a row written is never undone by one. Returns the validation's summary and why writing failed, if it did."""
    handoff = Handoff()
    validating = asyncio.Event()  # set once Validate rows is under way: Write contacts starts after it

    async def validate() -> Summary:
        try:
            async with ctx.subtask('Validate rows') as step:
                validating.set()
                summary = await work.blocking(
                    _validate_and_hand_over, source, layout, handoff, errors=errors,
                    progress=work.progress_of('Validate rows'),
                )  # fmt: skip
                if summary.rejected:
                    step.fail(rejected_message(summary))
                else:
                    step.message = f'{quantity(summary.records, "row")} valid'
                ctx.log(f'{summary.records:,} rows read: {summary.valid:,} valid, {summary.rejected:,} rejected')
            return summary
        finally:
            validating.set()
            handoff.close()  # also when validation never started: the writer does not wait for it

    async def write() -> str | None:
        await validating.wait()
        try:
            async with ctx.subtask('Write contacts') as step:
                try:
                    created, updated = await work.blocking(
                        _write_handed_over, ctx.engine, handoff, result, expected=max(layout.lines - 1, 1),
                        progress=work.progress_of('Write contacts'), log=ctx.log,
                    )  # fmt: skip
                    step.message = f'{created:,} created, {updated:,} updated'
                    ctx.log(f'Contacts written: {step.message}')
                except Cancelled:
                    raise
                except Exception as error:  # what was committed stays; the reports still tell what happened
                    log.exception('job %s: writing contacts failed', ctx.job_id)
                    write_error = f'Writing contacts failed: {describe_error(error)}'
                    ctx.log(write_error, 'error')
                    step.fail(write_error)
                    return write_error
            return None
        finally:
            handoff.abandon()  # also when writing never started: validation does not wait for it

    # Both run to their end before anything is raised: a cancel stops both, and the partial reports are kept only
    # once neither thread writes them any more.
    outcomes = await asyncio.gather(validate(), write(), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    summary, write_error = outcomes
    assert isinstance(summary, Summary)
    return summary, write_error if isinstance(write_error, str) else None


def _validate_and_hand_over(source: Path, layout: contacts_csv.Layout, handoff: Handoff, *, errors: Path,
                            progress: Callable[[int, int], None]) -> Summary:  # fmt: skip
    try:
        return contacts_csv.validate_rows(source, layout, valid=handoff.put, errors=errors, progress=progress)
    finally:
        handoff.close()


def _write_handed_over(engine: sa.Engine, handoff: Handoff, result: Path, **kwargs: Any) -> tuple[int, int]:
    try:
        return write_contacts(engine, handoff, result, **kwargs)
    finally:
        handoff.abandon()


async def _keep_partial_reports(ctx: JobContext, stem: str, *, errors: Path, result: Path) -> None:
    """After a cancel: store the result of the rows written and the problems of the rows validated, if any."""
    kept = []
    if await ctx.run_blocking(_has_rows, result):
        kept.append(f'{stem}-result.csv')
        await ctx.add_output(kept[-1], result)
    if await ctx.run_blocking(_has_rows, errors):
        kept.append(f'{stem}-errors.csv')
        await ctx.add_error_report(kept[-1], errors)
    if kept:
        ctx.log(f'Partial reports kept: {", ".join(kept)}', 'warning')


def _has_rows(path: Path) -> bool:
    """Whether a finished CSV report has a row below its header."""
    try:
        with path.open('rb') as file:
            file.readline()  # the header
            return bool(file.readline())
    except FileNotFoundError:
        return False


async def _report_file_problem(ctx: JobContext, stem: str, message: str) -> None:
    """A file that cannot be imported at all: a one-line error report (line 0) and a Failed job."""
    async with ctx.subtask('Write reports') as step:
        await ctx.add_error_report(f'{stem}-errors.csv', file_problem_report(message))
        step.message = f'{stem}-errors.csv'
    ctx.fail(message)


def rejected_message(summary: Summary) -> str:
    return f'{summary.rejected} of {summary.records} rows rejected'


def write_contacts(
    engine: sa.Engine,
    batches: Iterable[ContactBatch],
    result: Path,
    *,
    expected: int,
    progress: Callable[[int, int], None],
    log: Callable[[str], None] = lambda _message: None,
) -> tuple[int, int]:
    """Create or update each batch of valid rows in a transaction of its own, listing each row in ``result``;
    returns (created, updated).

    ``progress`` hears the rows written of about ``expected`` after each batch (once its rows are in ``result``);
    it may raise to stop.
    """
    created = done = 0
    progress(0, expected)
    report = CsvReport(result, RESULT_HEADER)
    try:
        for batch in batches:
            written = write_batch(engine, batch)
            report.write_plain(result_lines(written), len(written.lines))
            batch_created = sum(written.created)
            created += batch_created
            done += len(written.lines)
            log(f'Wrote rows {done - len(written.lines) + 1:,}-{done:,}: {batch_created:,} created, '
                f'{len(written.lines) - batch_created:,} updated')  # fmt: skip
            progress(done, max(expected, done))
    finally:
        report.close()
    return created, done - created


ACTIONS = ('updated', 'created')  # the result report's action, by whether the row created its contact
_starts_formula = operator.methodcaller('startswith', FORMULA_STARTS)


def result_lines(written: Written) -> str:
    """The result report's lines for a batch. A valid e-mail holds no comma, quote or line break, so no cell needs
    quoting: joined by hand they are what csv.writer would write, several times faster."""
    emails: Iterable[str] = written.emails
    if any(map(_starts_formula, emails)):
        emails = [str(safe_cell(email)) for email in emails]
    rows = zip(written.lines, emails, map(ACTIONS.__getitem__, written.created), written.ids, strict=True)
    return ''.join([f'{line},{email},{action},{contact_id}\r\n' for line, email, action, contact_id in rows])


def file_problem_report(message: str) -> bytes:
    """The error report of a file that cannot be read: one line with line 0 and no column or value."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(ERROR_HEADER)
    writer.writerow([0, '', '', safe_cell(message)])
    return buffer.getvalue().encode()


def report_stem(filename: str) -> str:
    """The uploaded file's name without directories or extension, as used for the report names."""
    name = PurePath(filename.replace('\\', '/')).name
    stem = name.rsplit('.', 1)[0] if '.' in name.lstrip('.') else name
    return stem.strip(' .') or 'contacts'


CONTACTS_IMPORT = JobType(
    key='contacts_import',
    name='Contacts Import',
    category=Category.IMPORT,
    run=run_contacts_import,
    summary='Import contacts from an uploaded CSV file',
)
