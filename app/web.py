"""Assembles the web app: middleware, lifecycle hooks, pages and HTTP routes."""

from __future__ import annotations

from pathlib import Path

from fastapi.responses import RedirectResponse
from nicegui import Client, app, ui

from app.pages import api, auth, imports, job_detail, job_list, login, system_tasks
from app.pages.limits import UploadLimit
from app.services import Services


def create_app(services: Services) -> None:
    """Register everything on NiceGUI's app; ``services`` start and stop with it."""
    app.state.services = services  # lets tests and tools reach the running app's services
    app.add_middleware(auth.AuthMiddleware, services=services)
    app.add_middleware(UploadLimit, max_bytes=services.settings.max_upload_bytes)
    app.on_startup(services.start)
    app.on_shutdown(services.stop)
    _add_shared_styles()
    login.register(services)
    job_list.register(services)
    job_detail.register(services)
    imports.register(services)
    system_tasks.register(services)
    api.register(services)

    @ui.page('/')
    def index() -> RedirectResponse:
        return RedirectResponse(job_list.JOBS_PATH)


def _add_shared_styles() -> None:
    """Layout utilities for every page, in the head so the first paint already has them (once per process).

    They replace NiceGUI's in-browser Tailwind compiler (``tailwind=False`` in main.py), which rescanned the page
    on every DOM change and made each live grid update cost several times more in every open tab.
    """
    style = f'<style>{(Path(__file__).parent / "pages" / "utilities.css").read_text()}</style>'
    if style not in Client.shared_head_html:
        ui.add_head_html(style, shared=True)
