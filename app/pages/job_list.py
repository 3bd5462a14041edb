"""/settings/maintenance/jobs: the General and Imports tabs, each a server-paged grid updated by push."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from app.pages.auth import current_user
from app.pages.filters import FILTERS, FilterBar
from app.pages.layout import JOBS_PATH, frame
from app.pages.live import LiveUpdates
from app.services import Services
from app.storage.models import Category

ASSETS = Path(__file__).parent
TABS = {'general': ('General', Category.GENERAL), 'imports': ('Imports', Category.IMPORT)}


def grid_assets() -> None:
    """The grid's renderers and styles, inlined once per page."""
    ui.add_head_html(f'<script>{(ASSETS / "job_grid.js").read_text()}</script>')
    ui.add_css((ASSETS / 'job_grid.css').read_text())


def job_columns() -> list[dict[str, Any]]:
    time = {':valueFormatter': 'p => window.jobGrids.formatTime(p.value)', 'flex': 1, 'minWidth': 166}
    return [
        {'headerName': 'Status', 'field': 'status', ':cellRenderer': 'window.jobGrids.statusRenderer', 'width': 78},
        {'headerName': 'Job ID', 'field': 'id', 'width': 80},
        {'headerName': 'Job', 'field': 'job', 'flex': 1, 'minWidth': 100},
        {'headerName': 'Description', 'field': 'description', 'flex': 2, 'minWidth': 110,
         'tooltipField': 'description'},
        {'headerName': 'Start', 'field': 'started_at', 'sort': 'desc', **time},
        {**time, 'headerName': 'End', 'field': 'ended_at', ':valueFormatter': 'window.jobGrids.endFormatter'},
        {'headerName': 'Failed', 'field': 'failed_at', **time},
        {'headerName': 'Run By', 'field': 'run_by', 'width': 96},
        {'headerName': 'Actions', 'colId': 'actions', 'sortable': False, 'width': 80,
         ':cellRenderer': 'window.jobGrids.actionsRenderer'},
    ]  # fmt: skip


def register(services: Services) -> None:
    @ui.page(JOBS_PATH)
    async def job_management(request: Request, tab: str = 'general') -> RedirectResponse | None:
        user = await current_user(services)
        if user is None:
            return RedirectResponse(f'/login?redirect_to={JOBS_PATH}')
        grid_assets()
        grids: dict[str, ui.aggrid] = {}
        filters = {name: request.query_params.get(name, '') for name in FILTERS}

        def on_filter(values: dict[str, str]) -> None:
            filters.update(values)
            for category, grid in grids.items():
                ui.run_javascript(
                    f'window.jobGrids.setFilters({grid.id}, {json.dumps(category)}, {json.dumps(filters)})'
                )
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
            FilterBar(filters, job_names=sorted({t.name for t in services.registry}), admin=user.is_admin,
                      on_change=on_filter)  # fmt: skip
            with ui.tab_panels(tabs, value=selected).classes('w-full'):
                for key, (_label, category) in TABS.items():
                    with ui.tab_panel(key).classes('q-pa-none'):
                        grids[category] = _job_grid(category, filters)

        async def push(rows: dict[int, dict[str, Any]], _details: set[int]) -> None:
            for category, grid in grids.items():
                changed = [row for row in rows.values() if row['category'] == category]
                if changed:
                    ui.run_javascript(
                        f'window.jobGrids.apply({grid.id}, {json.dumps(category)}, {json.dumps(changed)})'
                    )

        def resync() -> None:
            for grid in grids.values():
                ui.run_javascript(f'window.jobGrids.refresh({grid.id})')

        LiveUpdates(services, user, push, on_resync=resync)
        return None


def _job_grid(category: str, filters: dict[str, str]) -> ui.aggrid:
    empty_id = f'no-jobs-{category}'
    options = {
        'columnDefs': job_columns(),
        'defaultColDef': {'sortable': True, 'resizable': True, 'sortingOrder': ['desc', 'asc']},
        'rowModelType': 'infinite',
        'cacheBlockSize': 100,
        'maxBlocksInCache': 20,
        ':getRowId': 'p => String(p.data.id)',
        ':datasource': f'window.jobGrids.datasource({json.dumps(category)}, {json.dumps(empty_id)}, '
        f'{json.dumps(filters)})',
        'suppressCellFocus': True,
        'suppressColumnVirtualisation': True,  # every header stays in the DOM for screen readers and tests
        'rowHeight': 44,
        'tooltipShowDelay': 400,
        'suppressRowTransform': True,  # rows placed with `top`, not one compositor layer each: cheaper updates
    }
    with ui.element('div').classes('relative w-full'):
        grid = ui.aggrid(options, auto_size_columns=False).classes('job-grid')
        # Shown by the datasource when the first page says there are no jobs (the grid itself stays blank).
        ui.label('No jobs yet').classes(f'{empty_id} absolute-center text-grey-7 text-subtitle1').style('display: none')
    grid.mark(f'jobs-{category}')
    return grid
