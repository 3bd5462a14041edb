"""Several processes on one PostgreSQL: web instances (`python main.py`) and workers (`python main.py worker`).

Each process is a real subprocess sharing the database, the storage directory and the session secret, as
nodes behind a load balancer would.
"""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import ROOT, Server, free_port, log_in, server_env, start_server, stop_server

STALLED_AFTER = 3  # seconds without a heartbeat before a worker counts as dead (30 by default)


@dataclass
class Cluster:
    tmp_path: Path
    shared: dict[str, str]
    engine: sa.Engine
    nodes: list[Server] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def storage(self) -> Path:
        return Path(self.shared['JOBS_STORAGE_DIR'])

    def start_node(self, **settings: str) -> Server:
        number = len(self.nodes) + 1
        node = start_server(self.tmp_path / f'node{number}' / 'data', **(self.shared | settings))
        self.nodes.append(node)
        return node

    def start_worker(self) -> subprocess.Popen[bytes]:
        number = len(self.workers) + 1
        data_dir = self.tmp_path / f'worker{number}' / 'data'
        data_dir.mkdir(parents=True)
        log = self.tmp_path / f'worker{number}.log'
        env = server_env(data_dir, free_port()) | self.shared
        with log.open('wb') as output:
            process = subprocess.Popen(
                [sys.executable, 'main.py', 'worker'], cwd=ROOT, env=env, stdout=output, stderr=output
            )
        self.workers.append(process)
        wait_for(lambda: 'is running jobs' in log.read_text(), f'worker {number} did not start: {log}', timeout=30)
        return process

    def count(self, query: str, **params: object) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(sa.text(query), params).scalar_one())


@contextmanager
def cluster(tmp_path: Path, postgres_url: str, **settings: str) -> Iterator[Cluster]:
    shared = {
        'JOBS_DATABASE_URL': postgres_url,
        'JOBS_STORAGE_DIR': str(tmp_path / 'shared-storage'),
        'JOBS_STORAGE_SECRET': 'one-secret-for-every-node',
        'JOBS_STALLED_AFTER_SECONDS': str(STALLED_AFTER),
        **settings,
    }
    running = Cluster(tmp_path, shared, sa.create_engine(postgres_url))
    try:
        yield running
    finally:
        for process in running.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for node in running.nodes:
            stop_server(node)
        for process in running.workers:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        running.engine.dispose()


def wait_for(condition: Callable[[], bool], message: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.2)


def test_two_instances_and_a_worker_run_each_of_200_jobs_exactly_once(
    page: Page, tmp_path: Path, postgres_url: str
) -> None:
    with cluster(tmp_path, postgres_url) as nodes:
        first, second = nodes.start_node(), nodes.start_node()
        nodes.start_worker()
        log_in(page, first)
        launched = []
        for number in range(200):
            node = (first, second)[number % 2]  # launches arrive at both instances
            response = page.request.post(f'{node.url}/_test/launch/test_record')
            assert response.ok, response.text()
            launched.append(response.json()['id'])
        wait_for(
            lambda: nodes.count("SELECT count(*) FROM job WHERE status = 'completed'") == 200,
            'not every job completed',
        )
        runs = [line.split() for line in (nodes.storage / 'runs.log').read_text().splitlines()]
        per_job = Counter(int(job_id) for job_id, _pid in runs)
        assert sorted(per_job) == sorted(launched)
        assert set(per_job.values()) == {1}  # each job ran exactly once
        assert nodes.count("SELECT count(*) FROM job WHERE status <> 'completed' OR attempts <> 1") == 0
        print(f'runs per process: {Counter(pid for _job, pid in runs)}')


def test_a_schedule_fires_once_per_period_whatever_the_number_of_processes(tmp_path: Path, postgres_url: str) -> None:
    every_two_seconds = '* * * * * */2'  # minute hour day month weekday second
    with cluster(tmp_path, postgres_url, JOBS_INTEGRITY_CRON=every_two_seconds) as nodes:
        nodes.start_node()
        nodes.start_node()
        nodes.start_worker()
        checks = "SELECT count(*) FROM job WHERE job_type = 'storage_integrity_check'"
        wait_for(lambda: nodes.count(checks) >= 1, 'the schedule never fired', timeout=20)
        started = time.monotonic()
        before = nodes.count(checks)
        time.sleep(10)
        fired = nodes.count(checks) - before
        periods = (time.monotonic() - started) / 2
        # three processes hold the schedule: a launch per process would give about three per period
        assert periods - 2 <= fired <= periods + 1, (fired, periods)


def contacts_csv(rows: int) -> bytes:
    output = io.StringIO()
    writer = csv.writer(output)
    writer.writerow(['name', 'email', 'phone', 'company'])
    for number in range(rows):
        writer.writerow([f'Person {number}', f'person{number}@example.org', f'+1 555 {number:07d}', 'Acme'])
    return output.getvalue().encode()


