"""Revocation reaches open pages: after a logout, a password change, disabling or a demotion, an open page stops
receiving rows it may no longer see, goes to /login when its session ended, and its uploads are refused."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa
from nicegui import Client, ui
from nicegui.testing import User

from app.jobs.events import DetailChanged, JobChanged
from app.jobs.imports import NOT_CSV
from app.pages.imports import EXAMPLE_CSV
from app.pages.live import LiveUpdates
from app.pages.session_guard import SessionGuard
from app.services import Services
from app.storage import users
from app.storage.models import utcnow
from tests.pages.conftest import add_user, log_in, make_job, owner_ids
from tests.pages.test_imports_page import job_ids

JOBS = '/settings/maintenance/jobs'


def guard_of(user: User) -> SessionGuard:
    client = user.client
    assert client is not None
    guard = SessionGuard.of(client)
    assert guard is not None
    return guard


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError('condition not met in time')


def second_tab(user: User, new_browser: Callable[[], User]) -> User:
    """Another tab of the same browser: the same cookies."""
    tab = new_browser()
    tab.http_client.cookies = user.http_client.cookies
    return tab


def upload_element(user: User) -> ui.upload:
    element = user.find(ui.upload).elements.pop()
    assert isinstance(element, ui.upload)
    return element


async def test_logout_in_one_tab_sends_the_other_tab_to_login(
    user: User, services: Services, new_browser: Callable[[], User]
) -> None:
    await log_in(user)
    tab = second_tab(user, new_browser)
    await tab.open(JOBS)
    guard = guard_of(tab)
    await user.open('/imports')
    user.find('Log out').click()
    # (the simulation sends ui.navigate to the User touched last: touch the tab while waiting)
    await until(lambda: tab.client is not None and guard.ended)
    await until(lambda: any(path.startswith(f'/login?redirect_to={JOBS}') for path in tab.back_history))
    await tab.should_see('Log in', retries=40)


@pytest.mark.parametrize('change', ['disable', 'password', 'logout elsewhere'])
async def test_a_page_whose_session_ended_goes_to_login_and_refuses_uploads(
    people: dict[str, User], services: Services, change: str
) -> None:
    ann = people['ann']
    await ann.open('/imports')
    guard, upload = guard_of(ann), upload_element(ann)
    if change == 'disable':  # as another node or the CLI would: only the database changes, the watch notices
        users.set_disabled(services.engine, username='ann', disabled=True)
    elif change == 'password':
        users.set_password(services.engine, username='ann', password='changed')
    else:
        users.end_session(services.engine, guard.key)
    # (the simulation navigates the User touched last: touch ann while waiting)
    await until(lambda: ann.client is not None and guard.ended)
    await ann.should_see('Log in', retries=40)
    await upload.handle_uploads([ui.upload.SmallFileUpload('late.csv', 'text/csv', EXAMPLE_CSV)])
    await asyncio.sleep(0.3)
    assert job_ids(services) == []


async def test_the_upload_route_needs_the_session_that_built_the_page(
    people: dict[str, User], services: Services
) -> None:
    ann = people['ann']
    await ann.open('/imports')
    url = upload_element(ann)._registered_url
    files = {'file': ('people.csv', EXAMPLE_CSV, 'text/csv')}
    for other in ('anonymous', 'bob', 'admin'):
        refused = await people[other].http_client.post(url, files=files)
        assert refused.status_code == 403, other
    assert job_ids(services) == []
    evil = await ann.http_client.post(url, files={'file': ('evil.html', b'<script>', 'text/html')})
    assert evil.status_code == 200  # accepted by the route, but not stored: a Failed import says why
    await until(lambda: len(job_ids(services)) == 1)
    await services.jobs.wait_idle()
    [refused] = job_ids(services)
    assert (await ann.http_client.get(f'/api/jobs/{refused}')).json()['error'] == NOT_CSV
    assert not any(path.read_bytes() == b'<script>' for path in services.files.root.rglob('*') if path.is_file())
    accepted = await ann.http_client.post(url, files=files)
    assert accepted.status_code == 200
    await until(lambda: len(job_ids(services)) == 2)
    users.end_session(services.engine, guard_of(ann).key)
    services.account_changed(owner_ids(services)['ann'])
    await until(lambda: guard_of_client(url).ended if guard_of_client(url) else True)
    assert (await ann.http_client.post(url, files=files)).status_code == 403
    await services.jobs.wait_idle()
    assert len(job_ids(services)) == 2


def guard_of_client(url: str) -> SessionGuard | None:
    client = Client.instances.get(url.split('/')[3])
    return SessionGuard.of(client) if client is not None else None


async def test_a_demoted_admin_stops_receiving_other_users_rows(people: dict[str, User], services: Services) -> None:
    add_user(services, 'deputy', admin=True)
    deputy = people['anonymous']
    await log_in(deputy, 'deputy', 'deputy-password')
    await deputy.open(JOBS)
    guard = guard_of(deputy)
    ids = owner_ids(services)
    received: list[int] = []
    client = deputy.client
    assert client is not None
    with client:  # a subscriber like the page's grid, on the deputy's page
        LiveUpdates(services, guard.user, lambda rows, _details: received.extend(rows))

    def publish(owner: str) -> int:
        job_id = make_job(services, ids[owner])
        row = {'id': job_id, 'category': 'general', 'status': 'in_progress'}
        services.feed.publish(JobChanged(job_id=job_id, owner_id=ids[owner], category='general', row=row))
        return job_id

    bobs = publish('bob')
    await until(lambda: received == [bobs])
    users.set_admin(services.engine, username='deputy', is_admin=False)
    services.account_changed(ids['deputy'])
    late = publish('bob')  # arrives while the session is being re-read: held back, then dropped
    await until(lambda: not guard.user.is_admin)
    publish('ann')
    own = publish('deputy')
    await until(lambda: own in received)
    assert late not in received and received == [bobs, own]
    assert not guard.ended  # still logged in, as a user now
    assert (await deputy.http_client.get('/settings/maintenance/tasks')).status_code == 404


async def test_a_demotion_made_elsewhere_leaves_an_admin_page(people: dict[str, User], services: Services) -> None:
    add_user(services, 'deputy', admin=True)
    deputy = people['anonymous']
    await log_in(deputy, 'deputy', 'deputy-password')
    await deputy.open('/settings/maintenance/tasks')
    await deputy.should_see('Database Backup', retries=30)
    users.set_admin(services.engine, username='deputy', is_admin=False)  # another node: the watch notices
    await until(lambda: deputy.back_history[-1:] == [JOBS])
    await deputy.should_see('Job Management', retries=30)
    await deputy.should_not_see('Database Backup')


async def test_a_demoted_admin_s_detail_page_of_another_user_s_job_stops_refreshing(
    people: dict[str, User], services: Services
) -> None:
    add_user(services, 'deputy', admin=True)
    deputy = people['anonymous']
    await log_in(deputy, 'deputy', 'deputy-password')
    ids = owner_ids(services)
    bobs = make_job(services, ids['bob'])
    await deputy.open(f'{JOBS}/{bobs}')
    guard = guard_of(deputy)
    refreshed: list[set[int]] = []
    client = deputy.client
    assert client is not None
    with client:
        LiveUpdates(services, guard.user, lambda _rows, details: refreshed.append(set(details)), job_id=bobs)
    services.feed.publish(DetailChanged(job_id=bobs, owner_id=ids['bob'], category='general'))
    await until(lambda: refreshed == [{bobs}])
    users.set_admin(services.engine, username='deputy', is_admin=False)
    services.account_changed(ids['deputy'])
    services.feed.publish(DetailChanged(job_id=bobs, owner_id=ids['bob'], category='general'))
    await until(lambda: not guard.user.is_admin)
    await asyncio.sleep(0.3)
    assert refreshed == [{bobs}]


async def test_a_page_left_open_past_the_idle_limit_goes_to_login(people: dict[str, User], services: Services) -> None:
    ann = people['ann']
    await ann.open('/imports')
    guard = guard_of(ann)
    idle = timedelta(minutes=services.settings.session_idle_minutes) + users.SEEN_INTERVAL
    with services.engine.begin() as connection:  # as if ann's browser had made no request for that long
        connection.execute(sa.update(users.SESSION).where(users.SESSION.c.user_id == owner_ids(services)['ann'])
                           .values(last_seen_at=utcnow() - idle))  # fmt: skip
    assert services.accounts is not None
    await services.accounts.end_expired_sessions()  # what every web node does once a minute
    # (the simulation navigates the User touched last: touch ann while waiting)
    await until(lambda: ann.client is not None and guard.ended)
    await ann.should_see('Log in', retries=40)
    assert (await people['bob'].http_client.get('/api/jobs')).status_code == 200
