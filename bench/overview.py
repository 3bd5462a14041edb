"""The Overview's figures (``GET /api/stats``) and the CSV export (``GET /api/jobs.csv``) at a million jobs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from bench.report import Figure, percentile
from bench.server import Server

STATS_TARGET_MS = 50.0
EXPORT_MEMORY_TARGET_MB = 100.0  # flat: the export reads a few chunks ahead, whatever the number of rows


def measure_stats(
    server: Server, *, backend: str, requests: int, warmups: int, log: Callable[[str], None]
) -> list[Figure]:
    """p50/p95 of ``GET /api/stats`` per window, as an admin (everyone's jobs: the most rows to sum)."""
    figures = []
    for window in ('24h', '7d', '30d'):
        timings = []
        for number in range(warmups + requests):
            started = time.perf_counter()
            response = server.http.get('/api/stats', params={'window': window})
            elapsed = (time.perf_counter() - started) * 1000
            response.raise_for_status()
            if number >= warmups:
                timings.append(elapsed)
        counts = response.json()['counts']
        p50, p95 = percentile(timings, 0.5), percentile(timings, 0.95)
        log(f'  /api/stats?window={window}: p50 {p50:.1f} ms, p95 {p95:.1f} ms ({sum(counts.values()):,} jobs)')
        figures.append(Figure(f'Overview {backend}: GET /api/stats?window={window}, p50 / p95', p95, 'ms',
                              STATS_TARGET_MS, shown=f'{p50:.1f} / {p95:.1f} ms',
                              details={'p50': p50, 'p95': p95, 'counts': counts}))  # fmt: skip
    return figures


def measure_export(server: Server, *, backend: str, log: Callable[[str], None]) -> list[Figure]:
    """Download every job as CSV: rows per second and the server's resident size at its peak during the download."""
    before = server.rss_kb()
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, server.rss_kb())
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    rows = size = 0
    try:
        with server.http.stream('GET', '/api/jobs.csv') as response:
            response.raise_for_status()
            for chunk in response.iter_bytes():
                rows += chunk.count(b'\n')
                size += len(chunk)
    finally:
        done.set()
        sampler.join()
    seconds = time.perf_counter() - started
    rows -= 1  # the header
    grown = (peak - before) / 1024
    log(f'  export: {rows:,} rows ({size / 1e6:.0f} MB) in {seconds:.1f} s, {rows / seconds:,.0f} rows/s; '
        f'server RSS +{grown:.0f} MB at its peak')  # fmt: skip
    return [
        Figure(f'Export {backend}: GET /api/jobs.csv of every job', rows / seconds, 'rows/s',
               details={'rows': rows, 'bytes': size, 'seconds': seconds}),
        Figure(f'Export {backend}: server memory during the export (RSS peak - RSS before)', grown, 'MB',
               EXPORT_MEMORY_TARGET_MB, details={'rss_before_kb': before, 'rss_peak_kb': peak}),
    ]  # fmt: skip
