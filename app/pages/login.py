"""/login: username and password; afterwards the user lands on the page first asked for."""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from app.pages.auth import current_user, log_in, safe_redirect
from app.pages.data import fetch
from app.pages.throttle import LoginThrottle
from app.services import Services
from app.storage.users import authenticate

INVALID = 'Invalid username or password'
log = logging.getLogger('app.auth')


def register(services: Services) -> None:
    throttle = LoginThrottle()

    @ui.page('/login')
    async def login_page(request: Request, redirect_to: str | None = None) -> RedirectResponse | None:
        if await current_user(services) is not None:
            return RedirectResponse(safe_redirect(redirect_to))
        client_key = f'client:{request.client.host if request.client else "unknown"}'

        async def try_login() -> None:
            name = (username.value or '').strip()
            keys = (f'user:{name.lower()}', client_key)
            wait = throttle.retry_after(*keys)
            if wait:
                show_error(f'Too many failed attempts. Try again in {wait} seconds.')
                return
            user = await fetch(authenticate, services.engine, username=name, password=password.value or '')
            if user is None:
                throttle.record_failure(*keys)
                log.warning('failed login for %r from %s', name[:150], client_key)  # never the password
                show_error(INVALID)
                return
            throttle.record_success(keys[0])
            await log_in(services, user)
            ui.navigate.to(safe_redirect(redirect_to))

        def show_error(message: str) -> None:
            error.set_text(message)
            error.set_visibility(True)
            password.set_value('')

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
