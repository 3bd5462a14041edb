"""The schema is created and upgraded by migrations, on SQLite and PostgreSQL alike."""

from pathlib import Path

import sqlalchemy as sa

from app.config import Settings
from app.storage.db import create_engine, current_revision, migrate
from app.storage.users import create_user, list_users


def test_migrations_create_schema_and_keep_data_on_restart(database_url: str) -> None:
    engine = create_engine(database_url)
    assert current_revision(engine) is None
    migrate(engine)
    assert current_revision(engine) == '0001'
    create_user(engine, username='kept', password='pw')
    migrate(engine)  # a second start upgrades in place and never recreates
    assert [user.username for user in list_users(engine)] == ['kept']
    tables = set(sa.inspect(engine).get_table_names())
    assert {'user', 'job', 'subtask', 'job_file', 'contact'} <= tables
    engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_busy_timeout(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql('PRAGMA journal_mode').scalar() == 'wal'
        assert connection.exec_driver_sql('PRAGMA foreign_keys').scalar() == 1
        assert connection.exec_driver_sql('PRAGMA busy_timeout').scalar() == 30000
    engine.dispose()


def test_default_database_lives_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path / 'data')  # type: ignore[call-arg]
    assert settings.resolved_database_url == f'sqlite:///{tmp_path / "data" / "jobs.db"}'
    assert settings.resolved_storage_dir == tmp_path / 'data' / 'storage'
