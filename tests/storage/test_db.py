"""The schema is created and upgraded by migrations, on SQLite and PostgreSQL alike."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from app.config import Settings
from app.storage.db import create_engine, current_revision, include_object, migrate
from app.storage.models import User
from app.storage.users import create_user, list_users


def test_migrations_create_schema_and_keep_data_on_restart(database_url: str) -> None:
    engine = create_engine(database_url)
    assert current_revision(engine) is None
    migrate(engine)
    assert current_revision(engine) == newest_revision()
    create_user(engine, username='kept', password='pw')
    migrate(engine)  # a second start upgrades in place and never recreates
    assert [user.username for user in list_users(engine)] == ['kept']
    tables = set(sa.inspect(engine).get_table_names())
    assert {'user', 'user_session', 'job', 'subtask', 'job_file', 'contact', 'job_count'} <= tables
    # PostgreSQL also gets the cluster executor's queue; SQLite runs jobs in process and needs none
    assert ('procrastinate_jobs' in tables) == (engine.dialect.name == 'postgresql')
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


def test_upgrade_from_first_schema_keeps_jobs_and_fills_new_columns(database_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    from app.storage.db import MIGRATIONS_DIR

    engine = create_engine(database_url)
    config = Config()
    config.set_main_option('script_location', str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes['connection'] = connection
        command.upgrade(config, '0001')
    with engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO \"user\" (id, username, password_hash, is_admin, created_at) VALUES (5, 'old', 'x', false, "
            "'2026-01-01 00:00:00')"
        ))  # fmt: skip
        for job_id, status in ((1, 'completed'), (2, 'failed'), (3, 'completed')):
            connection.execute(sa.text(
                "INSERT INTO job (id, job_type, name, category, description, status, started_at, run_by_id, run_at, "
                f"progress_done, progress_total, params) VALUES ({job_id}, 't', 'Old Job', 'general', 'kept', "
                f"'{status}', '2026-01-01 00:00:00', 5, '/', 0, 0, '{{}}')"
            ))  # fmt: skip
    migrate(engine)
    with engine.connect() as connection:
        assert connection.execute(sa.text('SELECT DISTINCT run_by_name FROM job')).scalars().all() == ['old']
        counts = connection.execute(sa.text('SELECT status, n FROM job_count ORDER BY status')).all()
    assert [tuple(row) for row in counts] == [('completed', 2), ('failed', 1)]
    engine.dispose()


def test_group_counts_follow_inserts_updates_and_deletes(database_url: str) -> None:
    from app.storage import jobs as queries
    from app.storage.listing import JobFilter, list_jobs

    engine = create_engine(database_url)
    migrate(engine)
    admin = create_user(engine, username='boss', password='pw', is_admin=True)
    ann = create_user(engine, username='ann', password='pw')
    assert ann.id is not None and admin.id is not None
    made = [
        queries.create_job(engine, job_type='t', name='Job A', category='general', description='d',
                           run_by_id=ann.id, run_at='/', params={})['id']
        for _ in range(4)
    ]  # fmt: skip
    queries.finish_job(engine, job_id=made[0])
    queries.finish_job(engine, job_id=made[1], error='x')
    with engine.begin() as connection:
        connection.execute(sa.text(f'DELETE FROM job WHERE id = {made[3]}'))

    def total(viewer: object, **filters: str) -> int:
        page = list_jobs(engine, viewer=viewer, filters=JobFilter(**filters), limit=1000)  # type: ignore[arg-type]
        assert page.total >= len(page.rows) and page.total_is_exact
        return page.total

    assert total(admin) == 3
    assert total(admin, status='in_progress') == 1
    assert total(admin, status='failed', job='Job A', category='general') == 1
    assert total(admin, run_by='ann') == 3
    assert total(admin, run_by='boss') == 0
    assert total(ann) == 3 and total(admin, category='import') == 0
    assert total(admin, q='d') == 3  # counted row by row, and agrees
    engine.dispose()


def test_text_search_finds_substrings_in_any_case_and_follows_changes(database_url: str) -> None:
    from app.storage import jobs as queries
    from app.storage.listing import JobFilter, list_jobs

    engine = create_engine(database_url)
    migrate(engine)
    admin = create_user(engine, username='boss', password='pw', is_admin=True)
    assert admin.id is not None
    descriptions = ['Import of "Q3" leads.csv', 'Nightly backup', 'import of contacts', 'x']
    ids = [
        queries.create_job(engine, job_type='t', name='T', category='general', description=text,
                           run_by_id=admin.id, run_at='/', params={})['id']
        for text in descriptions
    ]  # fmt: skip

    def found(q: str) -> list[int]:
        return sorted(row['id'] for row in list_jobs(engine, viewer=admin, filters=JobFilter(q=q))[1])

    assert found('IMPORT OF') == [ids[0], ids[2]]
    assert found('"Q3"') == [ids[0]]  # quotes are plain text, not query syntax
    assert found('ack') == [ids[1]]
    assert found('x') == [ids[3]]  # shorter than a trigram still works
    assert found('nothing like it') == []
    with engine.begin() as connection:
        connection.execute(sa.text(f"UPDATE job SET description = 'renamed' WHERE id = {ids[1]}"))
        connection.execute(sa.text(f'DELETE FROM job WHERE id = {ids[2]}'))
    assert found('backup') == []
    assert found('renamed') == [ids[1]]
    assert found('of contacts') == []
    engine.dispose()


def test_text_search_pages_agree_with_a_plain_filter_and_bound_their_count(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Common words are read from the newest rows, rare ones through the index: both give the same pages."""
    from app.storage import listing
    from app.storage.jobs import JOB
    from app.storage.listing import JobFilter, list_jobs

    engine = create_engine(database_url)
    migrate(engine)
    admin = create_user(engine, username='boss', password='pw', is_admin=True)
    descriptions = [f'Nightly backup {n}' if n % 3 == 0 else f'Import {n}' for n in range(400)]
    descriptions[7] = 'Rare needle'
    rows = [
        {'job_type': 't', 'name': 'T', 'category': 'general', 'description': text, 'status': 'completed',
         'started_at': datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=n), 'run_by_id': admin.id,
         'run_by_name': 'boss', 'run_at': '/', 'progress_done': 0, 'progress_total': 0, 'params': {}}
        for n, text in enumerate(descriptions)
    ]  # fmt: skip
    with engine.begin() as connection:
        connection.execute(sa.insert(JOB), rows)
    newest_first = list(reversed(range(1, 401)))
    backups = [job_id for job_id in newest_first if descriptions[job_id - 1].startswith('Nightly backup')]
    monkeypatch.setattr(listing, 'SEARCH_WINDOW', 30)  # small, so both ways are taken
    monkeypatch.setattr(listing, 'SEARCH_WINDOW_GROWTH', 1)
    monkeypatch.setattr(listing, 'SEARCH_COUNT_AHEAD', 20)

    def page(q: str, offset: int, sort: str = '-started_at') -> listing.JobPage:
        return list_jobs(engine, viewer=admin, filters=JobFilter(q=q), offset=offset, limit=10, sort=sort)

    first = page('BACKUP', 0)  # found in the window
    assert [row['id'] for row in first.rows] == backups[:10]
    assert (first.total, first.total_is_exact) == (30, False)  # "30 or more": counted 20 past the page only
    deep = page('backup', 120)  # past the window: through the index
    assert [row['id'] for row in deep.rows] == backups[120:130]
    last = page('backup', 130)  # the list ends on this page: the total is exact again
    assert [row['id'] for row in last.rows] == backups[130:] and (last.total, last.total_is_exact) == (134, True)
    assert [row['id'] for row in page('backup', 0, sort='id').rows] == sorted(backups)[:10]
    rare = page('needle', 0)
    assert [row['id'] for row in rare.rows] == [8] and (rare.total, rare.total_is_exact) == (1, True)
    assert page('nothing', 0).rows == [] and page('nothing', 0).total == 0
    engine.dispose()


