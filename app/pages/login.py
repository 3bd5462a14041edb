"""/login: username and password; afterwards the user lands on the page first asked for.

The password is checked over the websocket, which cannot set cookies; the login then completes with one HTTP
request (``/login/complete``) that gives the browser a fresh id before the session starts, so a cookie planted
in the browser before the login (session fixation) is worth nothing afterwards.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import app, ui
from nicegui.events import GenericEventArguments

from app.pages.auth import COMPLETE_LOGIN_PATH, browser_id, safe_redirect
from app.pages.display import LOGIN_PATH
from app.pages.hardening import client_address
from app.pages.layout import PRIMARY
from app.pages.throttle import address_key, user_key, wait_before_check
from app.services import Services
from app.storage.throttle import forgive, record_try
from app.storage.users import authenticate, issue_login_ticket, redeem_login_ticket, start_session

INVALID = 'Invalid username or password'
# What the fields hold when the person submits travels with the submit itself: a form filler may set them without
# any input event (the server never hears of them), and what is typed before the page's websocket is up waits for
# the connection and may reach the server after the click. Either way the check would see empty fields and answer
# INVALID to the right password (tests/e2e/test_login_e2e.py).
_SUBMIT = (
    '() => emit(...["c{username}", "c{password}"].map((id) => {{'
    ' const field = document.getElementById(id);'  # Quasar gives the element's id to its <input> itself
    ' return (field.matches("input") ? field : field.querySelector("input")).value; }}))'
)
log = logging.getLogger('app.auth')


def register(services: Services) -> None:
    @ui.page(LOGIN_PATH)
    async def login_page(request: Request, redirect_to: str | None = None) -> RedirectResponse | None:
        if request.state.user is not None:
            return RedirectResponse(safe_redirect(redirect_to))
        address = client_address(request.scope, services.settings.trusted_proxy_networks)

        async def try_login(event: GenericEventArguments) -> None:
            name, typed = typed_in(event)
            keys = (user_key(name), address_key(address))
            # Counted before the check (atomically, shared by all nodes); the wait, if any, comes before it too.
            user_tries, address_tries = await services.threads.run(record_try, services.engine, keys)
            wait = wait_before_check(user_tries, address_tries, most=services.settings.login_max_delay_seconds)
            if wait:
                show_error(f'Too many failed attempts: each try now waits {wait:g} s. Checking…')
                button.disable()
                try:
                    await asyncio.sleep(wait)
                finally:
                    button.enable()
            user = await services.threads.run(authenticate, services.engine, username=name, password=typed)
            if user is None:
                log.warning('failed login for %r from %s', name[:150], address)  # never the password
                show_error(INVALID)
                return
            await services.threads.run(forgive, services.engine, keys)
            assert user.id is not None
            ticket = await services.threads.run(
                issue_login_ticket, services.engine, user_id=user.id, browser=browser_id()
            )
            ui.navigate.to(f'{COMPLETE_LOGIN_PATH}?{urlencode({"ticket": ticket, "to": safe_redirect(redirect_to)})}')

        def show_error(message: str) -> None:
            error.set_text(message)
            error.set_visibility(True)
            password.set_value('')

        ui.page_title('Log in · Job Management')
        ui.colors(primary=PRIMARY)
        with ui.card().classes('absolute-center w-80 gap-3'):
            ui.html('<h1 class="text-h5 q-my-none">Job Management</h1>', sanitize=False)
            username = ui.input('Username').props('autofocus autocomplete=username').classes('w-full')
            password = ui.input('Password', password=True).props('autocomplete=current-password').classes('w-full')
            error = ui.label().classes('text-negative').props('role=alert')
            error.set_visibility(False)
            submit = _SUBMIT.format(username=username.id, password=password.id)
            username.on('keydown.enter', try_login, js_handler=submit)
            password.on('keydown.enter', try_login, js_handler=submit)
            button = ui.button('Log in').classes('w-full')
            button.on('click', try_login, js_handler=submit)

        def typed_in(event: GenericEventArguments) -> tuple[str, str]:
            """The username and password as they stood in the browser when the person submitted."""
            fields = event.args if isinstance(event.args, list) and len(event.args) == 2 else None
            if fields is None:  # an event without them (NiceGUI's simulated clicks): the fields' synced values
                fields = [username.value, password.value]
            return str(fields[0] or '').strip(), str(fields[1] or '')

        return None

    @app.get(COMPLETE_LOGIN_PATH, include_in_schema=False)
    async def complete_login(request: Request, ticket: str = '', to: str | None = None) -> RedirectResponse:
        browser = str(request.session.get('id', ''))  # the id of the browser that typed the password, if it is that
        user_id = await services.threads.run(redeem_login_ticket, services.engine, ticket, browser=browser)
        if user_id is None:  # used, expired, made up or sent to another browser: log in again
            return RedirectResponse(f'{LOGIN_PATH}?{urlencode({"redirect_to": safe_redirect(to)})}', status_code=303)
        request.session['id'] = str(uuid.uuid4())  # NiceGUI's browser id, re-signed into the cookie by this response
        await services.threads.run(start_session, services.engine, key=request.session['id'], user_id=user_id)
        return RedirectResponse(safe_redirect(to), status_code=303)
