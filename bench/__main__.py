"""``python -m bench`` (``make bench``): seed, start the real server, measure, print one table of figures.

Sizes come from the command line or the environment (BENCH_JOBS, BENCH_IMPORT_ROWS, BENCH_QUICK=1,
BENCH_POSTGRES_URL, BENCH_POSTGRES=0); ``--help`` lists them all.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from playwright.sync_api import Browser, sync_playwright

from app.memory import QUIET_SECONDS
from bench import api, browser, cluster, imports, overview, plans, push, rows, throughput
from bench.report import RESULTS, Figure, describe_machine, machine, markdown_table, table, write_json
from bench.seed import seed
from bench.server import ADMIN, Server, launch_browser, start_server

POSTGRES_URL = 'postgresql+psycopg://postgres@127.0.0.1:5432/test'
IDLE_TARGET_MB = 90.0
PARTS = ('api', 'overview', 'browser', 'push', 'throughput', 'import', 'cluster')


@dataclass
class Config:
    jobs: int
    import_rows: int
    requests: int
    warmups: int
    browser_runs: int
    tabs: int
    new_row_tabs: int
    push_rate: float
    push_seconds: float
    throughput_jobs: int
    launchers: int
    workers: int
    postgres_url: str
    postgres: bool
    output: Path
    keep: bool
    parts: set[str]


def parse_config(argv: list[str] | None) -> Config:
    quick = os.environ.get('BENCH_QUICK', '') not in ('', '0') or '--quick' in (argv or sys.argv[1:])
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog='python -m bench', description='Seed, start the real server, measure and print the figures.'
    )
    parser.add_argument('--quick', action='store_true', help='small sizes (also BENCH_QUICK=1): a check, not figures')
    parser.add_argument('--jobs', type=int, default=int(env('BENCH_JOBS', 20_000 if quick else 1_000_000)))
    parser.add_argument('--import-rows', type=int,
                        default=int(env('BENCH_IMPORT_ROWS', 20_000 if quick else 1_000_000)))  # fmt: skip
    parser.add_argument('--requests', type=int, default=10 if quick else 30, help='timed requests per API query')
    parser.add_argument('--warmups', type=int, default=2 if quick else 3, help='untimed requests before those')
    parser.add_argument('--browser-runs', type=int, default=3 if quick else 5)
    parser.add_argument('--tabs', type=int, default=20)
    parser.add_argument('--new-row-tabs', type=int, default=5, help='tabs watching new jobs arrive')
    parser.add_argument('--push-rate', type=float, default=50.0, help='job changes per second')
    parser.add_argument('--push-seconds', type=float, default=4.0 if quick else 10.0)
    parser.add_argument('--throughput-jobs', type=int, default=300 if quick else 3000)
    parser.add_argument('--launchers', type=int, default=10, help='concurrent callers launching the throughput jobs')
    parser.add_argument('--workers', type=int, default=2, help='`python main.py worker` processes in the cluster part')
    parser.add_argument('--postgres-url', default=env('BENCH_POSTGRES_URL', POSTGRES_URL),
                        help='a server to create a scratch database on (dropped afterwards)')  # fmt: skip
    parser.add_argument('--no-postgres', action='store_true', help='skip PostgreSQL (also BENCH_POSTGRES=0)')
    parser.add_argument('--output', type=Path, default=RESULTS, help='where the JSON results go')
    parser.add_argument('--keep', action='store_true', help='keep the temporary data directory')
    parser.add_argument('--only', default='', help=f'comma-separated subset of: {", ".join(PARTS)} (default: all)')
    args = parser.parse_args(argv)
    only = {part.strip() for part in args.only.split(',') if part.strip()} or set(PARTS)
    if unknown := only - set(PARTS):
        parser.error(f'unknown part(s) for --only: {", ".join(sorted(unknown))}')
    return Config(
        jobs=args.jobs,
        import_rows=args.import_rows,
        requests=args.requests,
        warmups=args.warmups,
        browser_runs=args.browser_runs,
        tabs=args.tabs,
        new_row_tabs=args.new_row_tabs,
        push_rate=args.push_rate,
        push_seconds=args.push_seconds,
        throughput_jobs=args.throughput_jobs,
        launchers=args.launchers,
        workers=args.workers,
        postgres_url=args.postgres_url,
        postgres=not args.no_postgres and env('BENCH_POSTGRES', '1') != '0',
        output=args.output,
        keep=args.keep,
        parts=only,
    )


class Run:
    """The figures gathered so far, and progress lines with the time since the start."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.started = time.monotonic()
        self.figures: list[Figure] = []
        self.notes: list[str] = []
        self.plans: list[dict[str, Any]] = []
        self.info = machine()

    def log(self, message: str) -> None:
        elapsed = time.monotonic() - self.started
        print(f'[{int(elapsed // 60):02}:{elapsed % 60:04.1f}] {message}', flush=True)

    def measure(self, title: str, measurement: Callable[[], list[Figure]]) -> None:
        """Run one measurement; a failure is recorded as a missing figure and the run goes on."""
        self.log(title)
        try:
            self.figures.extend(measurement())
        except Exception as error:
            traceback.print_exc()
            self.figures.append(Figure(title, None, '', note=f'{type(error).__name__}: {error}'))
            self.notes.append(f'{title} failed: {type(error).__name__}: {error}')


