"""The command line: user management against a real data dir, the worker's preconditions, database upgrades,
and clear errors for bad settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory

from app.storage.db import MIGRATIONS_DIR

ROOT = Path(__file__).parents[1]


def cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(('JOBS_', 'PYTEST_', 'NICEGUI_'))}
    environment.update(JOBS_DATA_DIR=str(tmp_path / 'data'), **env)
    return subprocess.run(
        [sys.executable, 'main.py', *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


def test_user_commands_manage_accounts(tmp_path: Path) -> None:
    first = cli(tmp_path, 'user', 'list')
    assert first.returncode == 0
    assert 'Created admin user "admin" with password:' in first.stdout  # shown once, on first start
    assert 'admin\tadmin' in first.stdout
    assert cli(tmp_path, 'user', 'add', 'ann', '--password', 'pw1').returncode == 0
    assert cli(tmp_path, 'user', 'add', 'root2', '--password', 'pw2', '--admin').returncode == 0
    again = cli(tmp_path, 'user', 'list')
    assert 'Created admin' not in again.stdout
    assert again.stdout.splitlines() == ['admin\tadmin', 'ann\tuser', 'root2\tadmin']
    duplicate = cli(tmp_path, 'user', 'add', 'ann', '--password', 'x')
    assert duplicate.returncode == 1 and 'already exists' in duplicate.stderr
    assert cli(tmp_path, 'user', 'set-password', 'ann', '--password', 'new').returncode == 0
    missing = cli(tmp_path, 'user', 'set-password', 'ghost', '--password', 'x')
    assert missing.returncode == 1 and 'No user "ghost"' in missing.stderr


def test_bad_settings_name_the_variable(tmp_path: Path) -> None:
    result = cli(tmp_path, 'user', 'list', JOBS_PORT='abc', JOBS_STORAGE_SECRET='changeme')
    assert result.returncode == 2
    assert 'Invalid setting JOBS_PORT' in result.stderr
    assert 'Invalid setting JOBS_STORAGE_SECRET' in result.stderr
    assert 'Traceback' not in result.stderr


def test_worker_needs_postgresql(tmp_path: Path) -> None:
    result = cli(tmp_path, 'worker')  # no JOBS_DATABASE_URL: SQLite in the data dir
    assert result.returncode == 2
    assert '"worker" needs a shared PostgreSQL database' in result.stderr
    assert 'Traceback' not in result.stderr


def test_worker_rejects_a_concurrency_below_one(tmp_path: Path, postgres_url: str) -> None:
    result = cli(tmp_path, 'worker', '--concurrency', '0', JOBS_DATABASE_URL=postgres_url)
    assert result.returncode == 2
    assert result.stderr.strip() == 'Error: --concurrency must be at least 1'
    assert not _has_table(postgres_url, 'job')  # it stopped before touching the database


def test_db_upgrade_installs_the_job_queue_on_postgresql_and_can_run_again(tmp_path: Path, postgres_url: str) -> None:
    expected = f'Database is at revision {_head_revision()}'
    first = cli(tmp_path, 'db', 'upgrade', JOBS_DATABASE_URL=postgres_url)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == expected
    assert _has_table(postgres_url, 'procrastinate_jobs')
    again = cli(tmp_path, 'db', 'upgrade', JOBS_DATABASE_URL=postgres_url)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == expected


def test_db_upgrade_on_sqlite_prints_the_revision(tmp_path: Path) -> None:
    result = cli(tmp_path, 'db', 'upgrade')
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f'Database is at revision {_head_revision()}'
    assert (tmp_path / 'data' / 'jobs.db').is_file()


def _head_revision() -> str:
    config = Config()
    config.set_main_option('script_location', str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def _has_table(url: str, name: str) -> bool:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return sa.inspect(connection).has_table(name)
    finally:
        engine.dispose()


def test_token_and_account_commands(tmp_path: Path) -> None:
    assert cli(tmp_path, 'user', 'add', 'ann', '--password', 'pw1').returncode == 0
    created = cli(tmp_path, 'token', 'create', 'ann', '--name', 'nightly import')
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith('jm_') and len(secret) > 40
    assert 'not shown again' in created.stderr
    engine = sa.create_engine(f'sqlite:///{tmp_path / "data" / "jobs.db"}')
    with engine.connect() as connection:
        stored = connection.execute(sa.text('SELECT name, token_hash FROM api_token')).all()
    engine.dispose()
    assert [row.name for row in stored] == ['nightly import'] and secret not in stored[0].token_hash
    ghost = cli(tmp_path, 'token', 'create', 'ghost', '--name', 'x')
    assert ghost.returncode == 1 and 'No user "ghost"' in ghost.stderr
    assert cli(tmp_path, 'user', 'disable', 'ann').returncode == 0
    assert cli(tmp_path, 'user', 'list').stdout.splitlines() == ['admin\tadmin', 'ann\tuser\tdisabled']
    assert cli(tmp_path, 'user', 'enable', 'ann').returncode == 0
    assert cli(tmp_path, 'user', 'set-admin', 'ann').returncode == 0
    assert cli(tmp_path, 'user', 'set-admin', 'admin', '--remove').returncode == 0
    assert cli(tmp_path, 'user', 'list').stdout.splitlines() == ['admin\tuser', 'ann\tadmin']
    last = cli(tmp_path, 'user', 'disable', 'ann')
    assert last.returncode == 1 and 'last active admin' in last.stderr
