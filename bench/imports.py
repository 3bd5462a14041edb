"""Import throughput: the real Contacts Import on a generated CSV, next to a plain csv + executemany baseline."""

from __future__ import annotations

import csv
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from bench.report import Figure
from bench.server import Server, proc_status, reset_peak_rss

TARGET_RATIO = 0.5
TARGET_PEAK_MB = 300.0
SAMPLE_SECONDS = 0.02
BASELINE_TABLE = """CREATE TABLE contact (
    id INTEGER PRIMARY KEY, name VARCHAR(200) NOT NULL, email VARCHAR(320) NOT NULL UNIQUE,
    phone VARCHAR(20), company VARCHAR(200))"""


def generate_csv(path: Path, rows: int) -> int:
    """Write ``rows`` valid contacts with unique e-mails (name,email,phone,company); returns the file size."""
    with path.open('w', encoding='utf-8', newline='') as file:
        file.write('name,email,phone,company\r\n')
        for start in range(0, rows, 100_000):
            file.write(''.join(
                f'Contact {n},contact{n}@example{n % 97}.org,+1 555 {n % 10_000_000:07},Company {n % 5000}\r\n'
                for n in range(start, min(start + 100_000, rows))
            ))  # fmt: skip
    return path.stat().st_size


def baseline(path: Path, database: Path) -> float:
    """Rows/s of the plainest load: csv.reader into one executemany, in one transaction, into a fresh SQLite table.

    The table has the contact table's shape (a unique e-mail), and the connection the app's SQLite settings.
    """
    started = time.perf_counter()
    connection = sqlite3.connect(database)
    try:
        connection.execute('PRAGMA journal_mode=WAL')
        connection.execute('PRAGMA synchronous=NORMAL')
        connection.execute(BASELINE_TABLE)
        with path.open(newline='', encoding='utf-8') as file:
            reader = csv.reader(file)
            next(reader)
            with connection:
                cursor = connection.executemany(
                    'INSERT INTO contact (name, email, phone, company) VALUES (?, ?, ?, ?)', reader
                )
        rows = cursor.rowcount
    finally:
        connection.close()
    return rows / (time.perf_counter() - started)


def baseline_postgresql(path: Path, url: str) -> float:
    """The same plain load on PostgreSQL: csv.reader into one executemany (psycopg pipelines it), one transaction,
    into a fresh table of the contact table's shape in the benchmark's database (dropped afterwards)."""
    import psycopg

    dsn = url.replace('postgresql+psycopg://', 'postgresql://', 1)
    started = time.perf_counter()
    with psycopg.connect(dsn) as connection:
        connection.execute(
            BASELINE_TABLE.replace('contact (', 'contact_baseline (', 1).replace(
                'id INTEGER PRIMARY KEY', 'id BIGSERIAL PRIMARY KEY'
            )
        )
        with path.open(newline='', encoding='utf-8') as file, connection.cursor() as cursor:
            reader = csv.reader(file)
            next(reader)
            cursor.executemany(
                'INSERT INTO contact_baseline (name, email, phone, company) VALUES (%s, %s, %s, %s)', reader
            )
        connection.commit()
        loaded = connection.execute('SELECT count(*) FROM contact_baseline').fetchone()
        connection.execute('DROP TABLE contact_baseline')
        connection.commit()
    seconds = time.perf_counter() - started
    return (loaded[0] if loaded else 0) / seconds


class PeakSampler:
    """Samples a process's resident size in a thread; ``peak_kb`` is the highest seen (or the kernel's peak)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples = 0
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.kernel_peak = reset_peak_rss(pid)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        status = proc_status(self.pid)
        self.peak_kb = max(self.peak_kb, status['VmRSS'], status['VmHWM'] if self.kernel_peak else 0)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, proc_status(self.pid)['VmRSS'])
            self.samples += 1
            time.sleep(SAMPLE_SECONDS)


def measure_import(server: Server, workdir: Path, *, rows: int, log: Callable[[str], None],
                   postgresql_url: str = '') -> list[Figure]:  # fmt: skip
    """The Contacts Import of ``rows`` generated rows against the same database's bare load (SQLite, or PostgreSQL
    when ``postgresql_url`` names the server's database)."""
    database = 'PostgreSQL' if postgresql_url else 'SQLite'
    source = workdir / f'contacts-{rows}.csv'
    if not source.exists():
        generate_csv(source, rows)
    size = source.stat().st_size
    log(f'  {rows:,} contacts ({size / 1024 / 1024:.0f} MB); baseline: csv.reader + executemany on {database}')
    base_rate = baseline_postgresql(source, postgresql_url) if postgresql_url else baseline(
        source, workdir / 'baseline.db')  # fmt: skip
    log(f'  baseline {base_rate:,.0f} rows/s')
    server.hook('clients')  # collect garbage, so the resident size before the import is a fair floor
    before = server.rss_kb()
    with PeakSampler(server.pid) as sampler:
        launched = server.hook('import', path=str(source), filename=source.name)
        log(f'  Contacts Import job {launched["id"]} running')
        detail = server.hook('wait', id=launched['id'])
    ended = datetime.fromisoformat(detail['ended_at']).timestamp()
    seconds = ended - launched['launched']
    rate = rows / seconds
    peak_mb = (sampler.peak_kb - before) / 1024
    steps = ', '.join(f'{s["name"]}: {s["message"]}' for s in detail['subtasks'])
    log(f'  import {detail["status"]} in {seconds:.1f} s: {rate:,.0f} rows/s, {rate / base_rate:.2f}x the baseline, '
        f'peak +{peak_mb:.0f} MB ({steps})')  # fmt: skip
    if detail['status'] != 'completed':
        raise RuntimeError(f'the import ended {detail["status"]}: {detail["error"]}')
    details = {'rows': rows, 'file_bytes': size, 'seconds': seconds, 'baseline_rows_per_s': base_rate,
               'subtasks': detail['subtasks'], 'rss_before_kb': before, 'rss_peak_kb': sampler.peak_kb,
               'rss_samples': sampler.samples, 'kernel_peak_used': sampler.kernel_peak}  # fmt: skip
    on = '' if database == 'SQLite' else f' {database}'  # the SQLite rows keep their names from earlier runs
    return [
        Figure(f'Import{on}: Contacts Import of {rows:,} rows', rate, 'rows/s', details=details),
        Figure(f'Import{on}: baseline (csv.reader + one executemany, {database})', base_rate, 'rows/s'),
        Figure(f'Import{on}: throughput ÷ baseline', rate / base_rate, 'x', TARGET_RATIO, better='higher'),
        Figure(f'Import{on}: peak server memory (RSS peak - RSS before)', peak_mb, 'MB', TARGET_PEAK_MB),
    ]
