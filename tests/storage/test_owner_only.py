"""The database file, stored files and backups are the owner's only (0600, directories 0700) (issue 13)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.config import Settings
from app.jobs.system_tasks import DATABASE_BACKUP
from app.services import Services, build_services
from tests.conftest import make_settings
from tests.jobs.test_system_tasks import output, run_task


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
async def sqlite_services(tmp_path: Path, sqlite_url: str) -> Services:
    settings: Settings = make_settings(tmp_path, sqlite_url)
    built = build_services(settings)
    built.start()
    yield built  # type: ignore[misc]
    await built.stop()


async def test_database_stored_files_and_backups_are_owner_only(sqlite_services: Services) -> None:
    settings = sqlite_services.settings
    assert mode(settings.resolved_data_dir) == 0o700
    assert mode(settings.resolved_storage_dir) == 0o700
    database = Path(str(sa.make_url(settings.resolved_database_url).database))
    assert mode(database) == 0o600
    for journal in database.parent.glob('jobs.db-*'):
        assert mode(journal) == 0o600, journal
    stored = sqlite_services.files.save_bytes(b'name,email\n')
    path = sqlite_services.files.path(stored.relative_path)
    assert (mode(path), mode(path.parent)) == (0o600, 0o700)
    detail = await run_task(sqlite_services, DATABASE_BACKUP.key)
    assert detail['status'] == 'completed', detail
    _, backup = output(sqlite_services, detail)
    assert mode(backup) == 0o600


async def test_streamed_uploads_are_owner_only(sqlite_services: Services) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        yield b'name,email\n'

    stored = await sqlite_services.files.save_stream(chunks())
    assert mode(sqlite_services.files.path(stored.relative_path)) == 0o600


def test_an_existing_database_file_is_made_owner_only(tmp_path: Path) -> None:
    from app.storage.db import create_engine

    database = tmp_path / 'old.db'
    database.write_bytes(b'')
    database.chmod(0o644)
    create_engine(f'sqlite:///{database}').dispose()
    assert mode(database) == 0o600


def test_an_existing_data_dir_is_made_owner_only(tmp_path: Path) -> None:
    data_dir = tmp_path / 'data'
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    make_settings(tmp_path, '').prepare_data_dir()
    assert mode(data_dir) == 0o700