def main(argv: list[str] | None = None) -> int:
    config = parse_config(argv)
    run = Run(config)
    run.log(f'benchmark on {describe_machine(run.info)}')
    workdir = Path(tempfile.mkdtemp(prefix='jobs-bench-'))
    try:
        with sync_playwright() as playwright:
            chromium = launch_browser(playwright)
            try:
                if config.parts - {'cluster'}:  # the cluster part runs on PostgreSQL only
                    bench_sqlite(run, chromium, workdir)
                if config.postgres and config.parts & {'api', 'overview', 'import', 'cluster'}:
                    bench_postgres(run, chromium, workdir)
                else:
                    run.notes.append('PostgreSQL skipped (--no-postgres).')
            finally:
                chromium.close()
    finally:
        if config.keep:
            run.log(f'data kept in {workdir}')
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    finish(run)
    return 0 if all(figure.verdict != 'n/a' for figure in run.figures) else 1


def bench_sqlite(run: Run, chromium: Browser, workdir: Path) -> None:
    config = run.config
    data_dir = workdir / 'sqlite' / 'data'
    data_dir.mkdir(parents=True)
    url = f'sqlite:///{data_dir / "jobs.db"}'
    run.measure(f'SQLite: seeding {config.jobs:,} jobs', lambda: seed_figures(run, url, 'SQLite'))
    with running_server(run, chromium, data_dir) as server:
        run.figures.append(idle_memory(run, server))
        if 'api' in config.parts:
            run.measure(
                f'SQLite: GET /api/jobs at {config.jobs:,} jobs', lambda: api_figures(run, server, url, 'SQLite')
            )
        if 'overview' in config.parts:
            run.measure('SQLite: Overview and export', lambda: overview_figures(run, server, 'SQLite'))
        if 'browser' in config.parts:
            run.measure(
                'Browser: first rows on Job Management',
                lambda: browser.measure_first_rows(chromium, server, runs=config.browser_runs, log=run.log),
            )
        if 'push' in config.parts:
            run.measure(
                f'New rows in {config.new_row_tabs} tabs',
                lambda: rows.measure_new_rows(chromium, server, tabs=config.new_row_tabs, count=10, log=run.log),
            )
            run.measure('A lone change in one tab', lambda: rows.measure_lone_change(chromium, server, log=run.log))
            run.measure(
                f'Memory and push latency with {config.tabs} tabs',
                lambda: push.measure_tabs_and_push(
                    chromium, server, tabs=config.tabs, rate=config.push_rate, seconds=config.push_seconds, log=run.log
                ),
            )
        if 'throughput' in config.parts:
            run.measure(
                'End-to-end job throughput',
                lambda: throughput.measure_throughput(
                    chromium, server, count=config.throughput_jobs, launchers=config.launchers, log=run.log
                ),
            )
        if 'import' in config.parts:
            run.measure(
                f'Import throughput ({config.import_rows:,} rows)',
                lambda: imports.measure_import(server, workdir, rows=config.import_rows, log=run.log),
            )


