"""/settings/users (admins only): every account with its role, status, last login and creation time; add users,
reset passwords, give or take the admin role, disable or enable.

The last active admin can be neither disabled nor demoted, and admins cannot do either to themselves
(app.storage.users says no; the page shows why). Disabling ends the user's sessions, tokens and open pages at once
(app.pages.session_guard), on every node.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable

from nicegui import background_tasks, ui

from app.jobs.events import AccountChanged, Change
from app.pages.auth import AdminUser
from app.pages.components import LocalTime
from app.pages.display import USERS_PATH
from app.pages.layout import frame
from app.pages.markup_table import MarkupTable, cell
from app.pages.session_guard import page_user
from app.services import Services
from app.storage import users
from app.storage.models import User

HEADERS = ['Username', 'Role', 'Status', 'Last login', 'Created', 'Actions']


def register(services: Services) -> None:
    @ui.page(USERS_PATH)
    async def users_page(user: AdminUser) -> None:
        with frame('Users', user, services):
            view = UsersView(services, user)
        await view.refresh()
        services.feed.subscribe(view.changed)  # another admin, node or the CLI changed someone: show it


class UsersView:
    def __init__(self, services: Services, admin: User) -> None:
        self.services = services
        self.admin = admin
        self._refreshing = False
        ui.label('Disabled users cannot log in; their jobs stay. Times are shown in your local time.').classes(
            'text-body2 text-muted'
        )
        self.add_button = ui.button('Add user', icon='person_add', on_click=self.open_add).props('no-caps')
        self.add_button.mark('add-user')
        self.table = MarkupTable(HEADERS, label='Users')
        self._build_add_dialog()
        self._build_password_dialog()

    # -- the list --------------------------------------------------------------------------------------------
    def changed(self, change: Change) -> None:
        if isinstance(change, AccountChanged) and not self._refreshing:
            self._refreshing = True
            background_tasks.create(self.refresh(), name='users page refresh')

    async def refresh(self) -> None:
        self._refreshing = False
        people = await self.services.threads.run(users.list_users, self.services.engine)
        self.table.clear_rows()
        for person in people:
            self._row(person)

    def _row(self, person: User) -> None:
        name = person.username
        disabled = person.disabled_at is not None
        with self.table.row().mark(f'user-{name}'):
            cell(name)
            cell('Admin' if person.is_admin else 'User')
            cell('Disabled' if disabled else 'Active')
            with cell():
                if person.last_login_at is not None:
                    LocalTime(person.last_login_at.isoformat(), relative=True)
                else:
                    ui.label('Never').classes('text-muted')
            with cell():
                LocalTime(person.created_at.isoformat())
            with cell(), ui.row().classes('gap-1'):
                self._action('Reset password', f'reset-{name}', lambda: self.open_password(name))
                if person.is_admin:
                    self._action('Remove admin', f'demote-{name}', lambda: self.change(name, users.set_admin, False))
                else:
                    self._action('Make admin', f'promote-{name}', lambda: self.change(name, users.set_admin, True))
                if disabled:
                    self._action('Enable', f'enable-{name}', lambda: self.change(name, users.set_disabled, False))
                else:
                    disable = lambda: self.change(name, users.set_disabled, True)  # noqa: E731
                    self._action('Disable', f'disable-{name}', disable, danger=True)

    @staticmethod
    def _action(text: str, marker: str, handler: Callable[[], Awaitable[None] | None], *, danger: bool = False) -> None:
        button = ui.button(text, on_click=handler).props('flat dense no-caps').mark(marker)
        button.props('color=primary' if not danger else '').classes('danger-action' if danger else '')

    # -- acting ----------------------------------------------------------------------------------------------
    async def _acting_admin(self) -> User | None:
        """The admin pressing the button, read fresh: the role may have been taken away meanwhile."""
        admin = await page_user()
        if admin is None or not admin.is_admin:
            ui.notify('Only admins may manage users', type='negative')
            return None
        return admin

    async def change(self, username: str, operation: Callable[..., User], value: bool) -> None:
        """Disable/enable (``users.set_disabled``) or make/remove admin (``users.set_admin``)."""
        admin = await self._acting_admin()
        if admin is None:
            return
        keyword = 'disabled' if operation is users.set_disabled else 'is_admin'
        try:
            changed = await self.services.threads.run(
                operation, self.services.engine, username=username, by=admin, **{keyword: value}
            )
        except users.UserError as error:
            ui.notify(str(error), type='negative')
            return
        assert changed.id is not None
        self.services.account_changed(changed.id)  # their open pages re-check now
        if operation is users.set_disabled:
            what = 'disabled: their sessions and tokens stopped working' if value else 'enabled'
        else:
            what = 'now an admin' if value else 'no longer an admin'
        ui.notify(f'{username} {"is " if operation is users.set_admin else ""}{what}', type='positive')
        await self.refresh()

    def _build_add_dialog(self) -> None:
        with ui.dialog() as self.add_dialog, ui.card().classes('w-96'):
            ui.html('<h2 class="text-h6 q-my-none">Add user</h2>', sanitize=False)
            self.new_name = ui.input('Username').props('autocomplete=off').classes('w-full').mark('new-username')
            self.new_password = (
                ui.input('Password', password=True, password_toggle_button=True)
                .props('autocomplete=new-password')
                .classes('w-full')
                .mark('new-password')
            )
            self.new_admin = ui.checkbox('Administrator').mark('new-admin')
            self.add_error = ui.label().classes('text-negative').props('role=alert')
            with ui.row().classes('w-full justify-end'):
                ui.button('Cancel', on_click=self.add_dialog.close).props('flat no-caps')
                ui.button('Add', on_click=self.add).props('no-caps').mark('add')

        # While the dialog is open, its "Add" is the only button of that name that can be seen or reached.
        self.add_dialog.on_value_change(
            lambda e: self.add_button.classes(add='invisible' if e.value else '', remove='' if e.value else 'invisible')
        )

    def open_add(self) -> None:
        self.new_name.value, self.new_password.value, self.new_admin.value = '', '', False
        self.add_error.text = ''
        self.add_dialog.open()

    async def add(self) -> None:
        if await self._acting_admin() is None:
            return
        try:
            created = await self.services.threads.run(
                users.create_user, self.services.engine, username=self.new_name.value or '',
                password=self.new_password.value or '', is_admin=bool(self.new_admin.value),
            )  # fmt: skip
        except users.UserError as error:
            self.add_error.text = str(error)
            return
        self.add_dialog.close()
        ui.notify(f'Added {"admin" if created.is_admin else "user"} {created.username}', type='positive')
        await self.refresh()

    def _build_password_dialog(self) -> None:
        self.password_for = ''
        with ui.dialog() as self.password_dialog, ui.card().classes('w-96'):
            self.password_heading = ui.html('', sanitize=False)  # the username is escaped
            ui.label('Their sessions end: they log in again with the new password.').classes('text-body2')
            self.reset_password = (
                ui.input('New password', password=True, password_toggle_button=True)
                .props('autocomplete=new-password')
                .classes('w-full')
                .mark('reset-password-input')
            )
            self.reset_error = ui.label().classes('text-negative').props('role=alert')
            with ui.row().classes('w-full justify-end'):
                ui.button('Cancel', on_click=self.password_dialog.close).props('flat no-caps')
                ui.button('Set password', on_click=self.set_password).props('no-caps').mark('set-password')

    def open_password(self, username: str) -> None:
        self.password_for = username
        self.password_heading.content = f'<h2 class="text-h6 q-my-none">Reset password of {html.escape(username)}</h2>'
        self.reset_password.value = ''
        self.reset_error.text = ''
        self.password_dialog.open()

    async def set_password(self) -> None:
        if await self._acting_admin() is None:
            return
        username = self.password_for
        try:
            await self.services.threads.run(
                users.set_password, self.services.engine, username=username, password=self.reset_password.value or ''
            )
        except users.UserError as error:
            self.reset_error.text = str(error)
            return
        self.password_dialog.close()
        for person in await self.services.threads.run(users.list_users, self.services.engine):
            if person.username == username and person.id is not None:
                self.services.account_changed(person.id)
        ui.notify(f'Password of {username} reset; their sessions ended', type='positive')
