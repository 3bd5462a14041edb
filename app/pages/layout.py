"""The page chrome shared by every logged-in page: header with the user, a navigation drawer, the heading."""

from __future__ import annotations

import html
from collections.abc import Iterator
from contextlib import contextmanager

from nicegui import ui

from app.pages.auth import browser_id, log_out
from app.pages.components import ThemeToggle
from app.pages.display import ACCOUNT_PATH, IMPORTS_PATH, JOBS_PATH, LOGIN_PATH, OVERVIEW_PATH, TASKS_PATH, USERS_PATH
from app.pages.finish_notices import FinishNotices
from app.pages.session_guard import SessionGuard
from app.services import Services
from app.storage.models import User

APP_NAME = 'Job Management'
PRIMARY = '#1565c0'  # white text on it is readable (contrast 5.7:1); NiceGUI's default blue is not
ADMIN_PATHS = (TASKS_PATH, USERS_PATH)


@contextmanager
def frame(title: str, user: User, services: Services) -> Iterator[None]:
    """Header, drawer and a content column with ``title`` as the page heading (an ``h1``)."""
    ui.page_title(title if title == APP_NAME else f'{title} · {APP_NAME}')
    ui.colors(primary=PRIMARY)
    request = ui.context.client.request
    current = request.url.path if request is not None else ''
    # Logout, a password change, disabling or demotion elsewhere reach this page at once (app.pages.session_guard).
    SessionGuard(services, user, browser_id(), admin_page=current.startswith(ADMIN_PATHS))
    # Quasar opens the drawer on wide screens itself (show-if-above) and reports it; NiceGUI's own
    # value=None would instead ask the browser on connect and log a traceback when it is slow to answer.
    # Quasar's own breakpoint (1023 px): a 1280 px laptop (and Playwright's default viewport) shows the navigation.
    drawer = ui.left_drawer(value=False, bordered=True).props('show-if-above width=260 breakpoint=1023')
    with drawer.classes('app-drawer q-pa-none'):
        _navigation(user, current)
    with ui.header(elevated=True).classes('items-center justify-between q-px-md q-py-sm'):
        with ui.row().classes('items-center no-wrap gap-1'):
            ui.button(icon='menu', on_click=drawer.toggle).props('flat round dense color=white aria-label="Menu"')
            ui.label(APP_NAME).classes('text-subtitle1 text-weight-medium gt-xs')  # a phone needs the room
        with ui.row().classes('items-center no-wrap gap-2'):
            FinishNotices(services, user)  # its button switches the browser's notifications on
            ThemeToggle()
            ui.icon('account_circle', size='sm').classes('gt-xs self-center')
            ui.label(user.username).mark('username').classes('text-body2 self-center')
            ui.link('Account', ACCOUNT_PATH).classes('header-link text-body2 text-white q-px-xs self-center').mark(
                'account-link'
            )
            ui.button('Log out', on_click=lambda: _log_out(services, user)).props('flat dense color=white no-caps')
    with ui.column().classes('w-full gap-3'):
        ui.html(f'<h1 class="text-h5 q-my-none">{html.escape(title)}</h1>', sanitize=False)
        yield


def not_found(user: User, services: Services, *, heading: str = 'Page not found', what: str = 'page') -> None:
    """The in-frame answer for something that does not exist or that ``user`` may not see (status 404)."""
    ui.context.client.status_code = 404
    with frame(heading, user, services):
        ui.label(f'This {what} does not exist, or you may not see it.')
        ui.link(f'Back to {APP_NAME}', JOBS_PATH)


def _navigation(user: User, current: str) -> None:
    entries = [(OVERVIEW_PATH, 'Overview', 'insights'), (JOBS_PATH, 'Job Management', 'work_history')]
    if user.is_admin:
        entries.append((TASKS_PATH, 'System Tasks', 'build'))
    targets = [IMPORTS_PATH, USERS_PATH, *(target for target, _, _ in entries)]
    # The entry of the current page: the longest target the path starts with (a job's page is Job Management's).
    active = max((t for t in targets if current == t or current.startswith(t + '/')), key=len, default='')
    with ui.element('nav').classes('w-full q-pt-sm').props('aria-label="Main"'):
        _link('Imports', IMPORTS_PATH, 'upload_file', active)
        ui.label('Settings').classes('drawer-heading text-weight-bold')
        with ui.column().classes('q-pl-md gap-0 w-full'):
            ui.label('Application Maintenance').classes('drawer-heading')
            with ui.column().classes('q-pl-md gap-0 w-full'):
                for target, text, icon in entries:
                    _link(text, target, icon, active)
            if user.is_admin:
                _link('Users', USERS_PATH, 'group', active)


def _link(text: str, target: str, icon: str, active: str) -> None:
    link = ui.link(target=target).classes('no-underline w-full drawer-link')
    if target == active:
        link.props('aria-current=page').classes('drawer-link--current')
    with link, ui.row().classes('items-center q-px-md q-py-sm gap-3 no-wrap hover-highlight w-full'):
        ui.icon(icon, size='sm').classes('drawer-icon')
        ui.label(text)


async def _log_out(services: Services, user: User) -> None:
    guard = SessionGuard.of(ui.context.client)
    if guard is not None:
        guard.end(navigate=False)  # this page goes to /login itself
    await log_out(services)
    if user.id is not None:
        services.account_changed(user.id)  # this browser's other tabs go to /login too
    ui.navigate.to(LOGIN_PATH)
