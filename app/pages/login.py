"""/login: username and password; afterwards the user lands on the page first asked for."""

from __future__ import annotations

from fastapi.responses import RedirectResponse
from nicegui import ui

from app.pages.auth import current_user, log_in, safe_redirect
from app.pages.data import fetch
from app.services import Services
from app.storage.users import authenticate

INVALID = 'Invalid username or password'


def register(services: Services) -> None:
    @ui.page('/login')
    async def login_page(redirect_to: str | None = None) -> RedirectResponse | None:
        if await current_user(services) is not None:
            return RedirectResponse(safe_redirect(redirect_to))

        async def try_login() -> None:
            user = await fetch(
                authenticate, services.engine, username=username.value or '', password=password.value or ''
            )
            if user is None:
                error.set_text(INVALID)
                error.set_visibility(True)
                password.set_value('')
                return
            log_in(user)
            ui.navigate.to(safe_redirect(redirect_to))

        ui.page_title('Log in · Job Management')
        with ui.card().classes('absolute-center w-80 gap-3'):
            ui.html('<h1 class="text-h5 q-my-none">Job Management</h1>', sanitize=False)
            username = ui.input('Username').props('autofocus autocomplete=username').classes('w-full')
            password = ui.input('Password', password=True).props('autocomplete=current-password').classes('w-full')
            error = ui.label().classes('text-negative').props('role=alert')
            error.set_visibility(False)
            username.on('keydown.enter', try_login)
            password.on('keydown.enter', try_login)
            ui.button('Log in', on_click=try_login).classes('w-full')
        return None
