"""Browser tests: the real server (`python main.py`) in a subprocess, driven by Playwright in Debian's Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

ROOT = Path(__file__).parents[2]
CHROMIUM = '/usr/bin/chromium'
ADMIN = ('admin', 'admin-password-1')
CHROMIUM_ARGS = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
]


@dataclass
class Server:
    url: str
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``python main.py ARGS`` against this server's data dir."""
        return subprocess.run(
            [sys.executable, 'main.py', *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=60
        )

    def add_user(self, name: str, *, admin: bool = False) -> tuple[str, str]:
        password = f'{name}-password'
        result = self.cli('user', 'add', name, '--password', password, *(['--admin'] if admin else []))
        assert result.returncode == 0, result.stderr
        return name, password


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


def server_env(data_dir: Path, port: int) -> dict[str, str]:
    # A server started from pytest must not inherit PYTEST_* (NiceGUI would think it runs under its test harness).
    env = {key: value for key, value in os.environ.items() if not key.startswith(('PYTEST_', 'JOBS_', 'NICEGUI_'))}
    env.update(
        JOBS_DATA_DIR=str(data_dir),
        JOBS_PORT=str(port),
        JOBS_ADMIN_USERNAME=ADMIN[0],
        JOBS_ADMIN_PASSWORD=ADMIN[1],
        JOBS_EXTRA_JOB_TYPES='tests.job_types',
        JOBS_BACKUP_CRON='',
        JOBS_PURGE_CRON='',
        JOBS_INTEGRITY_CRON='',
        PYTHONPATH=str(ROOT),
    )
    return env


def start_server(data_dir: Path, port: int | None = None, **settings: str) -> Server:
    """Start ``python main.py``; ``settings`` are extra ``JOBS_*`` variables (e.g. ``JOBS_DATABASE_URL``)."""
    port = port or free_port()
    env = server_env(data_dir, port) | settings
    log = data_dir.parent / f'server-{port}.log'
    data_dir.mkdir(parents=True, exist_ok=True)
    with log.open('ab') as output:
        process = subprocess.Popen([sys.executable, 'main.py'], cwd=ROOT, env=env, stdout=output, stderr=output)
    url = f'http://127.0.0.1:{port}'
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f'server exited: {log.read_text()}')
        try:
            if httpx.get(f'{url}/login', timeout=1).status_code == 200:
                return Server(url, data_dir, env, process, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f'server did not start: {log.read_text()}')


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope='module')
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp('e2e') / 'data')
    yield running
    stop_server(running)


@pytest.fixture(scope='session')
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f'{CHROMIUM} is missing: run `make test` (it installs Debian Chromium)')
    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope='session')
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(accept_downloads=True, viewport={'width': 1400, 'height': 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def log_in(page: Page, server: Server, username: str = ADMIN[0], password: str = ADMIN[1], path: str = '') -> None:
    page.goto(f'{server.url}/login' if not path else f'{server.url}{path}')
    page.get_by_label('Username').fill(username)
    page.get_by_label('Password').fill(password)
    page.get_by_role('button', name='Log in').click()
    expect(page.get_by_role('button', name='Log out')).to_be_visible()
