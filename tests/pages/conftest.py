"""NiceGUI ``User`` fixture running main.py against a temporary data dir on SQLite."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import fastapi.dependencies.models
import httpx
import pytest
from nicegui import app, core, ui
from nicegui.testing import User
from nicegui.testing.user_simulation import user_simulation

from app.pages.auth import COMPLETE_LOGIN_PATH
from app.services import Services
from app.storage import jobs as queries
from app.storage.users import create_user, list_users
from tests.conftest import ADMIN

MAIN = Path(__file__).parents[2] / 'main.py'
LOGIN_TIMEOUT = 30.0


@pytest.fixture
def app_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data_dir = tmp_path / 'data'
    monkeypatch.setenv('JOBS_DATA_DIR', str(data_dir))
    monkeypatch.setenv('JOBS_DATABASE_URL', '')
    monkeypatch.setenv('JOBS_ADMIN_USERNAME', ADMIN[0])
    monkeypatch.setenv('JOBS_ADMIN_PASSWORD', ADMIN[1])
    for name in ('JOBS_BACKUP_CRON', 'JOBS_PURGE_CRON', 'JOBS_INTEGRITY_CRON'):
        monkeypatch.setenv(name, '')
    monkeypatch.setenv('JOBS_EXTRA_JOB_TYPES', 'tests.job_types')
    return data_dir


@pytest.fixture
async def user(app_env: Path) -> AsyncIterator[User]:
    lifespan = app.router.lifespan_context
    async with user_simulation(main_file=MAIN) as simulated:
        yield simulated
    forget_the_app(lifespan)


def forget_the_app(lifespan: Any) -> None:
    """Let the test's app go: NiceGUI's app object outlives it, and FastAPI chains the lifespan of every router
    included (ours, per test) into the app's and remembers facts about endpoint functions in module-level caches
    (4,096 entries). Both held every test's routes, closures over its services: every app stayed in memory, and
    the garbage collector, which NiceGUI's harness runs twice per test, took seconds per test by the suite's end."""
    app.router.lifespan_context = lifespan
    for cached in vars(fastapi.dependencies.models).values():
        if callable(getattr(cached, 'cache_clear', None)):
            cached.cache_clear()


class _Routed:
    """``ui.navigate``, ``ui.notify`` or ``ui.download`` of the simulated browser whose page is running.

    NiceGUI's simulation hands them to whichever ``User`` was touched last, so with several simulated browsers a
    server-side navigation (a page whose session ended going to /login) could land in another browser, depending
    on timing. Routed by the page's own client, each lands where a real browser would see it."""

    def __init__(self, attribute: str) -> None:
        self._attribute = attribute

    def _target(self) -> Any:
        try:
            client = ui.context.client
        except RuntimeError:  # no page is running: as NiceGUI does
            client = None
        for browser in list(_browsers):
            if client is not None and object.__getattribute__(browser, 'client') is client:
                return object.__getattribute__(browser, self._attribute)
        return object.__getattribute__(_browsers[-1], self._attribute)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target(), name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._target()(*args, **kwargs)


_browsers: list[User] = []  # the simulated browsers of the running test, the one touched last at the end
_ROUTED = (_Routed('navigate'), _Routed('notify'), _Routed('download'))


@pytest.fixture(autouse=True)
def navigation_by_page() -> Iterator[None]:
    """Route the simulation's navigate, notify and download by page (see ``_Routed``)."""
    touch = User.__getattribute__

    def routed(self: User, name: str) -> Any:
        if name not in {'notify', 'navigate', 'download'}:
            if not _browsers or _browsers[-1] is not self:
                with contextlib.suppress(ValueError):
                    _browsers.remove(self)
                _browsers.append(self)
            ui.navigate, ui.notify, ui.download = _ROUTED  # type: ignore[assignment]
        return object.__getattribute__(self, name)

    User.__getattribute__ = routed  # type: ignore[method-assign]
    try:
        yield
    finally:
        User.__getattribute__ = touch  # type: ignore[method-assign]
        _browsers.clear()


