"""/settings/account (everyone): change your own password, and your API tokens for scripts.

A password change ends your other sessions (this page stays logged in). A new token is shown once, with a copy
button; only its hash is kept. Tokens work on every ``/api/`` route and ``/files/{id}`` with your visibility.
"""

from __future__ import annotations

from nicegui import ui

from app.pages.auth import CurrentUser
from app.pages.components import LocalTime
from app.pages.display import ACCOUNT_PATH
from app.pages.layout import frame
from app.pages.markup_table import MarkupTable, cell
from app.pages.session_guard import page_session_key, page_user
from app.services import Services
from app.storage import tokens, users
from app.storage.models import ApiToken, User, utcnow

TOKEN_HEADERS = ['Name', 'Created', 'Last used', 'Expires', 'Actions']


def register(services: Services) -> None:
    @ui.page(ACCOUNT_PATH)
    async def account_page(user: CurrentUser) -> None:
        with frame('Account', user, services):
            PasswordForm(services, user)
            view = TokenList(services, user)
        await view.refresh()


def _password(label: str, autocomplete: str) -> ui.input:
    field = ui.input(label, password=True, password_toggle_button=True).props(f'autocomplete={autocomplete}')
    return field.classes('w-full max-w-sm')


def _section(title: str) -> ui.card:
    card = ui.card().classes('w-full max-w-3xl gap-3')
    with card:
        ui.html(f'<h2 class="text-h6 q-my-none">{title}</h2>', sanitize=False)
    return card


class PasswordForm:
    def __init__(self, services: Services, user: User) -> None:
        self.services = services
        self.user = user
        with _section('Change password'):
            ui.label('Your other sessions end; this one stays logged in.').classes('text-body2 text-muted')
            self.current = _password('Current password', 'current-password')
            self.new = _password('New password', 'new-password')
            self.repeat = _password('Repeat new password', 'new-password')
            self.error = ui.label().classes('text-negative').props('role=alert')
            ui.button('Change password', on_click=self.change).props('no-caps').mark('change-password')

    async def change(self) -> None:
        self.error.text = ''
        if (self.new.value or '') != (self.repeat.value or ''):
            self.error.text = 'The new passwords do not match'
            return
        user = await page_user()
        if user is None or user.id is None:
            ui.notify('Your session has ended. Log in again.', type='negative')
            return
        try:
            await self.services.threads.run(
                users.change_password, self.services.engine, user_id=user.id, current=self.current.value or '',
                new=self.new.value or '', keep_session=page_session_key() or '',
            )  # fmt: skip
        except users.UserError as error:
            self.error.text = str(error)
            return
        self.services.account_changed(user.id)  # pages of the ended sessions go to /login
        for field in (self.current, self.new, self.repeat):
            field.value = ''
        ui.notify('Password changed. Your other sessions were logged out.', type='positive')


