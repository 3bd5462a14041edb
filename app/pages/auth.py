"""Sessions live in the database, keyed by NiceGUI's browser id, so every node that shares the database and the
storage secret knows who is logged in; the role is read from the database on every request."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse
from nicegui import app
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import Response
from starlette.types import ASGIApp

from app.pages.data import fetch
from app.services import Services
from app.storage.models import User
from app.storage.users import end_session, session_user

COMPLETE_LOGIN_PATH = '/login/complete'
PUBLIC_PATHS = {'/login', COMPLETE_LOGIN_PATH}
API_PREFIXES = ('/api/', '/files/')


class AuthMiddleware(BaseHTTPMiddleware):
    """Anonymous visitors are sent to /login (pages) or answered 401 (API and files)."""

    def __init__(self, asgi_app: ASGIApp, *, services: Services) -> None:
        super().__init__(asgi_app)
        self.services = services

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        path = request.url.path
        if path in PUBLIC_PATHS or path.startswith('/_nicegui') or await current_user(self.services) is not None:
            return await call_next(request)
        if path.startswith(API_PREFIXES):
            return JSONResponse({'detail': 'Not authenticated'}, status_code=401)
        target = path + (f'?{request.url.query}' if request.url.query else '')
        return RedirectResponse(f'/login?redirect_to={quote(target)}')


async def current_user(services: Services) -> User | None:
    """The logged-in user, read fresh from the database (None if logged out, revoked or deleted)."""
    user: User | None = await fetch(session_user, services.engine, _browser_id())
    return user


async def log_out(services: Services) -> None:
    await fetch(end_session, services.engine, _browser_id())


def safe_redirect(target: str | None) -> str:
    """Only same-site paths are followed after login."""
    if target and target.startswith('/') and not target.startswith('//') and '\\' not in target:
        return target
    return '/settings/maintenance/jobs'


def _browser_id() -> str:
    """NiceGUI's id for this browser, from its signed session cookie: the same on every node with the same secret.

    Logging in gives the browser a new one (app.pages.login). NiceGUI hands it out in the middleware, in pages
    and API routes (the request), and in event handlers (the page's request).
    """
    return str(app.storage.browser['id'])
