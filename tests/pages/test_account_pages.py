"""/settings/users (admins) and /settings/account (everyone) with NiceGUI's simulated user."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from nicegui import ui
from nicegui.testing import User

from app.services import Services
from app.storage import tokens, users
from app.storage.users import authenticate, list_users
from tests.conftest import ADMIN
from tests.pages.conftest import add_user, log_in, owner_ids

USERS = '/settings/users'
ACCOUNT = '/settings/account'


def account(services: Services, name: str):  # type: ignore[no-untyped-def]
    return next(u for u in list_users(services.engine) if u.username == name)


def links(user: User) -> set[str]:
    return {str(e.props.get('href')) for e in user.current_layout.descendants() if isinstance(e, ui.link)}


async def row_shows(user: User, name: str, text: str, seconds: float = 6.0) -> None:
    """The row of ``name`` shows ``text`` (the list is rebuilt after changes: look again each time)."""
    for _ in range(int(seconds / 0.1)):
        try:
            with user.scope(marker=f'user-{name}'):
                await user.should_see(text, retries=1)
            return
        except AssertionError:
            await asyncio.sleep(0.1)
    raise AssertionError(f'the row of {name} does not show {text!r}')


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError('condition not met in time')


async def test_users_page_lists_everyone_for_admins_only(user: User, services: Services) -> None:
    add_user(services, 'ann')
    await log_in(user)
    await user.open('/settings/maintenance/jobs')
    await user.should_see('Users', retries=30)  # the drawer entry under Settings
    assert USERS in links(user)
    await user.open(USERS)
    for header in ('Username', 'Role', 'Status', 'Last login', 'Created'):
        await user.should_see(header, retries=30)
    with user.scope(marker='user-ann'):
        for text in ('ann', 'User', 'Active', 'Never', 'Reset password', 'Make admin', 'Disable'):
            await user.should_see(text, retries=30)
    with user.scope(marker=f'user-{ADMIN[0]}'):
        for text in ('Admin', 'Active', 'Remove admin'):
            await user.should_see(text, retries=30)
    await user.should_not_see('system')
    user.find('Log out').click()
    for _ in range(100):
        if (await user.http_client.get('/api/jobs')).status_code == 401:
            break
        await asyncio.sleep(0.05)
    await log_in(user, 'ann', 'ann-password')
    assert (await user.http_client.get(USERS)).status_code == 404
    await user.open('/settings/maintenance/jobs')
    await user.should_not_see('Users')
    assert USERS not in links(user) and ACCOUNT in links(user)  # the header's "Account" link


async def test_admin_adds_a_user_who_can_then_log_in(
    user: User, services: Services, new_browser: Callable[[], User]
) -> None:
    await log_in(user)
    await user.open(USERS)
    user.find('Add user').click()
    user.find(marker='new-username').type('carol')
    user.find(marker='new-password').type('carol-pw')
    user.find(marker='new-admin').click()
    user.find(marker='add').click()
    await user.should_see('Added admin carol', retries=30)
    await row_shows(user, 'carol', 'Admin')
    assert authenticate(services.engine, username='carol', password='carol-pw') is not None
    user.find('Add user').click()
    user.find(marker='new-username').type('carol')
    user.find(marker='new-password').type('x')
    user.find(marker='add').click()
    await user.should_see('User "carol" already exists', retries=30)
    carol = new_browser()
    await log_in(carol, 'carol', 'carol-pw')
    assert (await carol.http_client.get(USERS)).status_code == 200


async def test_reset_password_make_and_remove_admin_disable_and_enable(user: User, services: Services) -> None:
    add_user(services, 'ann')
    await log_in(user)
    await user.open(USERS)
    user.find(marker='reset-ann').click()
    await user.should_see('Reset password of ann', retries=30)
    user.find(marker='reset-password-input').type('fresh-pw')
    user.find(marker='set-password').click()
    await user.should_see('Password of ann reset', retries=30)
    assert authenticate(services.engine, username='ann', password='fresh-pw') is not None
    user.find(marker='promote-ann').click()
    await user.should_see('ann is now an admin', retries=30)
    assert account(services, 'ann').is_admin
    user.find(marker='demote-ann').click()
    await user.should_see('ann is no longer an admin', retries=30)
    assert not account(services, 'ann').is_admin
    user.find(marker='disable-ann').click()
    await user.should_see('ann disabled', retries=30)
    await row_shows(user, 'ann', 'Disabled')
    assert authenticate(services.engine, username='ann', password='fresh-pw') is None
    user.find(marker='enable-ann').click()
    await user.should_see('ann enabled', retries=30)
    await row_shows(user, 'ann', 'Active')
    assert authenticate(services.engine, username='ann', password='fresh-pw') is not None


async def test_admins_cannot_disable_or_demote_themselves_or_the_last_admin(user: User, services: Services) -> None:
    await log_in(user)
    await user.open(USERS)
    user.find(marker=f'disable-{ADMIN[0]}').click()
    await user.should_see('You cannot disable yourself', retries=30)
    user.find(marker=f'demote-{ADMIN[0]}').click()
    await user.should_see('You cannot remove your own admin role', retries=30)
    add_user(services, 'deputy', admin=True)
    users.set_disabled(services.engine, username='deputy', disabled=True)
    await user.open(USERS)
    assert account(services, ADMIN[0]).is_admin and account(services, ADMIN[0]).disabled_at is None


async def test_a_demoted_admin_cannot_act_from_an_open_users_page(people: dict[str, User], services: Services) -> None:
    add_user(services, 'deputy', admin=True)
    deputy = people['anonymous']
    await log_in(deputy, 'deputy', 'deputy-password')
    await deputy.open(USERS)
    users.set_admin(services.engine, username='deputy', is_admin=False, by=account(services, ADMIN[0]))
    deputy.find(marker='disable-ann').click()  # before the page learns of it: the handler reads the role afresh
    await deputy.should_see('Only admins may manage users', retries=30)
    assert account(services, 'ann').disabled_at is None


async def test_change_password_needs_the_current_one_and_ends_other_sessions(
    user: User, services: Services, new_browser: Callable[[], User]
) -> None:
    add_user(services, 'ann')
    await log_in(user, 'ann', 'ann-password')
    other = new_browser()
    await log_in(other, 'ann', 'ann-password')
    await user.open('/settings/maintenance/jobs')
    assert ACCOUNT in links(user)
    await user.open(ACCOUNT)
    await user.should_see('Change password', retries=30)
    user.find('Current password').type('wrong')
    user.find('New password').type('new-pw')
    user.find('Repeat new password').type('new-pw-typo')
    user.find(marker='change-password').click()
    await user.should_see('The new passwords do not match', retries=30)
    user.find('Repeat new password').clear().type('new-pw')
    user.find(marker='change-password').click()
    await user.should_see('The current password is not correct', retries=30)
    user.find('Current password').clear().type('ann-password')
    user.find(marker='change-password').click()
    await user.should_see('Password changed', retries=30)
    assert authenticate(services.engine, username='ann', password='new-pw') is not None
    assert (await user.http_client.get('/api/jobs')).status_code == 200  # this session stays
    assert (await other.http_client.get('/api/jobs')).status_code == 401  # the other one ended


async def test_create_use_and_revoke_a_token_on_the_account_page(
    user: User, services: Services, new_browser: Callable[[], User]
) -> None:
    add_user(services, 'ann')
    await log_in(user, 'ann', 'ann-password')
    await user.open(ACCOUNT)
    for text in ('Account', 'API tokens', 'No tokens yet.'):
        await user.should_see(text, retries=30)
    user.find('Create token').click()
    user.find(marker='token-name').type('nightly import')
    user.find(marker='token-expires').type('2999-12-31')
    user.find(marker='create').click()
    await user.should_see('Copy it now: it is not shown again.', retries=30)
    field = user.find(marker='token-value').elements.pop()
    assert isinstance(field, ui.input)
    secret = str(field.value)
    assert secret.startswith('jm_')
    for header in ('Name', 'Created', 'Last used', 'Expires'):
        await user.should_see(header, retries=30)
    [token] = tokens.list_tokens(services.engine, user_id=owner_ids(services)['ann'])
    assert token.name == 'nightly import' and token.expires_at is not None and token.expires_at.year == 3000
    await user.should_see('2999-12-31')  # the day chosen: the last day the token works
    user.find(marker='copy-token').click()
    await user.should_see('Token copied', retries=30)
    script = new_browser().http_client
    assert (await script.get('/api/jobs', headers={'Authorization': f'Bearer {secret}'})).status_code == 200
    await user.open(ACCOUNT)
    await user.should_not_see('Copy it now')  # shown once
    assert secret not in str([e.props for e in user.current_layout.descendants()])
    user.find(marker=f'revoke-{token.id}').click()
    await user.should_see('Token "nightly import" revoked', retries=30)
    await user.should_see('No tokens yet.', retries=30)
    assert (await script.get('/api/jobs', headers={'Authorization': f'Bearer {secret}'})).status_code == 401
    user.find('Create token').click()
    user.find(marker='token-name').type('old')
    user.find(marker='token-expires').type('2000-01-01')
    user.find(marker='create').click()
    await user.should_see('The expiry date must be in the future', retries=30)


async def test_the_users_page_shows_changes_made_elsewhere(user: User, services: Services) -> None:
    add_user(services, 'ann')
    await log_in(user)
    await user.open(USERS)
    with user.scope(marker='user-ann'):
        await user.should_see('Active')
    users.set_disabled(services.engine, username='ann', disabled=True)  # another node or the CLI
    await row_shows(user, 'ann', 'Disabled')  # the account watch looks once a second
