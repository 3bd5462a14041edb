"""Who is asking, settled once per request: the middleware reads the session and puts the user on the request.

Sessions live in the database, keyed by NiceGUI's browser id, so every node that shares the database and the
storage secret knows who is logged in; the role is read from the database on every request. ``/api/`` and
``/files/`` also take ``Authorization: Bearer jm_...`` (app.storage.tokens). Pages and routes take the user as a
FastAPI dependency (``CurrentUser``, ``AdminUser``) and never look it up themselves.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse
from nicegui import app
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import Response
from starlette.types import ASGIApp

from app.pages.display import JOBS_PATH, LOGIN_PATH, login_path
from app.pages.session_guard import check_upload
from app.services import Services
from app.storage.models import User
from app.storage.tokens import token_user
from app.storage.users import end_session, session_user

COMPLETE_LOGIN_PATH = '/login/complete'
PUBLIC_PATHS = {LOGIN_PATH, COMPLETE_LOGIN_PATH}
API_PREFIXES = ('/api/', '/files/')
DOCS_PATH = '/api/docs'  # a page: anonymous visitors are sent to /login
PAGE_UPLOAD = re.compile(r'^/_nicegui/client/([^/]+)/upload/[^/]+$')


class AuthMiddleware(BaseHTTPMiddleware):
    """Resolves the user of every request (``request.state.user``); anonymous visitors are sent to /login
    (pages) or answered 401 (API and files)."""

    def __init__(self, asgi_app: ASGIApp, *, services: Services) -> None:
        super().__init__(asgi_app)
        self.services = services

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        path = request.url.path
        if path.startswith('/_nicegui'):  # NiceGUI's own assets and websocket; a page's upload route needs its session
            upload = PAGE_UPLOAD.match(path)
            if upload and not await check_upload(self.services, upload.group(1), browser_id()):
                message = 'Your session has ended or this is not your page: log in again and upload from there'
                return JSONResponse({'error': message, 'detail': message}, status_code=403)
            return await call_next(request)
        authorization = request.headers.get('authorization', '')
        if path.startswith(API_PREFIXES) and authorization[:7].lower() == 'bearer ':
            # A script's API token: its user's visibility; a bad token is refused even with a session cookie.
            request.state.user = await self.services.threads.run(
                token_user, self.services.engine, authorization[7:].strip()
            )
            if request.state.user is None:
                return _unauthorized('Invalid, expired or revoked token')
            return await call_next(request)
        request.state.user = await signed_in_user(self.services)
        if request.state.user is not None or path in PUBLIC_PATHS:
            return await call_next(request)
        if path.startswith(API_PREFIXES) and path != DOCS_PATH:
            return _unauthorized('Not authenticated')
        return RedirectResponse(login_path(path + (f'?{request.url.query}' if request.url.query else '')))


def _unauthorized(message: str) -> JSONResponse:
    return JSONResponse({'error': message, 'detail': message}, status_code=401, headers={'WWW-Authenticate': 'Bearer'})


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
    user: User | None = await services.threads.run(
        session_user, services.engine, browser_id(), **services.settings.session_limits
    )
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
