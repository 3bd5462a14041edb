"""/imports with NiceGUI's simulated user: uploading starts the import, which the page follows live."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from nicegui import ui
from nicegui.testing import User
from sqlmodel import select

from app.pages.imports import EXAMPLE_CSV, display_name
from app.services import Services
from app.storage import jobs as queries
from app.storage.db import session
from app.storage.models import Job
from app.storage.models import User as Account
from app.storage.users import list_users
from tests.conftest import ADMIN
from tests.pages.conftest import add_user, log_in


async def upload(user: User, data: bytes, filename: str = 'people.csv') -> None:
    element = user.find(ui.upload).elements.pop()
    assert isinstance(element, ui.upload)
    await element.handle_uploads([ui.upload.SmallFileUpload(filename, 'text/csv', data)])


def job_ids(services: Services) -> list[int | None]:
    with session(services.engine) as db:
        return list(db.exec(select(Job.id)))


def detail(services: Services, job_id: int) -> dict[str, Any]:
    found = queries.get_job(services.engine, viewer=admin(services), job_id=job_id)
    assert found is not None
    return found


def admin(services: Services) -> Account:
    return next(user for user in list_users(services.engine) if user.username == ADMIN[0])


async def test_example_upload_starts_the_import_and_follows_it(user: User, services: Services) -> None:
    add_user(services, 'carol')
    await log_in(user, 'carol', 'carol-password')
    await user.open('/imports')
    await user.should_see('Contacts Import')
    await user.should_see('0 contacts')
    user.find('Download example CSV').click()
    example = (await user.download.next()).content
    assert example == EXAMPLE_CSV
    await upload(user, example, 'C:\\Users\\carol\\my contacts.csv')
    await user.should_see('View job', retries=20)
    [job_id] = job_ids(services)
    link = user.find(f'View job {job_id}').elements.pop()
    assert isinstance(link, ui.link) and link.props['href'] == f'/settings/maintenance/jobs/{job_id}'
    assert job_id is not None
    job = detail(services, job_id)
    assert (job['job'], job['description'], job['run_by'], job['run_at']) == (
        'Contacts Import',
        'Import of my contacts.csv',
        'carol',
        '/imports',
    )
    await services.jobs.wait_idle()
    await user.should_see('Completed', retries=20)
    await user.should_see('3 contacts; the 3 most recently imported or updated:', retries=20)
    table = user.find(ui.table).elements.pop()
    assert isinstance(table, ui.table)
    assert sorted(row['email'] for row in table.rows) == ['ada@example.org', 'alan@example.org', 'grace@example.org']
    files = [(f['role'], f['filename']) for f in detail(services, job_id)['files']]
    assert files == [('input', 'my contacts.csv'), ('output', 'my contacts-result.csv')]


async def test_failed_import_shows_its_reason(user: User, services: Services) -> None:
    await log_in(user)
    await user.open('/imports')
    await upload(user, b'name,email\n,nobody\n')
    await user.should_see('View job', retries=20)
    await services.jobs.wait_idle()
    await user.should_see('Failed', retries=20)
    await user.should_see('1 of 1 rows rejected')


async def refused_job(user: User, services: Services, job_id: int | None, reason: str) -> None:
    """A refused file is an import job that ended Failed with a line-0 report and stored no input (the contract)."""
    assert job_id is not None
    job = detail(services, job_id)
    stem = job['description'].removeprefix('Import of ').rsplit('.', 1)[0]
    assert (job['job'], job['status'], job['error']) == ('Contacts Import', 'failed', reason)
    assert [(s['name'], s['status'], s['message']) for s in job['subtasks']] == [
        ('Read file', 'failed', reason),
        ('Write reports', 'completed', f'{stem}-errors.csv'),
    ]
    [report] = job['files']
    assert (report['role'], report['filename']) == ('error_report', f'{stem}-errors.csv')
    response = await user.http_client.get(report['url'])
    assert response.text.splitlines() == ['line,column,value,error', f'0,,,{reason}']


async def test_file_over_the_limit_is_not_stored_and_becomes_a_failed_job(user: User, services: Services) -> None:
    services.settings.max_upload_mb = 1
    await log_in(user)
    await user.open('/imports')
    await upload(user, b'name,email\n' + b'x' * (1024 * 1024))
    await user.should_see('people.csv was not imported: The file is larger than the limit of 1 MB.', retries=20)
    await user.should_see('View job', retries=20)
    await services.jobs.wait_idle()
    [job_id] = job_ids(services)
    await refused_job(user, services, job_id, 'The file is larger than the limit of 1 MB')
    assert len(services.files.iter_stored()) == 1  # the error report; nothing of the upload


async def test_file_refused_by_the_browser_is_explained_and_becomes_a_failed_job(
    user: User, services: Services
) -> None:
    await log_in(user)
    await user.open('/imports')
    user.find(ui.upload).trigger('rejected', [{'reason': 'max-file-size', 'name': 'huge.csv'}])
    await user.should_see('huge.csv was not imported: The file is larger than the limit of 100 MB.')
    user.find(ui.upload).trigger('rejected', [{'reason': 'accept', 'name': 'notes.txt'}])
    await user.should_see('notes.txt was not imported: The file is not a CSV file: choose a file whose name ends')
    await user.should_see('View job', retries=20)
    for _ in range(100):
        if len(job_ids(services)) == 2:
            break
        await asyncio.sleep(0.05)
    await services.jobs.wait_idle()
    huge, notes = sorted(job_ids(services), key=lambda job_id: job_id or 0)
    await refused_job(user, services, huge, 'The file is larger than the limit of 100 MB')
    await refused_job(user, services, notes, 'The file is not a CSV file: choose a file whose name ends in .csv')
    await user.should_see('Failed', retries=20)


async def test_anonymous_visitor_is_sent_to_login(user: User) -> None:
    await user.open('/imports')
    await user.should_see('Log in')
    await user.should_not_see('Contacts Import')


@pytest.mark.parametrize(
    ('raw', 'shown'),
    [
        ('contacts.csv', 'contacts.csv'),
        ('../../etc/passwd', 'passwd'),
        ('C:\\Users\\me\\list.csv', 'list.csv'),
        ('evil\u202evsc.exe', 'evilvsc.exe'),
        ('tab\tand\nnewline.csv', 'tabandnewline.csv'),
        ('..', 'upload.csv'),
        ('', 'upload.csv'),
        (None, 'upload.csv'),
        ('a' * 300 + '.csv', 'a' * 96 + '.csv'),
    ],
)
def test_display_name_is_safe(raw: str | None, shown: str) -> None:
    assert display_name(raw) == shown


async def test_several_files_at_once_and_the_list_survives_leaving_the_page(user: User, services: Services) -> None:
    add_user(services, 'dora')
    add_user(services, 'eve')
    await log_in(user, 'dora', 'dora-password')
    await user.open('/imports')
    await user.should_see('None yet')
    element = user.find(ui.upload).elements.pop()
    assert isinstance(element, ui.upload)
    await element.handle_uploads([ui.upload.SmallFileUpload(f'{name}.csv', 'text/csv', EXAMPLE_CSV)
                                  for name in ('north', 'south')])  # fmt: skip
    for _ in range(50):  # each upload is handled on its own
        if len(job_ids(services)) == 2:
            break
        await asyncio.sleep(0.05)
    first, second = sorted(job_id for job_id in job_ids(services) if job_id is not None)
    await services.jobs.wait_idle()
    await user.open('/settings/maintenance/jobs')
    await user.open('/imports')  # back again: the imports come from the database, newest first
    [cards] = user.find(marker='recent-imports').elements  # in page order (``elements`` is a set)
    shown = [link.text for link in cards.descendants() if isinstance(link, ui.link) and link.text.startswith('View')]
    assert shown == [f'View job {second}', f'View job {first}']
    await user.should_not_see('None yet')
    user.find('Log out').click()
    await user.should_see('Log in', retries=100)  # the logout is handled asynchronously: let it land first
    await log_in(user, 'eve', 'eve-password')
    await user.open('/imports')
    await user.should_see('None yet')  # dora's imports are hers
    await user.should_not_see(f'View job {first}')