def bench_postgres(run: Run, chromium: Browser, workdir: Path) -> None:
    config = run.config
    admin = sa.create_engine(config.postgres_url, isolation_level='AUTOCOMMIT')
    try:
        with admin.connect() as connection:
            version = connection.execute(sa.text('SHOW server_version')).scalar()
    except sa.exc.OperationalError as error:
        note = f'PostgreSQL skipped: not reachable at {config.postgres_url} ({str(error).splitlines()[0]})'
        run.log(note)
        run.notes.append(note)
        admin.dispose()
        return
    run.info['postgresql'] = f'PostgreSQL {version}'
    name = f'bench_{uuid.uuid4().hex[:10]}'
    url = sa.make_url(config.postgres_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE {name}'))
    try:
        run.measure(f'PostgreSQL: seeding {config.jobs:,} jobs', lambda: seed_figures(run, url, 'PostgreSQL'))
        data_dir = workdir / 'postgresql' / 'data'
        with running_server(run, chromium, data_dir, database_url=url) as server:
            if 'api' in config.parts:
                run.measure(
                    f'PostgreSQL: GET /api/jobs at {config.jobs:,} jobs',
                    lambda: api_figures(run, server, url, 'PostgreSQL'),
                )
            if 'overview' in config.parts:
                run.measure('PostgreSQL: Overview and export', lambda: overview_figures(run, server, 'PostgreSQL'))
            if 'import' in config.parts:
                run.measure(
                    f'PostgreSQL: import throughput ({config.import_rows:,} rows)',
                    lambda: imports.measure_import(
                        server, workdir, rows=config.import_rows, log=run.log, postgresql_url=url
                    ),
                )
            if 'cluster' in config.parts:
                run.measure(
                    f'PostgreSQL: {config.workers + 1} processes running jobs',
                    lambda: cluster.measure_cluster(
                        server,
                        url,
                        workers=config.workers,
                        count=config.throughput_jobs,
                        launchers=config.launchers,
                        log=run.log,
                    ),
                )
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS {name} WITH (FORCE)'))
        admin.dispose()


@contextmanager
def running_server(run: Run, chromium: Browser, data_dir: Path, *, database_url: str = '') -> Iterator[Server]:
    run.log('starting the server and logging in through /login')
    server = start_server(data_dir, database_url=database_url)
    try:
        server.log_in(chromium).close()
        yield server
    except Exception:
        print(server.tail(), file=sys.stderr)
        raise
    finally:
        server.stop()


def seed_figures(run: Run, url: str, backend: str) -> list[Figure]:
    timings = seed(url, run.config.jobs, admin=ADMIN, log=lambda message: run.log(f'  {message}'))
    run.log(f'  {timings["jobs_per_second"]:,.0f} jobs/s ({timings["seed_seconds"]:.1f} s)')
    return [Figure(f'Seed {backend}: jobs (2 subtasks each) inserted', timings['jobs_per_second'], 'jobs/s',
                   details=timings)]  # fmt: skip


def idle_memory(run: Run, server: Server) -> Figure:
    """The server's resident size once started and logged into, when no page is open.

    The login's tab is closed; the server keeps a closed tab for its reconnect window (10 s), then lets it go and,
    with no page left open, hands freed memory back after QUIET_SECONDS (app/memory.py). Read after that.
    """
    push.wait_for_clients(server, 0)
    time.sleep(QUIET_SECONDS + 1)
    rss = server.rss_kb() / 1024
    run.log(f'  server RSS idle: {rss:.0f} MB')
    return Figure('Server memory idle, SQLite (RSS after start and one login, its tab closed)', rss, 'MB',
                  IDLE_TARGET_MB)  # fmt: skip


def overview_figures(run: Run, server: Server, backend: str) -> list[Figure]:
    config = run.config
    figures = overview.measure_stats(
        server, backend=backend, requests=config.requests, warmups=config.warmups, log=run.log
    )
    return figures + overview.measure_export(server, backend=backend, log=run.log)


def api_figures(run: Run, server: Server, url: str, backend: str) -> list[Figure]:
    config = run.config
    figures = api.measure_api(
        server, backend=backend, jobs=config.jobs, requests=config.requests, warmups=config.warmups, log=run.log
    )
    for figure in figures:
        if figure.verdict == 'FAIL':
            label = f'{figure.name} ({figure.formatted()})'
            try:
                explained = plans.explain(url, figure.details['params'])
            except Exception as error:  # the plan is a diagnosis; a figure without it still stands
                explained = {'in_process_ms': float('nan'), 'statements': [], 'error': str(error)}
            run.plans.append({'figure': figure.name, **explained})
            figure.details['plan'] = explained
            run.log(plans.format_plan(label, explained))
    return figures


def finish(run: Run) -> None:
    info = run.info
    print()
    print(f'Job Management benchmark: {run.config.jobs:,} jobs, {run.config.import_rows:,}-row import')
    print(f'Machine: {describe_machine(info)}')
    print()
    print(table(run.figures))
    for note in run.notes:
        print(f'Note: {note}')
    missed = [figure for figure in run.figures if figure.verdict == 'FAIL']
    if missed:
        print(
            f'\n{len(missed)} figure(s) missed their target.'
            + (' Query plans of the slow API queries are in the JSON.' if run.plans else '')
        )
    write_json(
        run.config.output,
        info=info,
        config={key: str(value) if isinstance(value, Path) else value for key, value in asdict(run.config).items()},
        figures=run.figures,
        notes=run.notes,
        extra={
            'plans': run.plans,
            'markdown_table': markdown_table(run.figures),
            'total_seconds': time.monotonic() - run.started,
        },
    )
    print(f'Results written to {run.config.output}')


if __name__ == '__main__':
    sys.exit(main())
