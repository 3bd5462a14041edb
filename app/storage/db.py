"""Engine creation (SQLite tuned for concurrent readers, or PostgreSQL) and migrations at start-up."""

from __future__ import annotations

import contextlib
import os
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

MIGRATIONS_DIR = Path(__file__).parent / 'migrations'
SQLITE_BUSY_TIMEOUT_MS = 30_000
MIGRATION_LOCK = 7_242_024  # PostgreSQL advisory lock key held while migrating


def create_engine(url: str, *, application_name: str = 'job-management') -> sa.Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and enforced foreign keys.

    On PostgreSQL, ``application_name`` names this process in change notifications (see app.jobs.relay).
    """
    if url.startswith('sqlite'):
        _create_owner_only(sa.make_url(url).database)
        engine = sa.create_engine(
            url,
            connect_args={'check_same_thread': False, 'timeout': SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_size=10,
            max_overflow=20,
        )
        # pysqlite's default transaction handling is kept on purpose: it runs SELECTs outside a transaction and
        # opens one right before the first write, so a write never has to upgrade a stale read snapshot (which
        # SQLite answers with "database is locked" at once, without waiting for the busy timeout).
        sa.event.listen(engine, 'connect', _configure_sqlite)
        return engine
    connect_args = {'application_name': application_name}
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, connect_args=connect_args)


def _create_owner_only(database: str | None) -> None:
    """Create the SQLite file readable by its owner only (0600); its -wal and -shm files get the same mode."""
    if not database or database == ':memory:' or database.startswith('file:'):
        return
    path = Path(database)
    if path.parent.is_dir():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        with contextlib.suppress(OSError):
            path.chmod(0o600)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute('PRAGMA journal_mode=WAL')
    cursor.execute(f'PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}')
    cursor.execute('PRAGMA foreign_keys=ON')
    cursor.execute('PRAGMA synchronous=NORMAL')
    cursor.close()


def migrate(engine: sa.Engine) -> None:
    """Bring the schema to the newest revision; an existing database is upgraded in place.

    On PostgreSQL this also installs procrastinate's schema (the cluster executor's queue), and several nodes
    starting at once take turns: the first migrates, the others find nothing left to do.
    """
    if engine.dialect.name == 'sqlite' and current_revision(engine) == newest_revision():
        return  # up to date: Alembic (some 10 MB once imported) is not even loaded
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option('script_location', str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        if connection.dialect.name == 'postgresql':
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK)))
        config.attributes['connection'] = connection
        command.upgrade(config, 'head')
        if connection.dialect.name == 'postgresql':
            _install_queue_schema(connection)


def upsert(engine: sa.Engine, table: sa.Table) -> sqlite.Insert | postgresql.Insert:
    """An INSERT into ``table`` that can take ``on_conflict_do_update``, in the engine's own dialect.

    PostgreSQL's dialect (some 3 MB once imported) is loaded only by a node that uses it.
    """
    if engine.dialect.name == 'postgresql':
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def newest_revision() -> str:
    """The newest migration's revision id: the migrations are one chain numbered in order (``0009_job_stats.py``)."""
    return max(path.name.split('_', 1)[0] for path in (MIGRATIONS_DIR / 'versions').glob('[0-9]*_*.py'))


# Tables Alembic must neither create nor drop: procrastinate's queue (installed from its own schema file) and the
# SQLite full-text index (virtual tables made by migration 0003).
UNMANAGED_PREFIXES = ('procrastinate_', 'job_search')


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic's filter for autogenerate: leave the tables of UNMANAGED_PREFIXES (and their indexes) alone."""
    table = obj.table.name if type_ in ('index', 'column', 'unique_constraint', 'foreign_key_constraint') else name
    return not (table or '').startswith(UNMANAGED_PREFIXES)


def _install_queue_schema(connection: sa.Connection) -> None:
    """Create procrastinate's tables, types and functions unless they exist (they are kept out of Alembic)."""
    if sa.inspect(connection).has_table('procrastinate_jobs'):
        return
    from procrastinate.schema import SchemaManager

    cursor = connection.connection.cursor()  # the driver's own cursor: no parameter parsing of its '%' signs
    try:
        cursor.execute(SchemaManager.get_schema())
    finally:
        cursor.close()


def refresh_statistics(engine: sa.Engine) -> None:
    """Let the query planner know the table sizes, so it picks the index that matches each sort.

    On SQLite this is a sampled ANALYZE (bounded work even at millions of rows); PostgreSQL's autovacuum
    keeps its own statistics.
    """
    if engine.dialect.name == 'sqlite':
        with engine.begin() as connection:
            connection.exec_driver_sql('PRAGMA analysis_limit=2000')
            connection.exec_driver_sql('ANALYZE')
            connection.exec_driver_sql('PRAGMA shrink_memory')  # the pages it sampled: no use to later queries


def current_revision(engine: sa.Engine) -> str | None:
    """The Alembic revision the database is at, or None for an empty database."""
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table('alembic_version'):
            return None
        return connection.execute(sa.text('SELECT version_num FROM alembic_version')).scalar()


def libpq_url(url: sa.URL, *, password: bool = False) -> str:
    """The SQLAlchemy URL as a libpq connection URI (no ``+psycopg`` driver name); the password only if asked for."""
    plain = sa.URL.create(
        'postgresql',
        username=url.username,
        password=url.password if password else None,
        host=url.host,
        port=url.port,
        database=url.database,
        query=url.query,
    )
    return plain.render_as_string(hide_password=False)


Bind = sa.Engine | sa.Connection


def transaction(bind: Bind) -> AbstractContextManager[sa.Connection]:
    """A transaction of its own on an engine, or the caller's on a connection (see app.jobs.writer)."""
    return bind.begin() if isinstance(bind, sa.Engine) else nullcontext(bind)


def session(engine: sa.Engine) -> Session:
    """A session whose objects stay readable after commit (they are handed to other threads)."""
    return Session(engine, expire_on_commit=False)
