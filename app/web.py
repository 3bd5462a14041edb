"""Assembles the web app: middleware, lifecycle hooks, pages and HTTP routes."""

from __future__ import annotations

from fastapi.responses import RedirectResponse
from nicegui import app, ui

from app.pages import api, auth, imports, job_detail, job_list, login, system_tasks
from app.pages.limits import UploadLimit
from app.services import Services


def create_app(services: Services) -> None:
    """Register everything on NiceGUI's app; ``services`` start and stop with it."""
    app.state.services = services  # lets tests and tools reach the running app's services
    app.add_middleware(auth.AuthMiddleware)
    app.add_middleware(UploadLimit, max_bytes=services.settings.max_upload_bytes)
    app.on_startup(services.start)
    app.on_shutdown(services.stop)
    login.register(services)
    job_list.register(services)
    job_detail.register(services)
    imports.register(services)
    system_tasks.register(services)
    api.register(services)

    @ui.page('/')
    def index() -> RedirectResponse:
        return RedirectResponse(job_list.JOBS_PATH)
