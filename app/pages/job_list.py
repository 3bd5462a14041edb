"""/settings/maintenance/jobs: the General and Imports tabs, each a server-paged grid updated by push.

Tab, filters and sort live in the URL, so a view can be bookmarked and shared.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from nicegui import ui

from app.pages.auth import CurrentUser
from app.pages.components import JobGrid, ZoneNote
from app.pages.components.job_grid import DEFAULT_SORT
from app.pages.display import JOBS_PATH
from app.pages.filters import FILTERS, FilterBar
from app.pages.layout import frame
from app.pages.live import LiveUpdates
from app.services import Services
from app.storage.models import Category
from app.storage.users import list_users

TABS = {'general': ('General', Category.GENERAL), 'imports': ('Imports', Category.IMPORT)}


def register(services: Services) -> None:
    jobs_by_tab = {
        tab: sorted({kind.name for kind in services.registry if kind.category == category})
        for tab, (_label, category) in TABS.items()
    }

    @ui.page(JOBS_PATH)
    async def job_management(request: Request, user: CurrentUser, tab: str = 'general') -> None:
        filters = {name: request.query_params.get(name, '') for name in FILTERS}
        view = {'sort': request.query_params.get('sort', DEFAULT_SORT)}
        grids: dict[str, JobGrid] = {}
        usernames = None
        if user.is_admin:
            usernames = [person.username for person in await services.threads.run(list_users, services.engine)]

        def on_filter(values: dict[str, str]) -> None:
            filters.update(values)
            for grid in grids.values():
                grid.set_filters(filters)
            remember_in_url()

        def on_sort(sort: str) -> None:
            view['sort'] = sort
            remember_in_url()

        def on_tab() -> None:
            bar.set_jobs(jobs_by_tab[tabs.value])
            remember_in_url()

        def remember_in_url() -> None:
            sort = {'sort': view['sort']} if view['sort'] != DEFAULT_SORT else {}
            query = urlencode({'tab': tabs.value, **{k: v for k, v in filters.items() if v}, **sort})
            ui.navigate.history.replace(f'{JOBS_PATH}?{query}')

        with frame('Job Management', user, services):
            selected: Any = tab if tab in TABS else 'general'
            with ui.tabs(value=selected).classes('w-full').props('align=left') as tabs:
                for key, (label, _category) in TABS.items():
                    ui.tab(key, label)
            tabs.on_value_change(on_tab)
            bar = FilterBar(filters, job_names=jobs_by_tab[selected], usernames=usernames, on_change=on_filter)
            ZoneNote().classes('text-caption text-grey-8 q-px-md')
            with ui.tab_panels(tabs, value=selected).classes('w-full'):
                for key, (_label, category) in TABS.items():
                    with ui.tab_panel(key).classes('job-tab-panel'):
                        grid = JobGrid.jobs(category, filters, sort=view['sort'], on_clear_filters=bar.clear,
                                            on_sort=on_sort)  # fmt: skip
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