def test_a_killed_worker_s_import_is_started_again_by_another_and_imports_every_row_once(
    page: Page, tmp_path: Path, postgres_url: str
) -> None:
    rows = 200_000
    with cluster(tmp_path, postgres_url, JOBS_WEB_WORKER='false') as nodes:
        web = nodes.start_node()  # serves pages only: the worker processes run the jobs
        doomed = nodes.start_worker()
        log_in(page, web)
        response = page.request.post(f'{web.url}/_test/import?filename=big.csv', data=contacts_csv(rows))
        assert response.ok, response.text()
        job_id = response.json()['id']
        writing = "SELECT count(*) FROM subtask WHERE job_id = :job AND name = 'Write contacts'"
        wait_for(lambda: nodes.count(writing, job=job_id) == 1, 'the import never started writing', timeout=60)
        os.kill(doomed.pid, signal.SIGKILL)  # no shutdown, no goodbye: its heartbeat just stops
        doomed.wait()
        nodes.start_worker()
        job = "SELECT count(*) FROM job WHERE id = :job AND status = 'completed' AND attempts = 2"
        wait_for(lambda: nodes.count(job, job=job_id) == 1, 'the import was not completed by a second attempt', 120)
        assert nodes.count('SELECT count(*) FROM contact') == rows
        assert nodes.count('SELECT count(DISTINCT email) FROM contact') == rows
        lost = "SELECT count(*) FROM subtask WHERE job_id = :job AND status = 'failed' AND message LIKE '%worker%'"
        # The steps the dead worker was in say what happened: Write contacts, and Validate rows if it had not ended.
        assert nodes.count(lost, job=job_id) in (1, 2)
        outputs = "SELECT count(*) FROM job_file WHERE job_id = :job AND role = 'output'"
        assert nodes.count(outputs, job=job_id) == 1  # one result report, from the attempt that finished
        page.goto(f'{web.url}/settings/maintenance/jobs/{job_id}')
        expect(page.get_by_text('Attempts')).to_be_visible()


def test_a_browser_on_one_instance_sees_a_job_run_by_a_worker_change_live(
    page: Page, tmp_path: Path, postgres_url: str
) -> None:
    with cluster(tmp_path, postgres_url, JOBS_WEB_WORKER='false') as nodes:
        web = nodes.start_node()
        nodes.start_worker()
        log_in(page, web, path='/settings/maintenance/jobs')
        response = page.request.post(f'{web.url}/_test/launch/test_record?delay=2')
        job_id = response.json()['id']
        row = page.locator(f'.ag-row[row-id="{job_id}"]').locator('visible=true')
        expect(row.get_by_role('img', name='In Progress')).to_be_visible()
        expect(row.get_by_role('img', name='Completed')).to_be_visible(timeout=15_000)
        runs = (nodes.storage / 'runs.log').read_text().split()
        assert runs[0] == str(job_id) and int(runs[1]) != web.process.pid  # it really ran in the worker


def test_a_stopped_worker_hands_its_running_job_to_another(page: Page, tmp_path: Path, postgres_url: str) -> None:
    with cluster(tmp_path, postgres_url, JOBS_WEB_WORKER='false', JOBS_SHUTDOWN_GRACE_SECONDS='1') as nodes:
        web = nodes.start_node()
        leaving = nodes.start_worker()
        log_in(page, web)
        response = page.request.post(f'{web.url}/_test/launch/test_steps?delay=2&steps=3')
        job_id = response.json()['id']
        running = "SELECT count(*) FROM subtask WHERE job_id = :job AND status = 'in_progress'"
        wait_for(lambda: nodes.count(running, job=job_id) == 1, 'the job never started', timeout=30)
        leaving.send_signal(signal.SIGTERM)  # a rolling restart: the worker is asked to stop
        assert leaving.wait(timeout=30) == 0
        handed_on = 'Interrupted: the node running this job stopped; going on with another worker (attempt 2 of 3)'
        interrupted = "SELECT count(*) FROM subtask WHERE job_id = :job AND status = 'failed' AND message = :message"
        assert nodes.count(interrupted, job=job_id, message=handed_on) == 1
        assert nodes.count("SELECT count(*) FROM job WHERE id = :job AND status = 'in_progress'", job=job_id) == 1
        nodes.start_worker()
        done = "SELECT count(*) FROM job WHERE id = :job AND status = 'completed' AND attempts = 2"
        wait_for(lambda: nodes.count(done, job=job_id) == 1, 'another worker did not finish the job', timeout=60)


def test_disabling_a_user_on_one_instance_sends_their_open_page_on_another_to_login(
    page: Page, browser: Browser, tmp_path: Path, postgres_url: str
) -> None:
    with cluster(tmp_path, postgres_url) as running:
        first, second = running.start_node(), running.start_node()
        name, password = first.add_user('kim')
        log_in(page, first, path='/settings/users')
        other = browser.new_context(viewport={'width': 1400, 'height': 900})
        try:
            kim = other.new_page()
            log_in(kim, second, name, password, path='/imports')
            expect(kim.get_by_role('heading', name='Contacts Import')).to_be_visible()
            page.bring_to_front()
            row = page.get_by_role('row').filter(has_text=name)
            row.get_by_role('button', name='Disable').click()
            expect(row).to_contain_text('Disabled')
            kim.bring_to_front()
            expect(kim).to_have_url(re.compile(r'/login'), timeout=5_000)
        finally:
            other.close()
