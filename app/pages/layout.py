"""The page chrome shared by every logged-in page: header with the user and a navigation drawer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nicegui import ui

from app.pages.auth import log_out
from app.services import Services
from app.storage.models import User

JOBS_PATH = '/settings/maintenance/jobs'
TASKS_PATH = '/settings/maintenance/tasks'
IMPORTS_PATH = '/imports'


@contextmanager
def frame(title: str, user: User, services: Services) -> Iterator[None]:
    """Header, drawer and a content column with ``title`` as the page heading."""
    ui.page_title(f'{title} · Job Management')
    with ui.left_drawer(bordered=True).classes('bg-grey-1 q-pa-none').props('width=250') as drawer:
        _navigation(user)
    with ui.header(elevated=True).classes('items-center justify-between q-px-md q-py-sm'):
        with ui.row().classes('items-center no-wrap gap-1'):
            ui.button(icon='menu', on_click=drawer.toggle).props('flat round dense color=white aria-label="Menu"')
            ui.label('Job Management').classes('text-subtitle1 text-weight-medium')
        with ui.row().classes('items-center no-wrap gap-2'):
            ui.icon('account_circle')
            ui.label(user.username).mark('username').classes('text-body2')
            ui.button('Log out', on_click=lambda: _log_out(services)).props('flat dense color=white no-caps')
    with ui.column().classes('w-full q-pa-md gap-3'):
        ui.html(f'<h1 class="text-h5 q-my-none">{_escape(title)}</h1>', sanitize=False)
        yield


def _navigation(user: User) -> None:
    with ui.list().classes('w-full q-pt-sm'):
        _link('Imports', IMPORTS_PATH, 'upload_file')
        ui.item_label('Settings').props('header').classes('text-weight-bold q-pb-xs')
        with ui.column().classes('q-pl-md gap-0 w-full'):
            ui.item_label('Application Maintenance').props('header').classes('q-py-xs')
            with ui.column().classes('q-pl-md gap-0 w-full'):
                _link('Job Management', JOBS_PATH, 'work_history')
                if user.is_admin:
                    _link('System Tasks', TASKS_PATH, 'build')


def _link(text: str, target: str, icon: str) -> None:
    with ui.link(target=target).classes('no-underline text-grey-10 w-full'):
        with ui.row().classes('items-center q-px-md q-py-sm gap-3 no-wrap hover-highlight w-full'):
            ui.icon(icon, size='sm').classes('text-grey-7')
            ui.label(text)


async def _log_out(services: Services) -> None:
    await log_out(services)
    ui.navigate.to('/login')


def _escape(text: str) -> str:
    return text.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')
