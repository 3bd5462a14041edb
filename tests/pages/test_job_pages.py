"""Job Management and job detail pages: labels, tabs, drawer, visibility, live detail updates."""

from __future__ import annotations

import asyncio

from nicegui import ui
from nicegui.testing import User

from app.jobs.events import Resync
from app.services import Services
from app.storage import jobs as queries
from tests.pages.conftest import add_user, attach_file, log_in, make_job

HEADERS = ['Status', 'Job ID', 'Job', 'Description', 'Start', 'End', 'Failed', 'Run By', 'Actions']


async def test_both_tabs_have_grids_with_the_contract_columns(user: User) -> None:
    await log_in(user)
    await user.open('/settings/maintenance/jobs')
    await user.should_see('General')
    await user.should_see('Imports', kind=ui.tab)
    for marker in ('jobs-general', 'jobs-import'):
        grid = user.find(marker=marker).elements.pop()
        assert isinstance(grid, ui.aggrid)
        assert [column['headerName'] for column in grid.options['columnDefs']] == HEADERS
        assert grid.options['rowModelType'] == 'infinite'  # rows come page by page from /api/jobs


async def test_tab_query_opens_the_imports_tab(user: User) -> None:
    await log_in(user)
    await user.open('/settings/maintenance/jobs?tab=imports')
    tabs = user.find(ui.tabs).elements.pop()
    assert tabs.value == 'imports'


async def test_drawer_links_and_admin_only_system_tasks(user: User, services: Services) -> None:
    await log_in(user)
    await user.open('/settings/maintenance/jobs')
    for text in ('Imports', 'Settings', 'Application Maintenance', 'Job Management', 'System Tasks'):
        await user.should_see(text)
    user.find('Log out').click()
    await user.should_see('Log in', retries=100)  # the logout is handled asynchronously: let it land first
    add_user(services, 'ann')
    await log_in(user, 'ann', 'ann-password')
    await user.open('/settings/maintenance/jobs')
    await user.should_see('Application Maintenance')
    await user.should_not_see('System Tasks')


async def test_detail_page_shows_every_field_and_file_section(user: User, services: Services) -> None:
    ann = add_user(services, 'ann')
    job_id = make_job(services, ann, description='Nightly cleanup')
    attach_file(services, job_id, b'name,email\n', 'people.csv', role='input')
    attach_file(services, job_id, b'line,column,value,error\n', 'people-errors.csv', role='error_report')
    queries.start_subtask(services.engine, job_id=job_id, name='Read file')
    queries.finish_job(services.engine, job_id=job_id, error='Something broke')
    await log_in(user, 'ann', 'ann-password')
    await user.open(f'/settings/maintenance/jobs/{job_id}')
    for label in ('Job ID', 'Job', 'Job Description', 'Start', 'End', 'Status', 'Job Run By', 'Job Run At', 'Error'):
        await user.should_see(label)
    for text in ('Nightly cleanup', 'Something broke', 'Failed', 'ann', 'Input Files', 'Output Files',
                 'Error Reports', 'people.csv', 'people-errors.csv', 'may be partial'):  # fmt: skip
        await user.should_see(text)
    await user.should_see(kind=ui.link, content='/settings/maintenance/tasks')
    download = user.find(kind=ui.button, marker=None).elements
    labels = {element.props.get('aria-label') for element in download}
    assert '"Download people.csv"' in labels or 'Download people.csv' in labels
    grid = user.find(marker='subtasks').elements.pop()
    assert [c['headerName'] for c in grid.options['columnDefs']] == ['Task', 'Status', 'Timestamp', 'Message']
    assert grid.options['rowData'][0]['name'] == 'Read file'
    assert grid.options['rowData'][0]['status'] == 'failed'


async def test_another_users_job_is_not_found_with_404(user: User, services: Services) -> None:
    ann, bob = add_user(services, 'ann'), add_user(services, 'bob')
    job_id = make_job(services, ann)
    await log_in(user, 'bob', 'bob-password')
    assert bob
    response = await user.http_client.get(f'/settings/maintenance/jobs/{job_id}')
    assert response.status_code == 404
    assert 'Job not found' in response.text
    missing = await user.http_client.get('/settings/maintenance/jobs/987654')
    assert missing.status_code == 404
    assert 'Job Run By' not in response.text and 'ann' not in response.text


