"""The detail page acts on its job: "Cancel job" with confirmation, "Run again", progress, duration, live log."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from nicegui import ui
from nicegui.testing import User

from app.pages.job_controls import eta_text
from app.services import Services
from app.storage import jobs as queries
from app.storage.users import list_users
from tests.pages.conftest import add_user, log_in, make_job


def admin_id(services: Services) -> int:
    return next(u.id for u in list_users(services.engine) if u.username == 'admin' and u.id is not None)


def job(services: Services, job_id: int) -> dict[str, Any]:
    admin = next(u for u in list_users(services.engine) if u.username == 'admin')
    detail = queries.get_job(services.engine, viewer=admin, job_id=job_id)
    assert detail is not None
    return detail


async def eventually(check: Any, timeout: float = 8.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    assert check()


def visible(user: User, text: str) -> bool:
    try:
        return any(element.visible for element in user.find(text).elements)
    except AssertionError:  # nothing (visible) carries the text
        return False


async def test_cancel_job_asks_first_then_the_job_ends_failed(user: User, services: Services) -> None:
    await log_in(user)
    job_id = await services.jobs.launch('test_steps', description='long', run_by_id=admin_id(services),
                                        run_at='/x', params={'steps': 5, 'delay': 0.5})  # fmt: skip
    await user.open(f'/settings/maintenance/jobs/{job_id}')
    await user.should_see('Cancel job')
    await user.should_not_see('Run again')
    user.find('Cancel job').click()
    await user.should_see('Yes, cancel')
    assert job(services, job_id)['cancelled_by'] is None  # nothing happens before the confirmation
    user.find('Yes, cancel').click()
    await eventually(lambda: job(services, job_id)['status'] == 'failed', timeout=5)
    assert job(services, job_id)['error'] == 'Cancelled by admin'
    await user.should_see('Cancelled by admin')
    await eventually(lambda: visible(user, 'Run again'))
    assert not visible(user, 'Cancel job')


async def test_run_again_opens_the_new_job_linked_both_ways(user: User, services: Services) -> None:
    ann = add_user(services, 'ann')
    await log_in(user, 'ann', 'ann-password')
    job_id = await services.jobs.launch('test_steps', description='again', run_by_id=ann, run_at='/x',
                                        params={'steps': 2, 'fail_at': 2})  # fmt: skip
    await services.jobs.wait_idle()
    await user.open(f'/settings/maintenance/jobs/{job_id}')
    await user.should_see('Run again')
    user.find('Run again').click()
    await eventually(lambda: len(job(services, job_id)['reruns']) == 1)
    [new_id] = job(services, job_id)['reruns']
    await user.should_see(f'Job {new_id}', retries=50)  # opened the new job's page
    await user.should_see('Rerun of')
    await user.should_see(kind=ui.link, content=f'Job {job_id}')
    await services.jobs.wait_idle()
    await user.open(f'/settings/maintenance/jobs/{job_id}')
    await user.should_see('Reruns')
    await user.should_see(kind=ui.link, content=f'Job {new_id}')


async def test_system_task_jobs_are_rerun_by_admins_only(user: User, services: Services) -> None:
    ann = add_user(services, 'ann')
    row = queries.create_job(services.engine, job_type='database_backup', name='Database Backup',
                             category='general', description='b', run_by_id=ann, run_at='/t', params={})  # fmt: skip
    queries.finish_job(services.engine, job_id=row['id'])
    await log_in(user, 'ann', 'ann-password')
    await user.open(f'/settings/maintenance/jobs/{row["id"]}')
    await user.should_see('Duration')
    assert not visible(user, 'Run again')
    response = await user.http_client.post(f'/api/jobs/{row["id"]}/rerun')
    assert response.status_code == 404


async def test_progress_duration_and_log_are_live(user: User, services: Services) -> None:
    await log_in(user)
    job_id = await services.jobs.launch('test_steps', description='live', run_by_id=admin_id(services),
                                        run_at='/x', params={'steps': 3, 'delay': 0.6})  # fmt: skip
    await user.open(f'/settings/maintenance/jobs/{job_id}')
    await user.should_see('Progress')
    await user.should_see('Duration')
    await user.should_see('Log')
    await user.should_see('Download log')
    await user.should_see(kind=ui.link, content='Download log')
    [link] = user.find(kind=ui.link, content='Download log').elements
    assert link.props['href'] == f'/api/jobs/{job_id}/log.txt'
    await eventually(lambda: any('Step 1 done' in line for line in shown_log(user)), timeout=3)
    [percent] = user.find(marker='progress-percent').elements
    await services.jobs.wait_idle()
    await eventually(lambda: len(shown_log(user)) == 3)
    assert [line.split(' INFO ', 1)[1].strip() for line in shown_log(user)] == [
        'Step 1 done',
        'Step 2 done',
        'Step 3 done',
    ]  # in order, each once
    await eventually(lambda: percent.text == '100%')


def shown_log(user: User) -> list[str]:
    [view] = user.find(marker='job-log').elements
    assert isinstance(view, ui.log)
    return [str(child.text) for child in view.default_slot.children]


async def test_page_of_a_job_without_progress_shows_none(user: User, services: Services) -> None:
    ann = add_user(services, 'ann')
    job_id = make_job(services, ann)
    await log_in(user, 'ann', 'ann-password')
    await user.open(f'/settings/maintenance/jobs/{job_id}')
    await user.should_see('Duration')
    await user.should_see('Cancel job')
    with pytest.raises(AssertionError):  # the user fixture finds only visible elements
        assert not user.find(marker='progress').elements
    await user.should_see('Nothing logged yet')


def test_eta_reads_in_minutes_or_seconds() -> None:
    assert eta_text(None) == ''
    assert eta_text(42.4) == 'about 42 s left'
    assert eta_text(600) == 'about 10 min left'


async def test_imports_page_shows_the_same_percent_step_and_time_left(user: User, services: Services) -> None:
    ann = add_user(services, 'ann')
    job_id = make_job(services, ann, category='import', description='Import of big.csv')
    queries.set_progress(
        services.engine, job_id=job_id, done=10, total=20, percent=42.7, eta=300, step='Write contacts'
    )
    await log_in(user, 'ann', 'ann-password')
    await user.open('/imports')
    await user.should_see('Write contacts · 42% · about 5 min left')
    await user.open(f'/settings/maintenance/jobs/{job_id}')
    [percent] = user.find(marker='progress-percent').elements
    [eta] = user.find(marker='progress-eta').elements
    assert (percent.text, eta.text) == ('42%', 'Write contacts · about 5 min left')


async def test_a_log_line_shows_on_the_open_page_within_a_second(
    user: User, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.jobs.context import JobContext

    logged: dict[str, float] = {}
    original = JobContext.log

    def log(self: JobContext, message: str, level: str = 'info') -> None:
        logged[message] = asyncio.get_running_loop().time()
        original(self, message, level)

    monkeypatch.setattr(JobContext, 'log', log)
    await log_in(user)
    job_id = await services.jobs.launch('test_steps', description='log', run_by_id=admin_id(services),
                                        run_at='/x', params={'steps': 3, 'delay': 1.0})  # fmt: skip
    await user.open(f'/settings/maintenance/jobs/{job_id}')
    for step in (1, 2):
        message = f'Step {step} done'
        await eventually(lambda message=message: message in logged, timeout=5)
        await eventually(lambda message=message: any(line.endswith(message) for line in shown_log(user)), timeout=2)
        assert asyncio.get_running_loop().time() - logged[message] < 1.0
