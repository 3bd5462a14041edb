"""Who is asking, settled once per request: the middleware reads the session and puts the user on the request.

Sessions live in the database, keyed by NiceGUI's browser id, so every node that shares the database and the
storage secret knows who is logged in; the role is read from the database on every request. Pages and routes
take the user as a FastAPI dependency (``CurrentUser``, ``AdminUser``) and never look it up themselves.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse
from nicegui import app
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import Response
from starlette.types import ASGIApp

from app.pages.display import JOBS_PATH, LOGIN_PATH, login_path
from app.services import Services
from app.storage.models import User
from app.storage.users import end_session, session_user

COMPLETE_LOGIN_PATH = '/login/complete'
PUBLIC_PATHS = {LOGIN_PATH, COMPLETE_LOGIN_PATH}
API_PREFIXES = ('/api/', '/files/')


class AuthMiddleware(BaseHTTPMiddleware):
    """Resolves the user of every request (``request.state.user``); anonymous visitors are sent to /login
    (pages) or answered 401 (API and files)."""

    def __init__(self, asgi_app: ASGIApp, *, services: Services) -> None:
        super().__init__(asgi_app)
        self.services = services

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        path = request.url.path
        if path.startswith('/_nicegui'):  # NiceGUI's own assets and websocket
            return await call_next(request)
        request.state.user = await signed_in_user(self.services)
        if request.state.user is not None or path in PUBLIC_PATHS:
            return await call_next(request)
        if path.startswith(API_PREFIXES):
            # The API's error shape (app.pages.api.error): ``error`` for scripts, ``detail`` for FastAPI clients.
            return JSONResponse({'error': 'Not authenticated', 'detail': 'Not authenticated'}, status_code=401)
        return RedirectResponse(login_path(path + (f'?{request.url.query}' if request.url.query else '')))


def _request_user(request: Request) -> User:
    user: User | None = getattr(request.state, 'user', None)
    if user is None:  # the middleware lets no anonymous request through to a route that asks for a user
        raise HTTPException(status_code=401, detail='Not authenticated')
    return user


def _request_admin(user: Annotated[User, Depends(_request_user)]) -> User:
    if not user.is_admin:  # answered exactly like a page or route that does not exist
        raise HTTPException(status_code=404, detail='Not found')
    return user


CurrentUser = Annotated[User, Depends(_request_user)]
AdminUser = Annotated[User, Depends(_request_admin)]


async def current_user(services: Services) -> User | None:
    """The logged-in user of the page's browser, read fresh (event handlers: the role may have changed)."""
    return await signed_in_user(services)


async def signed_in_user(services: Services) -> User | None:
    """The user this browser's session belongs to, unless the session has ended (logout, expiry, revocation)."""
    settings = services.settings
    user: User | None = await services.threads.run(
        session_user, services.engine, browser_id(),
        idle=timedelta(minutes=settings.session_idle_minutes), max_age=timedelta(days=settings.session_max_days),
    )  # fmt: skip
    return user


async def log_out(services: Services) -> None:
    await services.threads.run(end_session, services.engine, browser_id())


def safe_redirect(target: str | None) -> str:
    """Only same-site paths are followed after login."""
    if target and target.startswith('/') and not target.startswith('//') and '\\' not in target:
        return target
    return JOBS_PATH


def browser_id() -> str:
    """NiceGUI's id for this browser, from its signed session cookie: the same on every node with the same secret.

    Logging in gives the browser a new one (app.pages.login). NiceGUI hands it out in the middleware, in pages
    and API routes (the request), and in event handlers (the page's request).
    """
    return str(app.storage.browser['id'])
