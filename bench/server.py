"""The real server (``python main.py``) in a subprocess, logged in through the real /login page."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect

ROOT = Path(__file__).parents[1]
CHROMIUM = '/usr/bin/chromium'
CHROMIUM_ARGS = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
]
ADMIN = ('bench-admin', 'bench-admin-password')
JOBS_PATH = '/settings/maintenance/jobs'
START_TIMEOUT = 120.0  # a first start on a big database includes its migration


@dataclass
class Server:
    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log: Path
    http: httpx.Client = field(init=False)
    cookies: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.url, timeout=600)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_in(self, browser: Browser) -> BrowserContext:
        """Log in through /login in a new browser context; its session cookie then serves the HTTP client too."""
        context = new_context(browser)
        page = context.new_page()
        page.goto(f'{self.url}/login')
        page.get_by_label('Username').fill(ADMIN[0])
        page.get_by_label('Password').fill(ADMIN[1])
        page.get_by_role('button', name='Log in').click()
        expect(page.get_by_role('button', name='Log out')).to_be_visible(timeout=60_000)
        self.cookies = list(context.cookies())
        for cookie in self.cookies:
            self.http.cookies.set(cookie['name'], cookie['value'])
        page.close()
        return context

    def hook(self, route: str, /, **payload: Any) -> Any:
        """Call one of bench/hooks.py's routes in the server."""
        response = self.http.post(f'/_bench/{route}', json=payload)
        response.raise_for_status()
        return response.json()

    def rss_kb(self) -> int:
        return proc_status(self.pid)['VmRSS']

    def stop(self) -> None:
        self.http.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def tail(self, lines: int = 40) -> str:
        return '\n'.join(self.log.read_text(errors='replace').splitlines()[-lines:])


def start_server(data_dir: Path, *, database_url: str = '', max_upload_mb: int = 2048) -> Server:
    """Start ``python main.py`` on a free port with its own data dir and wait until /login answers."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir.parent / f'server-{port}.log'
    with log.open('ab') as output:
        process = subprocess.Popen(
            [sys.executable, 'main.py'],
            cwd=ROOT,
            env=server_env(data_dir, port, database_url=database_url, max_upload_mb=max_upload_mb),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f'http://127.0.0.1:{port}'
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f'server exited:\n{log.read_text(errors="replace")}')
        try:
            if httpx.get(f'{url}/login', timeout=2).status_code == 200:
                return Server(url, data_dir, process, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f'server did not start:\n{log.read_text(errors="replace")}')


def server_env(data_dir: Path, port: int, *, database_url: str, max_upload_mb: int) -> dict[str, str]:
    # PYTEST_* would make NiceGUI think it runs under its own test harness and ignore host and port.
    env = {key: value for key, value in os.environ.items() if not key.startswith(('PYTEST_', 'JOBS_', 'NICEGUI_'))}
    env.update(
        JOBS_DATA_DIR=str(data_dir),
        JOBS_DATABASE_URL=database_url,
        JOBS_HOST='127.0.0.1',
        JOBS_PORT=str(port),
        JOBS_ADMIN_USERNAME=ADMIN[0],
        JOBS_ADMIN_PASSWORD=ADMIN[1],
        JOBS_EXTRA_JOB_TYPES='bench.hooks',
        JOBS_MAX_UPLOAD_MB=str(max_upload_mb),
        JOBS_BACKUP_CRON='',
        JOBS_PURGE_CRON='',
        JOBS_INTEGRITY_CRON='',
        PYTHONPATH=str(ROOT),
    )
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


def proc_status(pid: int) -> dict[str, int]:
    """The memory lines of /proc/<pid>/status in kB (VmRSS, VmHWM, ...)."""
    values: dict[str, int] = {}
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        name, _, rest = line.partition(':')
        if rest.strip().endswith('kB'):
            values[name] = int(rest.split()[0])
    return values


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM (the peak resident size) of a process we own; False where the kernel does not allow it."""
    try:
        Path(f'/proc/{pid}/clear_refs').write_text('5')
        return True
    except OSError:
        return False


def launch_browser(playwright: Playwright) -> Browser:
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f'{CHROMIUM} is missing: run `make chromium` (it installs Debian Chromium)')
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def new_context(browser: Browser, cookies: list[Any] | None = None, *, height: int = 900) -> BrowserContext:
    context = browser.new_context(viewport={'width': 1400, 'height': height})
    context.set_default_timeout(60_000)
    if cookies:
        context.add_cookies(cookies)
    return context


def open_jobs_page(context: BrowserContext, url: str) -> Page:
    """A new tab on Job Management, returned once its first rows show."""
    page = context.new_page()
    page.bring_to_front()  # with many tabs open, work in a background one is slow (DESIGN §3)
    page.goto(f'{url}{JOBS_PATH}')
    page.locator(FIRST_ROW).first.wait_for(state='visible')
    return page


# A rendered grid row with its status icon drawn: what a person sees as "the rows are there".
FIRST_ROW = '.ag-center-cols-container .ag-row[row-id] [col-id="status"] [aria-label]'
