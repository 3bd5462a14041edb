"""Several processes on PostgreSQL: the web server's embedded worker plus ``workers`` ``python main.py worker``
processes drain a burst of no-op jobs; how fast, how soon each starts, and whether any ran twice."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from bench.report import Figure
from bench.server import ROOT, Server, free_port, server_env

START_TIMEOUT = 60.0
SPACED = 40  # jobs launched one at a time for the start latency
SPACED_GAP = 0.05  # seconds between them


def measure_cluster(
    server: Server, database_url: str, *, workers: int, count: int, launchers: int, log: Callable[[str], None]
) -> list[Figure]:
    with extra_workers(server.data_dir.parent, database_url, workers):
        log(f'  launching {count:,} no-op jobs (2 subtasks each) from {launchers} launchers; '
            f'the web server and {workers} worker processes run them')  # fmt: skip
        result = server.hook('throughput', count=count, launchers=launchers)
        seconds = result['ended'] - result['started']
        _, runs = _start_delays_and_runs(database_url, result['first_id'], result['last_id'])
        twice = sum(1 for subtasks in runs if subtasks != 2)
        log(f'  {count / seconds:,.0f} jobs/s over {workers + 1} processes; '
            f'jobs with other than 2 subtasks (ran twice or not at all): {twice}')  # fmt: skip
        if twice:
            raise RuntimeError(f'{twice} jobs did not run exactly once')
        log(f'  launching {SPACED} no-op jobs one at a time, {SPACED_GAP * 1000:.0f} ms apart')
        spaced = server.hook('spaced', count=SPACED, gap=SPACED_GAP)
        starts, _ = _start_delays_and_runs(database_url, spaced['first_id'], spaced['last_id'])
    starts.sort()
    p50, p95 = starts[len(starts) // 2] * 1000, starts[int(len(starts) * 0.95)] * 1000
    log(f'  launch → first step done: p50 {p50:.0f} ms, p95 {p95:.0f} ms')
    title = f'{workers + 1} processes on PostgreSQL'
    return [
        Figure(
            f'Cluster throughput: {title} ({count:,} no-op jobs, {launchers} launchers)',
            count / seconds,
            'jobs/s',
            better='higher',
            details=result,
        ),
        Figure(
            f'Cluster launch → first step done, p50 / p95: {title}, one job at a time',
            p95,
            'ms',
            shown=f'{p50:.0f} / {p95:.0f} ms',
            details={'p50_ms': p50},
        ),
    ]


@contextmanager
def extra_workers(workdir: Path, database_url: str, workers: int) -> Iterator[None]:
    processes = []
    try:
        for number in range(1, workers + 1):
            data_dir = workdir / f'worker{number}' / 'data'
            data_dir.mkdir(parents=True, exist_ok=True)
            log = data_dir.parent / 'worker.log'
            env = server_env(data_dir, free_port(), database_url=database_url, max_upload_mb=100)
            with log.open('wb') as output:
                process = subprocess.Popen(
                    [sys.executable, 'main.py', 'worker'], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
                )
            processes.append(process)
            deadline = time.monotonic() + START_TIMEOUT
            while 'is running jobs' not in log.read_text(errors='replace'):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f'worker {number} did not start:\n{log.read_text(errors="replace")}')
                time.sleep(0.2)
        yield
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def _start_delays_and_runs(database_url: str, first_id: int, last_id: int) -> tuple[list[float], list[int]]:
    """Per job: seconds from launch to its first subtask, and how many subtasks it has."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    'SELECT extract(epoch FROM min(s.updated_at) - j.started_at) AS delay, count(s.id) AS subtasks'
                    ' FROM job j LEFT JOIN subtask s ON s.job_id = j.id'
                    " WHERE j.id BETWEEN :first AND :last AND j.job_type = 'bench_noop' GROUP BY j.id"
                ),
                {'first': first_id, 'last': last_id},
            ).all()
    finally:
        engine.dispose()
    return [float(row.delay or 0) for row in rows], [int(row.subtasks) for row in rows]
