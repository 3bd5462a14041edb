"""Sessions: the session keeps only the user id; the role is read from the database on every request."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse
from nicegui import app
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import Response

from app.pages.data import fetch
from app.services import Services
from app.storage.models import User
from app.storage.users import get_user

SESSION_KEY = 'user_id'
PUBLIC_PATHS = {'/login'}
API_PREFIXES = ('/api/', '/files/')


class AuthMiddleware(BaseHTTPMiddleware):
    """Anonymous visitors are sent to /login (pages) or answered 401 (API and files)."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        path = request.url.path
        if path in PUBLIC_PATHS or path.startswith('/_nicegui') or app.storage.user.get(SESSION_KEY) is not None:
            return await call_next(request)
        if path.startswith(API_PREFIXES):
            return JSONResponse({'detail': 'Not authenticated'}, status_code=401)
        target = path + (f'?{request.url.query}' if request.url.query else '')
        return RedirectResponse(f'/login?redirect_to={quote(target)}')


async def current_user(services: Services) -> User | None:
    """The logged-in user, read fresh from the database (None if logged out or deleted)."""
    user_id = app.storage.user.get(SESSION_KEY)
    if user_id is None:
        return None
    user: User | None = await fetch(get_user, services.engine, user_id)
    if user is None:
        app.storage.user.pop(SESSION_KEY, None)
    return user


def log_in(user: User) -> None:
    app.storage.user[SESSION_KEY] = user.id


def log_out() -> None:
    app.storage.user.pop(SESSION_KEY, None)


def safe_redirect(target: str | None) -> str:
    """Only same-site paths are followed after login."""
    if target and target.startswith('/') and not target.startswith('//') and '\\' not in target:
        return target
    return '/settings/maintenance/jobs'
