"""Job statistics for the Overview: counts, a series over time and per-job figures, from the trigger-kept rollups
(``job_stat``, ``job_duration``, migration 0009), so a window costs a few thousand rows at any number of jobs.

A job counts in the window its start falls in, with its current status. Durations are read from buckets whose
bounds grow by sqrt(2) (interpolated inside the bucket): a percentile is within about 19 % of the exact one.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel

from app.storage.models import Status, User, UTCDateTime, utcnow

JOB = SQLModel.metadata.tables['job']
STAT = SQLModel.metadata.tables['job_stat']
DURATION = SQLModel.metadata.tables['job_duration']
EVERYONE = 0  # the rollup rows that count every owner's jobs (what admins see)
FIRST_BOUND = 0.1  # seconds; the same bounds as the triggers of migration 0009
BOUNDS = [FIRST_BOUND * math.sqrt(2) ** k for k in range(2 * math.ceil(math.log2(30 * 86400 / FIRST_BOUND)) + 1)]
STATUSES = (Status.IN_PROGRESS, Status.COMPLETED, Status.FAILED)


@dataclass(frozen=True, slots=True)
class Window:
    span: timedelta
    step: timedelta  # one bar of the chart

    def buckets(self, now: datetime) -> list[datetime]:
        """The starts of the window's buckets, oldest first; the last one holds ``now``."""
        hour = now.replace(minute=0, second=0, microsecond=0)
        last = hour if self.step == timedelta(hours=1) else hour.replace(hour=0)
        count = round(self.span / self.step)
        return [last - self.step * (count - 1 - index) for index in range(count)]

    @property
    def hourly(self) -> bool:
        return self.step == timedelta(hours=1)


WINDOWS = {
    '24h': Window(timedelta(hours=24), timedelta(hours=1)),
    '7d': Window(timedelta(days=7), timedelta(days=1)),
    '30d': Window(timedelta(days=30), timedelta(days=1)),
}


def job_stats(engine: sa.Engine, *, viewer: User, window: str, now: datetime | None = None) -> dict[str, Any]:
    """What ``viewer`` may see of the jobs started in ``window`` (a key of WINDOWS), as ``GET /api/stats`` answers."""
    chosen = WINDOWS[window]
    buckets = chosen.buckets(now or utcnow())
    owner = EVERYONE if viewer.is_admin else viewer.id
    start = buckets[0]
    counts = dict.fromkeys(STATUSES, 0)
    series = {bucket: dict.fromkeys(STATUSES, 0) for bucket in buckets}
    by_job: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(STATUSES, 0))
    durations: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)
    # Summed per chart bucket in SQL: a 30-day window is a few hundred rows for Python, not thousands.
    bucket = _bucket_expression(chosen, engine.dialect.name)
    stat_query = (
        sa.select(bucket, STAT.c.category, STAT.c.name, STAT.c.status, sa.func.sum(STAT.c.n))
        .where(STAT.c.run_by_id == owner, STAT.c.hour >= start)
        .group_by(bucket, STAT.c.category, STAT.c.name, STAT.c.status)
    )
    duration_query = (
        sa.select(DURATION.c.category, DURATION.c.name, DURATION.c.bucket, sa.func.sum(DURATION.c.n))
        .where(DURATION.c.run_by_id == owner, DURATION.c.hour >= start)
        .group_by(DURATION.c.category, DURATION.c.name, DURATION.c.bucket)
    )
    with engine.connect() as connection:
        starts: dict[Any, datetime] = {}
        # PostgreSQL sums integers as numeric (Decimal): int() before they reach JSON.
        for when, category, name, status, total in connection.execute(stat_query):
            n = int(total or 0)
            if not n or status not in counts:
                continue
            if when not in starts:
                starts[when] = _as_time(when)
            counts[status] += n
            series[starts[when]][status] += n
            by_job[(category, name)][status] += n
        for category, name, bucket, n in connection.execute(duration_query):
            if n:
                durations[(category, name)][bucket] = int(n)
        last_runs = {key: _last_run(connection, viewer, *key) for key in by_job}
    jobs = [
        _job_figures(category, name, statuses, durations[(category, name)], last_runs[(category, name)])
        for (category, name), statuses in by_job.items()
        if sum(statuses.values())
    ]
    return {
        'counts': {str(status): int(n) for status, n in counts.items()},
        'series': [
            {'start': bucket.isoformat(), **{str(status): int(n) for status, n in values.items()}}
            for bucket, values in series.items()
        ],
        'by_job': sorted(jobs, key=lambda figures: (-figures['runs'], figures['job'])),
    }


