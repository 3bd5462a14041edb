"""/settings/maintenance/jobs: the General and Imports tabs, each a server-paged grid updated by push.

Tab, filters and sort live in the URL, so a view can be bookmarked and shared.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from nicegui import ui
from pydantic import ValidationError

from app.pages.api_models import FilterQuery
from app.pages.auth import CurrentUser
from app.pages.components import JobGrid, ZoneNote
from app.pages.components.job_grid import DEFAULT_SORT, PAGE_SIZE, valid_sort
from app.pages.display import API_JOBS_PATH, JOBS_PATH
from app.pages.filters import FILTERS, FilterBar
from app.pages.layout import frame
from app.pages.live import LiveUpdates
from app.services import Services
from app.storage.listing import list_jobs
from app.storage.models import Category, User
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
        view = {'sort': valid_sort(request.query_params.get('sort', DEFAULT_SORT))}
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

        def export(category: str) -> None:
            """Download every job of the tab that the filters select, in the grid's order (streamed CSV)."""
            query = urlencode({'category': category, **{k: v for k, v in filters.items() if v}, 'sort': view['sort']})
            ui.download.from_url(f'{API_JOBS_PATH}.csv?{query}')

        def remember_in_url() -> None:
            sort = {'sort': view['sort']} if view['sort'] != DEFAULT_SORT else {}
            query = urlencode({'tab': tabs.value, **{k: v for k, v in filters.items() if v}, **sort})
            ui.navigate.history.replace(f'{JOBS_PATH}?{query}')

        early: dict[int, dict[str, Any]] = {}  # pushed while the page was still being built

        def push(rows: dict[int, dict[str, Any]], _details: set[int]) -> None:
            if not grids:
                early.update(rows)
                return
            for category, grid in grids.items():
                changed = [row for row in rows.values() if row['category'] == category]
                if changed:
                    grid.apply(changed)

        def resync() -> None:
            for grid in grids.values():
                grid.resync()

        # Subscribed before the first page is read, so no change can fall between the page and the pushes.
        LiveUpdates(services, user, push, on_resync=resync)
        selected: Any = tab if tab in TABS else 'general'
        first_page = await read_first_page(services, user, TABS[selected][1], filters, view['sort'])
        with frame('Job Management', user, services):
            with ui.tabs(value=selected).classes('w-full').props('align=left') as tabs:
                for key, (label, _category) in TABS.items():
                    ui.tab(key, label)
            tabs.on_value_change(on_tab)
            bar = FilterBar(filters, job_names=jobs_by_tab[selected], usernames=usernames, on_change=on_filter)
            ZoneNote().classes('text-caption text-muted q-px-md')
            with ui.tab_panels(tabs, value=selected).classes('w-full'):
                for key, (_label, category) in TABS.items():
                    with ui.tab_panel(key).classes('job-tab-panel'):
                        ui.button('Export CSV', icon='download', on_click=lambda c=category: export(c)).props(
                            'outline no-caps dense'
                        ).classes('q-mb-sm q-px-sm').mark(f'export-{category}')
                        page = first_page if key == selected else None
                        grid = JobGrid.jobs(category, filters, sort=view['sort'], first_page=page,
                                            on_clear_filters=bar.clear, on_sort=on_sort)  # fmt: skip
                        grids[category] = grid.classes('job-grid').mark(f'jobs-{category}')
        if early:
            push(early, set())


async def read_first_page(
    services: Services, user: User, category: str, filters: dict[str, str], sort: str
) -> dict[str, Any] | None:
    """The list's first page as ``GET /api/jobs`` answers it, sent along with the page (None: let the grid ask,
    e.g. for filters the API will explain as invalid)."""
    try:
        query = FilterQuery.model_validate(filters)
    except ValidationError:
        return None
    page = await services.threads.run(
        list_jobs, services.engine, viewer=user, filters=replace(query.job_filter(), category=category),
        offset=0, limit=PAGE_SIZE, sort=sort,
    )  # fmt: skip
    return {'total': page.total, 'rows': page.rows, 'total_is_exact': page.total_is_exact}