class TokenList:
    def __init__(self, services: Services, user: User) -> None:
        self.services = services
        self.user = user
        with _section('API tokens'):
            ui.markdown(
                'Scripts send a token as `Authorization: Bearer <token>` to the API (`/api/...`, described at '
                '[/api/docs](/api/docs)) and file downloads (`/files/<id>`); they see what you see.'
            ).classes('text-body2')
            self.create_button = ui.button('Create token', icon='key', on_click=self.open_create).props('no-caps')
            self.create_button.mark('create-token')
            self.shown = ui.column().classes('w-full gap-1').mark('new-token')
            self.table = MarkupTable(TOKEN_HEADERS, label='API tokens')
            self.empty = ui.label('No tokens yet.').classes('text-muted')
        self._build_dialog()

    async def refresh(self) -> None:
        assert self.user.id is not None
        listed = await self.services.threads.run(tokens.list_tokens, self.services.engine, user_id=self.user.id)
        self.table.clear_rows()
        for token in listed:
            self._row(token)
        self.empty.set_visibility(not listed)
        self.table.set_visibility(bool(listed))

    def _row(self, token: ApiToken) -> None:
        with self.table.row().mark(f'token-{token.id}'):
            cell(token.name)
            with cell():
                LocalTime(token.created_at.isoformat())
            with cell():
                if token.last_used_at is not None:
                    LocalTime(token.last_used_at.isoformat(), relative=True)
                else:
                    ui.label('Never').classes('text-muted')
            with cell():
                if token.expires_at is not None:
                    ui.label(tokens.last_day(token.expires_at)).tooltip(
                        f'works until {token.expires_at:%Y-%m-%d %H:%M} UTC'
                    )
                    if token.expires_at <= utcnow():
                        ui.label('Expired').classes('text-caption text-error')
                else:
                    ui.label('Never').classes('text-muted')
            with cell():
                revoke = ui.button('Revoke', on_click=lambda: self.revoke(token)).props('flat dense no-caps')
                revoke.props['aria-label'] = f'Revoke {token.name}'  # any name: not parsed as a props string
                revoke.classes('danger-action').mark(f'revoke-{token.id}')

    def _build_dialog(self) -> None:
        with ui.dialog() as self.dialog, ui.card().classes('w-96'):
            ui.html('<h2 class="text-h6 q-my-none">Create token</h2>', sanitize=False)
            self.name = ui.input('Name', placeholder='e.g. nightly import').classes('w-full').mark('token-name')
            self.expires = (
                ui.input('Expires').props('type=date stack-label clearable').classes('w-full').mark('token-expires')
            )
            ui.label('Optional: the last day the token works. Empty: it never expires.').classes(
                'text-caption text-muted'
            )
            self.dialog_error = ui.label().classes('text-negative').props('role=alert')
            with ui.row().classes('w-full justify-end'):
                ui.button('Cancel', on_click=self.dialog.close).props('flat no-caps')
                ui.button('Create', on_click=self.create).props('no-caps').mark('create')

        # While the dialog is open, its "Create" is the only button of that name that can be seen or reached.
        self.dialog.on_value_change(
            lambda e: self.create_button.classes(
                add='invisible' if e.value else '', remove='' if e.value else 'invisible'
            )
        )

    def open_create(self) -> None:
        self.name.value, self.expires.value, self.dialog_error.text = '', '', ''
        self.dialog.open()

    async def create(self) -> None:
        user = await page_user()
        if user is None or user.id is None:
            self.dialog_error.text = 'Your session has ended. Log in again.'
            return
        try:
            expires_at = tokens.expiry_of_day(self.expires.value or '')
            new = await self.services.threads.run(
                tokens.create_token, self.services.engine, user_id=user.id, name=self.name.value or '',
                expires_at=expires_at,
            )  # fmt: skip
        except ValueError as error:  # UserError or a malformed date
            self.dialog_error.text = str(error)
            return
        self.dialog.close()
        self.show_once(new)
        await self.refresh()

    def show_once(self, new: tokens.NewToken) -> None:
        secret = new.secret
        self.shown.clear()
        with self.shown:
            ui.label(f'Your new token "{new.token.name}". Copy it now: it is not shown again.').classes(
                'text-weight-medium'
            )
            with ui.row().classes('items-center gap-2 no-wrap w-full'):
                ui.input(value=secret).props('readonly outlined dense aria-label="New token"').classes(
                    'flex-1 token-value'
                ).mark('token-value')
                ui.button(icon='content_copy', on_click=lambda: copy(secret)).props(
                    'flat round aria-label="Copy token"'
                ).tooltip('Copy token').mark('copy-token')

    async def revoke(self, token: ApiToken) -> None:
        user = await page_user()
        if user is None or user.id is None or token.id is None:
            return
        revoked = await self.services.threads.run(
            tokens.revoke_token, self.services.engine, user_id=user.id, token_id=token.id
        )
        ui.notify(f'Token "{token.name}" revoked' if revoked else 'That token was already gone', type='positive')
        await self.refresh()


def copy(secret: str) -> None:
    ui.clipboard.write(secret)
    ui.notify('Token copied')
