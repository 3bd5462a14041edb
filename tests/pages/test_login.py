"""Logging in and out; sessions live in the database, so every node knows them and they can be revoked."""

import base64
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from nicegui import app
from nicegui.storage import Storage
from nicegui.testing import User

from app.services import Services
from app.storage.users import SESSION, issue_login_ticket, list_users, set_password
from tests.conftest import ADMIN
from tests.pages.conftest import add_user, log_in, log_in_failing, owner_ids


async def test_anonymous_visitor_is_sent_to_login(user: User) -> None:
    await user.open('/settings/maintenance/jobs')
    await user.should_see('Log in')
    await user.should_see('Username')


async def test_login_lands_on_job_management_with_name_in_header(user: User) -> None:
    await log_in(user)
    await user.should_see('Job Management')
    await user.should_see('General')
    await user.should_see(marker='username')
    assert user.find(marker='username').elements.pop().text == 'admin'


async def test_wrong_password_says_so(user: User) -> None:
    await log_in_failing(user, 'admin', 'wrong')
    await user.should_see('Invalid username or password')
    await user.should_not_see('Log out')


async def test_log_out_returns_to_login(user: User) -> None:
    await log_in(user)
    await user.should_see('Log out')
    user.find('Log out').click()
    await user.should_see('Log in')
    await user.open('/imports')
    await user.should_see('Log in')


async def test_log_out_ends_the_session_for_every_copy_of_the_cookie(
    user: User, services: Services, new_browser: Callable[[], User]
) -> None:
    await log_in(user)
    copy = new_browser()
    copy.http_client.cookies.update(user.http_client.cookies)  # e.g. a request the load balancer sent elsewhere
    assert (await copy.http_client.get('/api/jobs?limit=1')).status_code == 200
    await user.open('/imports')
    user.find('Log out').click()
    await user.should_see('Log in')
    assert (await copy.http_client.get('/api/jobs?limit=1')).status_code == 401
    await copy.open('/imports')
    await copy.should_see('Log in')
    with services.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(SESSION)).scalar() == 0


async def test_password_change_sends_a_logged_in_browser_to_login(user: User, services: Services) -> None:
    await log_in(user)
    await user.open('/imports')
    await user.should_see('Log out')
    set_password(services.engine, username=ADMIN[0], password='a-new-password')  # e.g. `main.py user set-password`
    await user.open('/imports')
    await user.should_see('Log in')
    assert (await user.http_client.get('/api/jobs?limit=1')).status_code == 401


async def test_a_node_that_never_saw_the_browser_knows_it_is_logged_in(
    user: User, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await log_in(user)
    original = app.storage
    monkeypatch.setattr(Storage, 'path', tmp_path / 'other-node')
    app.storage = Storage()  # NiceGUI's per-process store as on another node: empty
    try:
        await user.open('/imports')
        await user.should_see('Contacts Import')
        assert user.find(marker='username').elements.pop().text == ADMIN[0]
    finally:
        app.storage = original


async def test_a_cookie_planted_before_the_login_is_not_logged_in_after_it(
    user: User, new_browser: Callable[[], User]
) -> None:
    await user.open('/login')  # the attacker's cookie, planted in the victim's browser before the login
    planted = new_browser()
    planted.http_client.cookies.update(user.http_client.cookies)
    await log_in(user)  # the victim logs in
    assert (await user.http_client.get('/api/jobs?limit=1')).status_code == 200
    assert (await planted.http_client.get('/api/jobs?limit=1')).status_code == 401


def browser_of(user: User) -> str:
    """NiceGUI's browser id in this client's signed session cookie."""
    value = user.http_client.cookies['session'].split('.')[0]
    return str(json.loads(base64.b64decode(value + '=' * (-len(value) % 4)))['id'])


async def test_a_login_ticket_works_once(user: User, services: Services) -> None:
    admin = next(u for u in list_users(services.engine) if u.username == ADMIN[0])
    assert admin.id is not None
    await user.open('/login')
    ticket = issue_login_ticket(services.engine, user_id=admin.id, browser=browser_of(user))
    first = await user.http_client.get(f'/login/complete?ticket={ticket}&to=/imports')
    assert (first.status_code, first.headers['location']) == (303, '/imports')
    again = await user.http_client.get(f'/login/complete?ticket={ticket}&to=/imports')
    assert (again.status_code, again.headers['location']) == (303, '/login?redirect_to=%2Fimports')


async def test_a_login_ticket_sent_to_another_browser_does_not_log_it_in(
    user: User, services: Services, new_browser: Callable[[], User]
) -> None:
    """The swap attack: the attacker types their own password, then has the victim open /login/complete?ticket=…
    within the minute, so the victim would work (and upload) inside the attacker's account."""
    add_user(services, 'mallory')
    mallory_id = owner_ids(services)['mallory']
    attacker = new_browser()
    await attacker.open('/login')
    ticket = issue_login_ticket(services.engine, user_id=mallory_id, browser=browser_of(attacker))
    await user.open('/login')  # the victim's browser, with a browser id of its own
    answer = await user.http_client.get(f'/login/complete?ticket={ticket}&to=/imports')
    assert (answer.status_code, answer.headers['location']) == (303, '/login?redirect_to=%2Fimports')
    assert (await user.http_client.get('/api/jobs?limit=1')).status_code == 401
    own = await attacker.http_client.get(f'/login/complete?ticket={ticket}&to=/imports')  # still only for mallory
    assert (own.status_code, own.headers['location']) == (303, '/imports')
    assert (await attacker.http_client.get('/api/jobs?limit=1')).status_code == 200
