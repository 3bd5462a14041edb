"""/settings/maintenance/tasks (admins only): system tasks with their schedule and "Run now"."""

from __future__ import annotations

from fastapi.responses import RedirectResponse
from nicegui import ui

from app.pages.auth import current_user
from app.pages.layout import TASKS_PATH, frame
from app.services import Services


def register(services: Services) -> None:
    @ui.page(TASKS_PATH)
    async def system_tasks_page() -> RedirectResponse | None:
        user = await current_user(services)
        if user is None:
            return RedirectResponse(f'/login?redirect_to={TASKS_PATH}')
        with frame('System Tasks', user):
            ui.label('Coming soon')
        return None