def _bucket_expression(window: Window, dialect: str) -> Any:
    """The chart bucket of a rollup row in SQL: its hour, or its UTC day."""
    if window.hourly:
        return STAT.c.hour
    if dialect == 'postgresql':
        return sa.func.date_trunc('day', STAT.c.hour)
    return sa.func.date(STAT.c.hour)  # SQLite: 'YYYY-MM-DD'


def _as_time(value: Any) -> datetime:
    """A bucket start as SQL handed it back (a datetime, or SQLite's date text) as an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _job_figures(
    category: str, name: str, statuses: dict[str, int], durations: dict[int, int], last_run: datetime | None
) -> dict[str, Any]:
    runs = sum(statuses.values())
    return {
        'job': name,
        'category': category,
        'runs': runs,
        'failed': statuses[Status.FAILED],
        'completed': statuses[Status.COMPLETED],
        'in_progress': statuses[Status.IN_PROGRESS],
        'p50_seconds': percentile(durations, 0.5),
        'p95_seconds': percentile(durations, 0.95),
        'last_run': last_run.isoformat() if last_run is not None else None,
    }


def percentile(histogram: dict[int, int], fraction: float) -> float | None:
    """The duration (seconds) below which ``fraction`` of the jobs in ``histogram`` (bucket -> count) ended."""
    total = sum(histogram.values())
    if total <= 0:
        return None
    rank, seen = fraction * total, 0
    for bucket in sorted(histogram):
        count = histogram[bucket]
        if count <= 0:
            continue
        if seen + count >= rank:
            within = (rank - seen) / count
            if bucket == 0:
                return round(FIRST_BOUND * within, 3)
            if bucket >= len(BOUNDS):
                return round(BOUNDS[-1], 3)
            low, high = BOUNDS[bucket - 1], BOUNDS[bucket]
            return round(low * (high / low) ** within, 3)  # geometric, like the bucket bounds
        seen += count
    return round(BOUNDS[-1], 3)


def _last_run(connection: sa.Connection, viewer: User, category: str, name: str) -> datetime | None:
    """When ``viewer`` last saw this job start (an index lookup: category, name, started_at)."""
    latest = sa.func.max(JOB.c.started_at, type_=UTCDateTime())
    query = sa.select(latest).where(JOB.c.category == category, JOB.c.name == name)
    if not viewer.is_admin:
        query = query.where(JOB.c.run_by_id == viewer.id)
    value: datetime | None = connection.execute(query).scalar()
    return value


def rebuild(connection: sa.Connection) -> None:
    """Count every job into the rollups again (after a bulk load that ran with the triggers off, or to repair)."""
    postgres = connection.dialect.name == 'postgresql'
    if postgres:
        hour = "date_trunc('hour', started_at)"
        seconds = 'EXTRACT(EPOCH FROM ended_at - started_at)::float8'
        bounds = 'ARRAY[' + ', '.join(repr(bound) for bound in BOUNDS) + ']::float8[]'
        bucket = f'width_bucket({seconds}, {bounds})'
    else:
        hour = "strftime('%Y-%m-%d %H:00:00.000000', started_at)"
        seconds = '(julianday(ended_at) - julianday(started_at)) * 86400.0'
        bucket = (
            'CASE '
            + ' '.join(f'WHEN {seconds} < {bound!r} THEN {index}' for index, bound in enumerate(BOUNDS))
            + f' ELSE {len(BOUNDS)} END'
        )
    connection.execute(sa.delete(STAT))
    connection.execute(sa.delete(DURATION))
    for owner, by_owner in (('run_by_id', ', run_by_id'), (str(EVERYONE), '')):  # (GROUP BY 0 names a column)
        connection.execute(sa.text(
            f'INSERT INTO job_stat (run_by_id, hour, category, name, status, shard, n) '
            f'SELECT {owner}, {hour}, category, name, status, 0, count(*) FROM job '
            f'GROUP BY {hour}, category, name{by_owner}, status'
        ))  # fmt: skip
        connection.execute(sa.text(
            f'INSERT INTO job_duration (run_by_id, hour, category, name, bucket, shard, n) '
            f'SELECT {owner}, {hour}, category, name, {bucket}, 0, count(*) FROM job WHERE ended_at IS NOT NULL '
            f'GROUP BY {hour}, category, name{by_owner}, {bucket}'
        ))  # fmt: skip
