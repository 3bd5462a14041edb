"""System Tasks page: admins see the three tasks and can run them; everyone else gets a 404."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from nicegui import ui
from nicegui.testing import User
from sqlmodel import col

from app.jobs.system_tasks import DATABASE_BACKUP, STORAGE_INTEGRITY_CHECK, TASKS
from app.pages.components import StatusIcon
from app.pages.system_tasks import describe_schedule
from app.services import Services
from app.storage import jobs as queries
from app.storage import maintenance
from app.storage.db import session
from app.storage.models import User as UserModel
from app.storage.users import list_users
from tests.conftest import ADMIN
from tests.pages.conftest import add_user, log_in

TASKS_PATH = '/settings/maintenance/tasks'


async def open_as_admin(user: User) -> None:
    await log_in(user)
    await user.open(TASKS_PATH)
    await user.should_see('System Tasks')


def run_button(user: User, key: str) -> ui.button:
    button = user.find(marker=f'run-{key}').elements.pop()
    assert isinstance(button, ui.button)
    return button


async def test_admin_sees_each_task_with_schedule_last_run_and_run_now(user: User) -> None:
    await open_as_admin(user)
    for task in TASKS:
        await user.should_see(task.name)
        await user.should_see(task.summary)
        assert run_button(user, task.key).text == 'Run now'
    for label in ('Schedule', 'Next run', 'Last run', 'Never'):
        await user.should_see(label)
    await user.should_see('Not scheduled')  # the tests turn every schedule off


async def test_run_now_launches_the_task_and_shows_it_as_last_run(user: User, services: Services) -> None:
    await open_as_admin(user)
    user.find(marker=f'run-{STORAGE_INTEGRITY_CHECK.key}').click()
    await user.should_see('Storage Integrity Check started as job')
    await services.jobs.wait_idle()
    admin = next(u for u in list_users(services.engine) if u.username == ADMIN[0])
    latest = maintenance.latest_jobs(services.engine, viewer=admin, job_types=[STORAGE_INTEGRITY_CHECK.key])
    job = latest[STORAGE_INTEGRITY_CHECK.key]
    assert (job['job'], job['run_by'], job['run_at']) == ('Storage Integrity Check', ADMIN[0], TASKS_PATH)
    assert job['description'] == STORAGE_INTEGRITY_CHECK.summary
    # The last run appears live, linked to the job's detail page, and ends Completed.
    await user.should_see(kind=ui.link, content=f'Job {job["id"]}', retries=20)
    link = user.find(kind=ui.link, content=f'Job {job["id"]}').elements.pop()
    assert isinstance(link, ui.link) and link.props['href'] == f'/settings/maintenance/jobs/{job["id"]}'
    for _ in range(40):
        if [icon.status_text for icon in user.find(kind=StatusIcon).elements] == ['Completed']:
            break
        await asyncio.sleep(0.1)
    assert [icon.status_text for icon in user.find(kind=StatusIcon).elements] == ['Completed']
    assert run_button(user, STORAGE_INTEGRITY_CHECK.key).enabled


async def test_a_running_task_is_not_started_twice(user: User, services: Services) -> None:
    admin = next(u for u in list_users(services.engine) if u.username == ADMIN[0])
    assert admin.id is not None
    running = queries.create_job(  # a backup In Progress, as another node or an earlier click left it
        services.engine, job_type=DATABASE_BACKUP.key, name=DATABASE_BACKUP.name, category='general',
        description='running elsewhere', run_by_id=admin.id, run_at=TASKS_PATH, params={},
    )  # fmt: skip
    await open_as_admin(user)
    button = run_button(user, DATABASE_BACKUP.key)
    assert button.text == 'Running…' and not button.enabled
    assert run_button(user, STORAGE_INTEGRITY_CHECK.key).enabled
    user.find(marker=f'run-{DATABASE_BACKUP.key}').trigger('click')  # a click that raced the state update
    await user.should_see('Database Backup is already running')
    latest = maintenance.latest_jobs(services.engine, viewer=admin, job_types=[DATABASE_BACKUP.key])
    assert latest[DATABASE_BACKUP.key]['id'] == running['id']  # no second backup was recorded
    queries.finish_job(services.engine, job_id=running['id'])


async def test_non_admin_gets_not_found_and_no_drawer_entry(user: User, services: Services) -> None:
    add_user(services, 'ann')
    await log_in(user, 'ann', 'ann-password')
    await user.should_see('Log out')
    response = await user.http_client.get(TASKS_PATH)
    assert response.status_code == 404
    assert 'Page not found' in response.text
    assert 'Run now' not in response.text and 'Database Backup' not in response.text
    await user.open('/settings/maintenance/jobs')
    await user.should_see('Application Maintenance')
    await user.should_not_see('System Tasks')


async def test_anonymous_visitor_is_sent_to_login(user: User) -> None:
    await user.open(TASKS_PATH)
    await user.should_see('Log in')


def test_schedules_read_as_words() -> None:
    assert describe_schedule('0 2 * * *') == 'Daily at 02:00 UTC'
    assert describe_schedule('30 3 * * *') == 'Daily at 03:30 UTC'
    assert describe_schedule('0 4 * * 0') == 'Weekly on Sunday at 04:00 UTC'
    assert describe_schedule('0 4 * * mon') == 'Weekly on Monday at 04:00 UTC'
    assert describe_schedule('15 1 1 * *') == 'Monthly on day 1 at 01:15 UTC'
    assert describe_schedule('5 * * * *') == 'Hourly at minute 5'
    assert describe_schedule('*/10 * * * 1-5') == 'cron "*/10 * * * 1-5" (UTC)'
    assert describe_schedule('  ') == 'Not scheduled'


async def test_run_now_rechecks_the_admin_role(user: User, services: Services) -> None:
    await open_as_admin(user)
    with session(services.engine) as db:  # demoted while the page is open
        db.execute(sa.update(UserModel).where(col(UserModel.username) == ADMIN[0]).values(is_admin=False))
        db.commit()
    user.find(marker=f'run-{DATABASE_BACKUP.key}').click()
    await user.should_see('Only admins may run system tasks')
    await services.jobs.wait_idle()
    admin = next(u for u in list_users(services.engine) if u.username == ADMIN[0])
    assert maintenance.latest_jobs(services.engine, viewer=admin, job_types=[DATABASE_BACKUP.key]) == {}
