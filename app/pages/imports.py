"""/imports: upload a contacts CSV and follow the import job it starts."""

from __future__ import annotations

from fastapi.responses import RedirectResponse
from nicegui import ui

from app.pages.auth import current_user
from app.pages.layout import IMPORTS_PATH, frame
from app.services import Services


def register(services: Services) -> None:
    @ui.page(IMPORTS_PATH)
    async def imports_page() -> RedirectResponse | None:
        user = await current_user(services)
        if user is None:
            return RedirectResponse(f'/login?redirect_to={IMPORTS_PATH}')
        with frame('Contacts Import', user):
            ui.label('Coming soon')
        return None
