"""NiceGUI ``User`` fixture running main.py against a temporary data dir on SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nicegui import app
from nicegui.testing import User
from nicegui.testing.user_simulation import user_simulation

from app.services import Services
from app.storage.users import create_user
from tests.conftest import ADMIN

MAIN = Path(__file__).parents[2] / 'main.py'


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
    async with user_simulation(main_file=MAIN) as simulated:
        yield simulated


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


def add_user(services: Services, username: str, *, admin: bool = False) -> int:
    created = create_user(services.engine, username=username, password=f'{username}-password', is_admin=admin)
    assert created.id is not None
    return created.id
