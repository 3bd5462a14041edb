"""The command line: user management against a real data dir, and clear errors for bad settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
