"""``GET /api/stats`` (the Overview's figures) and ``GET /api/jobs.csv`` (a job list exported, streamed)."""

from __future__ import annotations

import csv
import io
import queue
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from app.jobs.reports import safe_cell
from app.pages.api_models import ERRORS, SortedQuery
from app.pages.auth import CurrentUser
from app.pages.display import status_text
from app.services import Services
from app.storage.export import iter_jobs
from app.storage.stats import job_stats

CSV_HEADER = ('id', 'job', 'description', 'status', 'start', 'end', 'failed', 'run_by', 'run_at', 'error')
CSV_FILE_TABS = {'general': 'general', 'import': 'imports', None: 'all'}
QUEUED_CHUNKS = 4  # chunks read ahead of a slow download: what bounds the export's memory


class CountsOut(BaseModel):
    in_progress: int
    completed: int
    failed: int


class BucketOut(CountsOut):
    start: str = Field(description='the bucket (hour or UTC day) start, ISO 8601')


class JobFiguresOut(BaseModel):
    job: str
    category: str
    runs: int
    failed: int
    p50_seconds: float | None = Field(description='median duration of the ended runs (within about 19 %)')
    p95_seconds: float | None
    last_run: str | None = Field(description='start of the newest run you may see, ISO 8601')


class StatsOut(BaseModel):
    window: str
    counts: CountsOut
    series: list[BucketOut]
    by_job: list[JobFiguresOut]


def add_routes(router: APIRouter, services: Services) -> None:
    @router.get('/api/stats', response_model=StatsOut, responses=ERRORS, tags=['overview'])
    async def stats(user: CurrentUser, window: Literal['24h', '7d', '30d'] = '24h') -> JSONResponse:
        """Jobs you may see that started in the window: counts by status, a series (hours for 24h, UTC days
        otherwise) and, per job, runs, failures and duration percentiles."""
        figures = await services.threads.run(job_stats, services.engine, viewer=user, window=window)
        return JSONResponse({'window': window, **figures})

    @router.get(
        '/api/jobs.csv',
        response_class=StreamingResponse,
        responses={**ERRORS, 200: {'content': {'text/csv': {}}, 'description': 'every job the filters select'}},
        tags=['jobs'],
    )
    async def export(user: CurrentUser, query: Annotated[SortedQuery, Query()]) -> StreamingResponse:
        """Every job you may see that the filters select, in the sort order, as CSV (streamed)."""
        chunks = iter_jobs(services.engine, viewer=user, filters=query.job_filter(), sort=query.sort)
        stamp = datetime.now(UTC).strftime('%Y%m%d-%H%M%S')
        filename = f'jobs-{CSV_FILE_TABS.get(query.category, "all")}-{stamp}.csv'
        return StreamingResponse(
            _stream(services, chunks),
            media_type='text/csv; charset=utf-8',
            headers={'Content-Disposition': f'attachment; filename="{filename}"'},
        )


async def _stream(services: Services, chunks: Iterator[list[dict[str, Any]]]) -> AsyncIterator[bytes]:
    """CSV text of the chunks, read in a worker thread a few chunks ahead of the download."""
    ready: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=QUEUED_CHUNKS)
    stop = threading.Event()

    def produce() -> None:
        try:
            _put(ready, stop, _csv(CSV_HEADER))
            for rows in chunks:
                if not _put(ready, stop, _csv(*(_csv_row(row) for row in rows))):
                    return
            _put(ready, stop, None)
        except BaseException as error:  # handed to the download, which ends with it
            _put(ready, stop, error)
        finally:
            close = getattr(chunks, 'close', None)  # a generator: closing it ends its database connection
            if close is not None:
                close()

    services.threads.submit(produce)
    try:
        while True:
            item = await services.threads.run(ready.get)
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()  # the download ended or was abandoned: the reader stops at its next chunk


def _put(ready: queue.Queue[bytes | BaseException | None], stop: threading.Event, item: Any) -> bool:
    while not stop.is_set():
        try:
            ready.put(item, timeout=0.5)
            return True
        except queue.Full:
            continue
    return False


def _csv_row(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row['id'], row['job'], row['description'], status_text(row['status']), row['started_at'],
            row['ended_at'], row['failed_at'], row['run_by'], row['run_at'], row['error'])  # fmt: skip


def _csv(*rows: tuple[Any, ...]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([safe_cell(value) if value is not None else '' for value in row] for row in rows)
    return buffer.getvalue().encode()
