"""A new user's first steps in a real browser, and one login served by two nodes."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, WebSocketRoute, expect

from tests.e2e.conftest import ADMIN, Server, log_in, start_server, stop_server


def test_login_shows_username_in_header_and_log_out_returns_to_login(page: Page, server: Server) -> None:
    page.goto(f'{server.url}/settings/maintenance/jobs?tab=imports')
    expect(page).to_have_url(f'{server.url}/login?redirect_to=/settings/maintenance/jobs%3Ftab%3Dimports')
    page.get_by_label('Username').fill(ADMIN[0])
    page.get_by_label('Password').fill('not the password')
    page.get_by_role('button', name='Log in').click()
    expect(page.get_by_text('Invalid username or password')).to_be_visible()
    page.get_by_label('Password').fill(ADMIN[1])
    page.get_by_role('button', name='Log in').click()
    expect(page).to_have_url(f'{server.url}/settings/maintenance/jobs?tab=imports')  # the page first asked for
    expect(page.locator('header').get_by_text(ADMIN[0], exact=True)).to_be_visible()
    expect(page.get_by_role('heading', name='Job Management')).to_be_visible()
    page.get_by_role('button', name='Log out').click()
    expect(page).to_have_url(f'{server.url}/login')


def test_typing_and_submitting_before_the_page_is_connected_still_logs_in(page: Page, server: Server) -> None:
    # The page's websocket is held back until the person has typed both fields and pressed "Log in", as on a slow
    # link or with a password manager that fills the form at once: the check must see what was typed.
    held: list[WebSocketRoute] = []

    def connect(socket: WebSocketRoute) -> None:
        if held and held[0] is None:  # released: the pages after the login connect at once
            socket.connect_to_server()
        else:
            held.append(socket)

    page.route_web_socket(re.compile(r'.*/_nicegui_ws/.*'), connect)
    page.goto(f'{server.url}/login')
    page.get_by_label('Username').fill(ADMIN[0])
    page.get_by_label('Password').fill(ADMIN[1])
    page.get_by_role('button', name='Log in').click()
    page.wait_for_timeout(300)
    expect(page.get_by_role('button', name='Log out')).to_have_count(0)  # nothing could be checked yet
    assert held, 'the page did not try to connect'
    waiting, held[:] = list(held), [None]  # type: ignore[list-item]
    for socket in waiting:
        socket.connect_to_server()
    expect(page.get_by_role('button', name='Log out')).to_be_visible()
    expect(page.get_by_text('Invalid username or password')).to_have_count(0)


def test_fields_filled_without_typing_are_what_gets_checked(page: Page, server: Server) -> None:
    # A form filler that sets the fields' values without typing (no input events): the page never hears of them,
    # and still the check must see what stands in the fields when "Log in" is pressed.
    # It fills both fields and presses "Log in" in one go: a field that re-renders in between (Quasar's focus
    # handling does, on a busy machine) would put back the value the page knows of, which is no value.
    page.goto(f'{server.url}/login')
    expect(page.get_by_label('Username')).to_be_editable()
    fields = [page.get_by_label(label).element_handle() for label in ('Username', 'Password')]
    button = page.get_by_role('button', name='Log in').element_handle()
    page.evaluate(
        '([username, password, button, values]) => { [username.value, password.value] = values; button.click(); }',
        [*fields, button, list(ADMIN)],
    )
    expect(page.get_by_role('button', name='Log out')).to_be_visible()


def test_cli_user_can_log_in(page: Page, server: Server) -> None:
    username, password = server.add_user('carol')
    listed = server.cli('user', 'list')
    assert 'carol\tuser' in listed.stdout and 'admin\tadmin' in listed.stdout
    log_in(page, server, username, password)
    expect(page.locator('header').get_by_text('carol', exact=True)).to_be_visible()
    expect(page.get_by_text('System Tasks')).to_have_count(0)


def test_the_drawer_is_open_on_a_wide_screen_and_folded_on_a_phone(page: Page, server: Server) -> None:
    page.set_viewport_size({'width': 1280, 'height': 720})  # a laptop, and Playwright's default viewport
    log_in(page, server)
    drawer_link = page.get_by_role('link', name='Overview')
    expect(drawer_link).to_be_visible()  # wider than 1023 px: navigation shown beside the page
    # Quasar opens it by itself and then tells the server; a click in the first instant after the page connected
    # can meet the server's older "closed" (a person is not that quick), so let that message arrive first.
    page.wait_for_function('window.did_handshake === true')
    page.wait_for_timeout(300)
    page.get_by_role('button', name='Menu').click()
    expect(drawer_link).to_be_hidden()
    page.set_viewport_size({'width': 390, 'height': 844})
    page.reload()
    expect(page.get_by_role('heading', name='Job Management')).to_be_visible()
    expect(drawer_link).to_be_hidden()  # a phone gets the whole width for the page
    page.get_by_role('button', name='Menu').click()
    expect(drawer_link).to_be_visible()


@pytest.mark.parametrize('database_url', ['postgresql'], indirect=True)
def test_two_nodes_share_logins_and_logging_out_on_one_ends_it_on_both(
    page: Page, tmp_path: Path, database_url: str
) -> None:
    shared = {'JOBS_DATABASE_URL': database_url, 'JOBS_STORAGE_SECRET': 'one-secret-for-every-node'}
    first = start_server(tmp_path / 'first' / 'data', **shared)
    try:
        second = start_server(tmp_path / 'second' / 'data', **shared)
        try:
            log_in(page, first)
            page.goto(f'{second.url}/imports')  # as if the load balancer picked the other node (same host: same cookie)
            expect(page.locator('header').get_by_text(ADMIN[0], exact=True)).to_be_visible()
            page.get_by_role('button', name='Log out').click()
            expect(page).to_have_url(f'{second.url}/login')
            page.goto(f'{first.url}/imports')
            expect(page).to_have_url(f'{first.url}/login?redirect_to=/imports')
        finally:
            stop_server(second)
    finally:
        stop_server(first)
