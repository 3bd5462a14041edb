"""Assembles the web app: middleware, lifecycle hooks, pages and HTTP routes."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from nicegui import Client, app, ui
from starlette.responses import Response

from app.memory import TrimWhenUnwatched
from app.pages import (
    account,
    api,
    api_actions,
    api_launch,
    api_overview,
    auth,
    hardening,
    imports,
    job_detail,
    job_list,
    login,
    overview,
    system_tasks,
    users,
)
from app.pages.display import JOBS_PATH
from app.pages.layout import not_found
from app.pages.limits import UploadLimit
from app.services import Services

STYLES = Path(__file__).parent / 'pages' / 'styles.css'


def create_app(services: Services) -> None:
    """Register everything on NiceGUI's app; ``services`` start and stop with it."""
    app.state.services = services  # lets tests and tools reach the running app's services
    app.add_middleware(auth.AuthMiddleware, services=services)
    app.add_middleware(UploadLimit, max_bytes=services.settings.max_upload_bytes)
    # Added last, so it runs first: a cross-site request is refused before anything else looks at it.
    app.add_middleware(hardening.Hardening, trusted_proxies=services.settings.trusted_proxy_networks)
    app.on_startup(services.start)
    app.on_shutdown(services.stop)
    _add_shared_styles()
    login.register(services)
    overview.register(services)
    job_list.register(services)
    job_detail.register(services)
    imports.register(services)
    system_tasks.register(services)
    users.register(services)
    account.register(services)
    router = APIRouter()  # every /api/ and /files/ route, described together at /api/openapi.json
    api.add_routes(router, services)
    api_overview.add_routes(router, services)
    api_actions.add_routes(router, services)
    api_launch.add_routes(router, services)
    api.mount(app, router)
    _answer_not_found(services)
    app.state.memory_trim = TrimWhenUnwatched(watched=_page_open)
    app.on_delete(app.state.memory_trim.page_gone)

    @ui.page('/')
    def index() -> RedirectResponse:
        return RedirectResponse(JOBS_PATH)


def _page_open() -> bool:
    return any(client.has_socket_connection for client in Client.instances.values())


def _answer_not_found(services: Services) -> None:
    """Unknown URLs (and pages one may not see) get a page in the app's frame; the API gets JSON."""

    @app.exception_handler(404)
    async def page_not_found(request: Request, exception: Exception) -> Response:
        user = getattr(request.state, 'user', None)
        path = request.url.path
        # A file link opened in a browser tab gets the page too; a script fetching a file gets JSON.
        script = path.startswith('/api/') or (
            path.startswith('/files/') and 'text/html' not in request.headers.get('accept', '')
        )
        if script or user is None:
            return api.not_found()
        with Client(ui.page(''), request=request) as client:
            not_found(user, services)
        return client.build_response(request, 404)


def _add_shared_styles() -> None:
    """The app's styles, in the head so the first paint already has them (once per process).

    They replace NiceGUI's in-browser Tailwind compiler (``tailwind=False`` in main.py), which rescanned the page
    on every DOM change and made each live grid update cost several times more in every open tab.
    """
    style = f'<style>{STYLES.read_text()}</style>'
    if style not in Client.shared_head_html:
        ui.add_head_html(style, shared=True)
