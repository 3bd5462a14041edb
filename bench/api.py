"""``GET /api/jobs`` latency: the first page, a deep page, every sort column and every filter."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bench.report import Figure, percentile
from bench.seed import SPACING_SECONDS
from bench.server import Server

TARGET_MS = 50.0
SORTS = ('id', 'job', 'description', 'status', 'started_at', 'ended_at', 'failed_at', 'run_by')


@dataclass(frozen=True, slots=True)
class Query:
    label: str
    params: dict[str, str]


def queries(jobs: int) -> list[Query]:
    """What the grids ask for: the General tab (newest first) sorted by each column, and each filter."""
    general = {'category': 'general'}
    deep = int(jobs * 0.9)
    # The seeded start times span jobs * SPACING_SECONDS back from now; take a week from the middle of that.
    middle = datetime.now(UTC) - timedelta(seconds=jobs * SPACING_SECONDS / 2)
    since, until = (middle - timedelta(days=6)).date().isoformat(), middle.date().isoformat()
    return [
        Query('first page', general),
        Query(f'deep page (offset {deep:,})', {'offset': str(deep)}),
        *(Query(f'sort -{column}', {**general, 'sort': f'-{column}'}) for column in SORTS),
        Query('status=failed', {**general, 'status': 'failed'}),
        Query('job=Database Backup', {**general, 'job': 'Database Backup'}),
        Query('run_by=user03', {**general, 'run_by': 'user03'}),
        Query(f'since/until one week ({since}..{until})', {**general, 'since': since, 'until': until}),
        Query('q=backup (common word)', {**general, 'q': 'backup'}),
        Query('q=batch 4242 (rare text)', {**general, 'q': 'batch 4242'}),
        Query(f'q={jobs // 2} (a job id)', {**general, 'q': str(jobs // 2)}),
    ]


def measure_api(
    server: Server, *, backend: str, jobs: int, requests: int, warmups: int, log: Callable[[str], None]
) -> list[Figure]:
    """p50/p95 of ``requests`` timed requests (after ``warmups``) per query, over HTTP with the session cookie."""
    figures = []
    for query in queries(jobs):
        timings: list[float] = []
        total = rows = 0
        for number in range(warmups + requests):
            started = time.perf_counter()
            response = server.http.get('/api/jobs', params=query.params)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise RuntimeError(f'GET /api/jobs {query.params} answered {response.status_code}: {response.text}')
            if number >= warmups:
                timings.append(elapsed)
            page = response.json()
            total, rows = page['total'], len(page['rows'])
        p50, p95 = percentile(timings, 0.5), percentile(timings, 0.95)
        log(f'  {query.label}: p50 {p50:.1f} ms, p95 {p95:.1f} ms ({rows} rows of {total:,})')
        figures.append(
            Figure(
                f'API {backend}: {query.label}, p50 / p95',
                p95,
                'ms',
                TARGET_MS,
                shown=f'{p50:.1f} / {p95:.1f} ms',
                details={
                    'params': query.params,
                    'p50': p50,
                    'p95': p95,
                    'max': max(timings),
                    'total': total,
                    'rows': rows,
                    'samples': len(timings),
                },
            )
        )
    return figures
