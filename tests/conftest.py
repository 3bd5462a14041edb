"""Shared fixtures: a real database (SQLite file, or a fresh PostgreSQL schema) and started services."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from sqlmodel import select

from app.config import Settings
from app.services import Services, build_services
from app.storage import users
from app.storage.db import session
from app.storage.models import Contact

# Tests hash passwords with argon2 at its cheapest settings (a few ms instead of ~100 ms a hash): the same code
# paths, a tenth of the time per page test. The servers the browser tests start keep the real settings.
users._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
users._DUMMY_HASH = users._hasher.hash('not-a-real-password')

POSTGRES_URL = os.environ.get('JOBS_TEST_POSTGRES_URL', 'postgresql+psycopg://postgres@127.0.0.1:5432/test')
ADMIN = ('admin', 'admin-password-1')


def postgres_available() -> bool:
    try:
        engine = sa.create_engine(POSTGRES_URL)
        with engine.connect():
            pass
        engine.dispose()
        return True
    except sa.exc.OperationalError:
        return False


@pytest.fixture(params=['sqlite', 'postgresql'])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL for each backend; PostgreSQL gets a schema of its own, dropped afterwards."""
    if request.param == 'sqlite':
        yield f'sqlite:///{tmp_path / "jobs.db"}'
        return
    with postgres_schema() as url:
        yield url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL on a schema of its own, dropped afterwards."""
    with postgres_schema() as url:
        yield url


@contextmanager
def postgres_schema() -> Iterator[str]:
    if not postgres_available():
        if os.environ.get('CI'):
            pytest.fail(f'PostgreSQL is not reachable at {POSTGRES_URL}')
        pytest.skip('PostgreSQL is not reachable')
    schema = f't_{uuid.uuid4().hex[:12]}'
    admin_engine = sa.create_engine(POSTGRES_URL, isolation_level='AUTOCOMMIT')
    with admin_engine.connect() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA {schema}'))
    try:
        yield f'{POSTGRES_URL}?options=-csearch_path%3D{schema}'
    finally:
        with admin_engine.connect() as connection:
            connection.execute(sa.text(f'DROP SCHEMA {schema} CASCADE'))
        admin_engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f'sqlite:///{tmp_path / "jobs.db"}'


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


def make_settings(tmp_path: Path, database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        'data_dir': tmp_path / 'data',
        'database_url': database_url,
        'admin_username': ADMIN[0],
        'admin_password': ADMIN[1],
        'backup_cron': '',
        'purge_cron': '',
        'integrity_cron': '',
        'extra_job_types': 'tests.job_types',
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    """Started services on a fresh database (both backends)."""
    built = build_services(settings)
    built.start()
    try:
        yield built
    finally:
        await built.stop()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark browser tests and run them last: Playwright's sync API leaves an event loop behind. Under pytest-xdist
    (``make test``: ``-n 2 --dist loadgroup``) the browser tests and the others are two groups, so one process runs
    the browser tests while the other runs the rest, and no process runs an async test after a browser test."""
    for item in items:
        browser = f'{Path("tests") / "e2e"}' in str(item.path)
        if browser:
            item.add_marker(pytest.mark.e2e)
        if config.pluginmanager.hasplugin('xdist'):
            item.add_marker(pytest.mark.xdist_group('browser' if browser else 'in-process'))
    items.sort(key=lambda item: item.get_closest_marker('e2e') is not None)


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    """A migrated engine on each backend (storage-layer tests that need no running services)."""
    from app.storage.db import create_engine, migrate

    created = create_engine(database_url)
    migrate(created)
    yield created
    created.dispose()


def find_contact(engine: sa.Engine, *, email: str) -> Contact | None:
    """The contact with this (lower-case) e-mail, if any: how tests look at what an import wrote."""
    with session(engine) as db:
        return db.exec(select(Contact).where(Contact.email == email)).first()