async def test_detail_page_follows_a_running_job_live(user: User, services: Services) -> None:
    await log_in(user)
    admin_id = next(u.id for u in __import__('app.storage.users', fromlist=['x']).list_users(services.engine))
    job_id = await services.jobs.launch(
        'test_steps', description='live one', run_by_id=admin_id, run_at='/imports', params={'delay': 0.4}
    )
    await user.open(f'/settings/maintenance/jobs/{job_id}')
    await user.should_see('Still in progress')
    await services.jobs.wait_idle()
    for _ in range(30):  # pushed within the flush interval, no reload
        await asyncio.sleep(0.1)
        grid = user.find(marker='subtasks').elements.pop()
        texts = {element.text for element in user.find(ui.label).elements if hasattr(element, 'text')}
        if 'Completed' in texts:
            break
    await user.should_see('Completed')
    await user.should_see('steps.txt')
    await user.should_not_see('Still in progress')
    assert grid is not None


async def test_detail_page_shows_the_attempt_count_and_follows_a_restart(user: User, services: Services) -> None:
    ann = add_user(services, 'ann')
    normal = make_job(services, ann, description='first try')
    restarted = make_job(services, ann, description='worker died')
    queries.start_attempt(services.engine, job_id=restarted, attempt=2)
    await log_in(user, 'ann', 'ann-password')
    await user.open(f'/settings/maintenance/jobs/{normal}')
    await user.should_see('Attempts')
    assert shown_attempts(user) == '1'
    await user.open(f'/settings/maintenance/jobs/{restarted}')
    assert shown_attempts(user) == '2'
    await services.store.start_attempt(restarted, attempt=3)  # its worker died again
    for _ in range(30):  # pushed to the open page, no reload
        if shown_attempts(user) == '3':
            break
        await asyncio.sleep(0.05)
    assert shown_attempts(user) == '3'


def shown_attempts(user: User) -> str:
    """The text of the detail page's "Attempts" value."""
    [value] = user.find(marker='attempts').elements
    return ' '.join(label.text for label in value.descendants() if isinstance(label, ui.label))


async def test_detail_page_reads_its_job_again_after_changes_may_have_been_missed(
    user: User, services: Services
) -> None:
    ann = add_user(services, 'ann')
    job_id = make_job(services, ann)
    await log_in(user, 'ann', 'ann-password')
    await user.open(f'/settings/maintenance/jobs/{job_id}')
    assert shown_attempts(user) == '1'
    queries.start_attempt(services.engine, job_id=job_id, attempt=2)  # changed while no notification came through
    await asyncio.sleep(0.3)
    assert shown_attempts(user) == '1'
    services.feed.publish(Resync())  # the relay reconnected
    for _ in range(30):
        if shown_attempts(user) == '2':
            break
        await asyncio.sleep(0.05)
    assert shown_attempts(user) == '2'


async def test_drawer_marks_the_current_page_and_the_title_names_it(user: User, services: Services) -> None:
    job_id = make_job(services, add_user(services, 'ann'))
    await log_in(user)
    for path, current, title in [
        ('/settings/maintenance/jobs', 'Job Management', 'Job Management'),
        (f'/settings/maintenance/jobs/{job_id}', 'Job Management', f'Job {job_id} · Job Management'),
        ('/settings/maintenance/tasks', 'System Tasks', 'System Tasks · Job Management'),
        ('/imports', 'Imports', 'Contacts Import · Job Management'),
    ]:
        await user.open(path)
        marked = [link for link in user.find(ui.link).elements if link.props.get('aria-current') == 'page']
        texts = [' '.join(e.text for e in link.descendants() if isinstance(e, ui.label)) for link in marked]
        assert texts == [current], path
        response = await user.http_client.get(path)
        assert f'<title>{title}</title>' in response.text
