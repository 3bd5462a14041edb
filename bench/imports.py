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


def measure_import(server: Server, workdir: Path, *, rows: int, log: Callable[[str], None]) -> list[Figure]:
    source = workdir / f'contacts-{rows}.csv'
    size = generate_csv(source, rows)
    log(f'  generated {rows:,} contacts ({size / 1024 / 1024:.0f} MB); baseline: csv.reader + executemany')
    base_rate = baseline(source, workdir / 'baseline.db')
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
    return [
        Figure(f'Import: Contacts Import of {rows:,} rows', rate, 'rows/s', details=details),
        Figure('Import: baseline (csv.reader + one executemany, SQLite)', base_rate, 'rows/s'),
        Figure('Import: throughput ÷ baseline', rate / base_rate, 'x', TARGET_RATIO, better='higher'),
        Figure('Import: peak server memory (RSS peak - RSS before)', peak_mb, 'MB', TARGET_PEAK_MB),
    ]
