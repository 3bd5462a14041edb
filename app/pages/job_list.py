"""/settings/maintenance/jobs: the General and Imports tabs, each a server-paged grid updated by push."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from nicegui import ui

from app.pages.auth import CurrentUser
from app.pages.components import JobGrid
from app.pages.display import JOBS_PATH
from app.pages.filters import FILTERS, FilterBar
from app.pages.layout import frame
from app.pages.live import LiveUpdates
from app.services import Services
from app.storage.models import Category

TABS = {'general': ('General', Category.GENERAL), 'imports': ('Imports', Category.IMPORT)}


def register(services: Services) -> None:
    @ui.page(JOBS_PATH)
    async def job_management(request: Request, user: CurrentUser, tab: str = 'general') -> None:
        filters = {name: request.query_params.get(name, '') for name in FILTERS}
        grids: dict[str, JobGrid] = {}

        def on_filter(values: dict[str, str]) -> None:
            filters.update(values)
            for grid in grids.values():
                grid.set_filters(filters)
            remember_in_url()

        def remember_in_url() -> None:
            query = urlencode({'tab': tabs.value, **{k: v for k, v in filters.items() if v}})
            ui.navigate.history.replace(f'{JOBS_PATH}?{query}')

        with frame('Job Management', user, services):
            selected: Any = tab if tab in TABS else 'general'
            with ui.tabs(value=selected).classes('w-full').props('align=left') as tabs:
                for key, (label, _category) in TABS.items():
                    ui.tab(key, label)
            tabs.on_value_change(remember_in_url)
            bar = FilterBar(filters, job_names=sorted({t.name for t in services.registry}), admin=user.is_admin,
                            on_change=on_filter)  # fmt: skip
            with ui.tab_panels(tabs, value=selected).classes('w-full'):
                for key, (_label, category) in TABS.items():
                    with ui.tab_panel(key).classes('q-pa-none'):
                        grid = JobGrid.jobs(category, filters, on_clear_filters=bar.clear)
                        grids[category] = grid.classes('job-grid').mark(f'jobs-{category}')

        def push(rows: dict[int, dict[str, Any]], _details: set[int]) -> None:
            for category, grid in grids.items():
                changed = [row for row in rows.values() if row['category'] == category]
                if changed:
                    grid.apply(changed)

        def resync() -> None:
            for grid in grids.values():
                grid.resync()

        LiveUpdates(services, user, push, on_resync=resync)
