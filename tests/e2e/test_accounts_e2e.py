"""An admin adds a teammate in the browser, the teammate logs in elsewhere, the admin disables them: the
teammate's open page goes to /login at once. A user creates an API token on their account page and a script uses it."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import Server, log_in


def test_add_user_then_disable_them_sends_their_open_page_to_login(
    page: Page, server: Server, browser: Browser
) -> None:
    log_in(page, server)
    page.get_by_role('link', name='Users').click()
    expect(page.get_by_role('heading', name='Users')).to_be_visible()
    for header in ('Username', 'Role', 'Status', 'Last login', 'Created'):
        expect(page.get_by_role('columnheader', name=header)).to_be_visible()
    page.get_by_role('button', name='Add user').click()
    dialog = page.get_by_role('dialog')
    dialog.get_by_label('Username').fill('kim')
    dialog.get_by_label('Password', exact=True).fill('kim-password-1')
    page.get_by_role('button', name='Add').click()  # the only one while the dialog is open
    row = page.get_by_role('row').filter(has_text='kim')
    expect(row).to_contain_text('Active')

    other = browser.new_context(viewport={'width': 1400, 'height': 900})
    try:
        kim = other.new_page()
        kim.set_default_timeout(10_000)
        log_in(kim, server, 'kim', 'kim-password-1')
        kim.goto(f'{server.url}/imports')
        expect(kim.get_by_role('heading', name='Contacts Import')).to_be_visible()
        page.bring_to_front()
        row.get_by_role('button', name='Disable').click()
        expect(row).to_contain_text('Disabled')
        kim.bring_to_front()
        expect(kim).to_have_url(re.compile(r'/login'), timeout=5_000)
        expect(kim.get_by_role('button', name='Log in')).to_be_visible()
        assert kim.request.get(f'{server.url}/api/jobs').status == 401
    finally:
        other.close()


def test_a_user_creates_a_token_that_a_script_then_uses(page: Page, server: Server) -> None:
    name, password = server.add_user('lou')
    log_in(page, server, name, password)
    page.get_by_role('link', name='Account').click()
    expect(page.get_by_role('heading', name='Account')).to_be_visible()
    page.get_by_role('button', name='Create token').click()
    dialog = page.get_by_role('dialog')
    dialog.get_by_label('Name').fill('nightly')
    page.get_by_role('button', name='Create').click()  # the only one while the dialog is open
    token = page.get_by_label('New token').input_value()
    assert token.startswith('jm_')
    expect(page.get_by_role('button', name='Copy token')).to_be_visible()
    for header in ('Name', 'Created', 'Last used', 'Expires'):
        expect(page.get_by_role('columnheader', name=header)).to_be_visible()
    headers = {'Authorization': f'Bearer {token}'}
    answer = httpx.post(
        f'{server.url}/api/imports', headers=headers, files={'file': ('c.csv', b'name,email\nAl,al@example.org\n')}
    )
    assert answer.status_code == 201 and answer.json()['run_by'] == 'lou'
    assert httpx.get(f'{server.url}/api/jobs/{answer.json()["id"]}', headers=headers).status_code == 200
    page.reload()
    expect(page.get_by_label('New token')).to_have_count(0)  # shown once
    page.get_by_role('button', name='Revoke nightly').click()
    expect(page.get_by_text('No tokens yet.')).to_be_visible()
    assert httpx.get(f'{server.url}/api/jobs', headers=headers).status_code == 401


def test_api_docs_render_without_the_internet(page: Page, server: Server) -> None:
    outside: list[str] = []
    page.on('request', lambda request: None if request.url.startswith(server.url) else outside.append(request.url))
    log_in(page, server)
    page.goto(f'{server.url}/api/docs')
    expect(page.get_by_role('heading', name=re.compile('Job Management API'))).to_be_visible()
    expect(page.get_by_text('/api/imports', exact=True)).to_be_visible()
    assert outside == []
