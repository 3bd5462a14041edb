"""A server on SQLite does not load what only PostgreSQL, migrations or unused library features need: each such
module costs resident memory for as long as the server runs (README "Performance": idle memory). The command line
does not load the web stack at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]

# What main.py's `serve` does before ui.run, on a database that is already migrated, plus a login's writes (the
# session and the login throttle are upserts, spelled per dialect), then the modules that must not be there.
SERVE_AND_LOG_IN = """
import json, sys
import main
main.keep_out_unused_modules()
from app.config import Settings
from app.services import build_services
from app.storage import throttle, users
from app.web import create_app
services = build_services(Settings())
create_app(services)
services.prepare()
admin = users.create_user(services.engine, username='ann', password='a-long-password')
users.start_session(services.engine, key='k' * 32, user_id=admin.id)
throttle.record_try(services.engine, ['admin', '127.0.0.1'])
print(json.dumps(sorted(name for name in sys.argv[1:] if sys.modules.get(name) is not None)))
"""
NOT_ON_SQLITE = [
    'psycopg',  # PostgreSQL's driver
    'procrastinate',  # the cluster's job queue
    'app.jobs.relay',  # the cluster's change relay
    'sqlalchemy.dialects.postgresql',  # some 3 MB
    'alembic',  # migrations, some 10 MB with Mako and Pygments
    'aiohttp',  # socket.io's client half
    'pydantic.v1',  # FastAPI's check for Pydantic 1 models
    'watchfiles',  # uvicorn's reloader
]


def test_a_server_on_sqlite_leaves_out_postgresql_migrations_and_unused_features(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(('JOBS_', 'PYTEST_', 'NICEGUI_'))}
    environment.update(JOBS_DATA_DIR=str(tmp_path / 'data'), NICEGUI_STORAGE_PATH=str(tmp_path / 'sessions'))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, *args], cwd=ROOT, env=environment, capture_output=True, text=True,
                              timeout=120)  # fmt: skip

    assert run('main.py', 'db', 'upgrade').returncode == 0  # a first start migrates (and loads Alembic) once
    started = run('-c', SERVE_AND_LOG_IN, *NOT_ON_SQLITE)
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout.splitlines()[-1]) == []


def test_the_command_line_starts_without_the_web_stack(tmp_path: Path) -> None:
    # A `user` or `token` command builds the same services as the server but shows no page: NiceGUI, FastAPI and
    # uvicorn (most of a second to import) stay out, so the commands answer at once.
    environment = {k: v for k, v in os.environ.items() if not k.startswith(('JOBS_', 'PYTEST_', 'NICEGUI_'))}
    environment.update(JOBS_DATA_DIR=str(tmp_path / 'data'))
    script = (
        'import json, sys, main; code = main.main(["user", "list"]); print(json.dumps([code, '
        'sorted(name for name in ("nicegui", "fastapi", "uvicorn") if name in sys.modules)]))'
    )
    listed = subprocess.run([sys.executable, '-c', script], cwd=ROOT, env=environment, capture_output=True, text=True,
                            timeout=120)  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert 'admin\tadmin' in listed.stdout
    assert json.loads(listed.stdout.splitlines()[-1]) == [0, []]
