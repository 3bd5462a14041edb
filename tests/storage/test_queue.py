"""The SQL we run on procrastinate's queue (app/storage/queue.py) fits the schema of the installed procrastinate.

procrastinate's public API cannot join our transactions for a take-over, so app/storage/queue.py calls its
versioned SQL functions itself. A release that renames one or changes its arguments must fail here, not in a
cluster whose stalled jobs are never taken over.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.storage import queue
from app.storage.db import create_engine, migrate

SOURCE = Path(queue.__file__).read_text()


@pytest.fixture
def queue_engine(postgres_url: str) -> Iterator[sa.Engine]:
    """A PostgreSQL schema migrated as at start-up, procrastinate's queue schema included."""
    engine = create_engine(postgres_url)
    migrate(engine)
    yield engine
    engine.dispose()


def test_each_versioned_function_we_call_is_installed_with_the_arguments_we_pass(queue_engine: sa.Engine) -> None:
    query = sa.text(
        'SELECT proname, pg_get_function_identity_arguments(oid) FROM pg_proc'
        ' WHERE pronamespace = current_schema()::regnamespace AND proname = ANY(:names)'
    )
    with queue_engine.connect() as connection:
        installed = dict(connection.execute(query, {'names': list(queue.FUNCTIONS)}).all())
    assert installed == queue.FUNCTIONS


def test_every_versioned_function_named_in_the_module_is_checked() -> None:
    called = set(re.findall(r'procrastinate_\w+_v\d+', SOURCE))
    assert called == set(queue.FUNCTIONS)


def test_the_job_table_has_the_columns_and_statuses_we_read(queue_engine: sa.Engine) -> None:
    with queue_engine.connect() as connection:
        columns = {column['name'] for column in sa.inspect(connection).get_columns('procrastinate_jobs')}
        enum = sa.text('SELECT unnest(enum_range(NULL::procrastinate_job_status))')
        statuses = set(connection.execute(enum).scalars())
    assert set(queue.JOB_COLUMNS) <= columns
    assert {'todo', 'doing', 'failed'} <= statuses