@pytest.fixture
def services(user: User) -> Services:
    """The running app's services (the simulated app was started by the ``user`` fixture)."""
    running: Services = app.state.services
    return running


async def log_in(user: User, username: str = ADMIN[0], password: str = ADMIN[1]) -> None:
    await user.open('/login')
    user.find('Username').type(username)
    user.find('Password').type(password)
    user.find('Log in').click()
    # The click is handled asynchronously and argon2 takes a moment, seconds on a loaded machine: a short wait
    # that gave up silently made fixtures fail later with a puzzling 401 (issue 13).
    # Then the page navigates to the ticket URL in a background task: wait until that page stands, or it would
    # replace (as a newer page of the same tab) whatever page the test opens next.
    deadline = asyncio.get_running_loop().time() + LOGIN_TIMEOUT
    while (
        not user.back_history[-1].startswith(COMPLETE_LOGIN_PATH)
        or (await user.http_client.get('/api/jobs?limit=1')).status_code == 401
    ):
        if asyncio.get_running_loop().time() > deadline:
            alerts = [e.props.get('innerHTML') or getattr(e, 'text', '') for e in user.current_layout.descendants()
                      if e.props.get('role') == 'alert' and e.visible]  # fmt: skip
            raise AssertionError(f'{username} did not get logged in within {LOGIN_TIMEOUT} s: {alerts}')
        await asyncio.sleep(0.05)


async def log_in_failing(user: User, username: str, password: str) -> None:
    """Try to log in and wait until the page shows why it did not work."""
    await user.open('/login')
    user.find('Username').type(username)
    user.find('Password').type(password)
    user.find('Log in').click()
    alert = next(e for e in user.current_layout.descendants() if e.props.get('role') == 'alert')
    for _ in range(100):
        if alert.visible:
            return
        await asyncio.sleep(0.05)


def add_user(services: Services, username: str, *, admin: bool = False) -> int:
    created = create_user(services.engine, username=username, password=f'{username}-password', is_admin=admin)
    assert created.id is not None
    return created.id


@pytest.fixture
def new_browser(user: User) -> Callable[[], User]:
    """Another browser (own cookies and session) on the same running app."""

    def make() -> User:
        return User(httpx.AsyncClient(transport=httpx.ASGITransport(core.app), base_url='http://test'))

    return make


def make_job(services: Services, owner_id: int, *, category: str = 'general', description: str = 'work') -> int:
    """Record a job row directly (no handler runs)."""
    row = queries.create_job(
        services.engine,
        job_type='test_steps',
        name='Test Steps',
        category=category,
        description=description,
        run_by_id=owner_id,
        run_at='/settings/maintenance/tasks',
        params={},
    )
    job_id: int = row['id']
    return job_id


def attach_file(services: Services, job_id: int, data: bytes, filename: str, role: str = 'output') -> int:
    stored = services.files.save_bytes(data)
    job_file = queries.add_file(services.engine, job_id=job_id, new_file=queries.NewFile(role, filename, stored))
    assert job_file.id is not None
    return job_file.id


@pytest.fixture
async def people(user: User, services: Services, new_browser: Callable[[], User]) -> dict[str, User]:
    """admin, ann and bob, each logged in in a browser of their own."""
    add_user(services, 'ann')
    add_user(services, 'bob')
    await log_in(user)
    browsers = {'admin': user}
    for name in ('ann', 'bob'):
        browsers[name] = new_browser()
        await log_in(browsers[name], name, f'{name}-password')
        assert (await browsers[name].http_client.get('/api/jobs')).status_code == 200
    browsers['anonymous'] = new_browser()
    return browsers


def owner_ids(services: Services) -> dict[str, int]:
    return {u.username: u.id for u in list_users(services.engine) if u.id is not None}