def test_the_models_match_the_migrations_and_autogenerate_leaves_the_job_queue_alone(database_url: str) -> None:
    engine = create_engine(database_url)
    migrate(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={'include_object': include_object})
        assert compare_metadata(context, SQLModel.metadata) == []  # nothing to add, and nothing to drop
    engine.dispose()


def test_counts_kept_before_the_sharded_counts_survive_the_upgrade(database_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    from app.storage import jobs as queries
    from app.storage.db import MIGRATIONS_DIR
    from app.storage.listing import JobFilter, list_jobs

    engine = create_engine(database_url)
    config = Config()
    config.set_main_option('script_location', str(MIGRATIONS_DIR))
    with engine.begin() as connection:  # a database last upgraded before migration 0006
        config.attributes['connection'] = connection
        command.upgrade(config, '0005')
    with engine.begin() as connection:  # the user table as it was then (the model has later columns)
        statement = 'INSERT INTO "user" (username, password_hash, is_admin, created_at) VALUES (:n, :h, :a, :t)'
        connection.execute(sa.text(statement), {'n': 'boss', 'h': '!', 'a': True, 't': datetime.now(UTC)})
        boss_id = connection.execute(sa.text('SELECT id FROM "user" WHERE username = :n'), {'n': 'boss'}).scalar_one()
    boss = User(id=boss_id, username='boss', password_hash='!', is_admin=True)

    def record(finish: bool) -> None:
        row = queries.create_job(engine, job_type='t', name='Job A', category='general', description='d',
                                 run_by_id=boss.id, run_at='/', params={})  # fmt: skip
        if finish:
            queries.finish_job(engine, job_id=row['id'])

    def record_old(finish: bool) -> None:  # today's queries name columns later migrations add: plain SQL here
        now = datetime.now(UTC).replace(tzinfo=None)  # stored as naive UTC, as the models do
        with engine.begin() as connection:
            connection.execute(
                sa.text("INSERT INTO job (job_type, name, category, description, status, started_at, ended_at, "
                        "run_by_id, run_by_name, run_at, progress_done, progress_total, params, attempts) VALUES ('t', "
                        "'Job A', 'general', 'd', :status, :now, :ended, :owner, 'boss', '/', 0, 0, '{}', 1)"),
                {'status': 'completed' if finish else 'in_progress', 'now': now, 'ended': now if finish else None,
                 'owner': boss.id},
            )  # fmt: skip

    record_old(finish=True)
    record_old(finish=False)
    migrate(engine)
    record(finish=True)

    def total(**filters: str) -> int:
        return list_jobs(engine, viewer=boss, filters=JobFilter(**filters), limit=10).total  # type: ignore[arg-type]

    assert (total(), total(status='completed'), total(status='in_progress')) == (3, 2, 1)
    engine.dispose()


def newest_revision() -> str:
    """The head of the migration scripts (the one a fresh start must reach)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from app.storage.db import MIGRATIONS_DIR

    config = Config()
    config.set_main_option('script_location', str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head
