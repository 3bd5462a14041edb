"""Load: 20 concurrent imports of 5,000 rows while 5 browsers watch; nothing lost, nothing locked, pages answer."""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import log_in, start_server, stop_server

IMPORTS, ROWS, WATCHERS = 20, 5_000, 5


def contacts_csv(number: int) -> bytes:
    lines = ['name,email,phone,company']
    for row in range(ROWS):
        email = f'bad-{number}-{row}' if row % 10 == 0 else f'p{number}-{row}@example.org'  # every 10th invalid
        lines.append(f'Person {row},{email},+1 555 {row:04},Company {number}')
    return ('\n'.join(lines) + '\n').encode()


def test_twenty_concurrent_imports_while_five_browsers_watch(browser: Browser, tmp_path: Path) -> None:
    server = start_server(tmp_path / 'data')
    pages: list[Page] = []
    done = threading.Event()
    try:
        for _ in range(WATCHERS):
            watcher = browser.new_page()
            log_in(watcher, server, path='/settings/maintenance/jobs?tab=imports')
            pages.append(watcher)
        cookies = {c['name']: c['value'] for c in pages[0].context.cookies()}
        client = httpx.Client(base_url=server.url, cookies=cookies, timeout=60)
        latencies: list[float] = []
        failures: list[str] = []

        def probe() -> None:  # a person clicking around while the imports run
            while not done.is_set():
                for path in ('/settings/maintenance/jobs', '/api/jobs?category=import&limit=100'):
                    started = time.perf_counter()
                    try:
                        status = client.get(path).status_code
                    except httpx.HTTPError as error:
                        failures.append(f'{path}: {error}')
                        return
                    latencies.append(time.perf_counter() - started)
                    if status != 200:
                        failures.append(f'{path}: HTTP {status}')
                time.sleep(0.1)

        prober = threading.Thread(target=probe)
        prober.start()
        job_ids = []
        for number in range(IMPORTS):
            response = client.post(f'/_test/import?filename=load-{number}.csv', content=contacts_csv(number))
            assert response.status_code == 200, response.text
            job_ids.append(response.json()['id'])
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            rows = client.get('/api/jobs?category=import&limit=100').json()['rows']
            if all(row['status'] != 'in_progress' for row in rows if row['id'] in job_ids):
                break
            time.sleep(1)
        done.set()
        prober.join()
        assert not failures, failures[:5]

        for job_id in job_ids:
            detail = client.get(f'/api/jobs/{job_id}').json()
            assert (detail['status'], detail['error']) == ('failed', f'{ROWS // 10} of {ROWS} rows rejected')
            files = {f['role']: f for f in detail['files']}
            report = client.get(files['error_report']['url']).text.splitlines()
            result = client.get(files['output']['url']).text.splitlines()
            assert len(report) == ROWS // 10 + 1 and len(result) == ROWS - ROWS // 10 + 1
        last = pages[-1]
        last.bring_to_front()
        expect(last.locator(f'.ag-row[row-id="{job_ids[-1]}"]').get_by_role('img', name='Failed')).to_be_visible()
        log = server.log.read_text()
        assert 'database is locked' not in log
        assert 'Traceback' not in log, log[-3000:]
        p95 = statistics.quantiles(latencies, n=20)[18]
        print(f'\npage requests during load: {len(latencies)}, p50 {statistics.median(latencies) * 1000:.0f} ms, '
              f'p95 {p95 * 1000:.0f} ms')  # fmt: skip
        assert p95 < 5, 'pages stopped answering under load'
    finally:
        done.set()
        for watcher in pages:
            watcher.close()
        stop_server(server)
