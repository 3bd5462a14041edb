"""JobGrid: AG Grid with the job column types, and for job lists a server-paged grid updated by pushed rows."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from nicegui import Client, ui
from nicegui.dependencies import generate_resources

from app.pages.display import ROUTES, status_props

# Times are as wide as "2026-11-30 14:21:27"; Job and Description share what is left, Job first. On a phone the
# JavaScript narrows Status, Job ID and Start (short times) and hides NARROW_HIDDEN.
JOB_COLUMNS: list[dict[str, Any]] = [
    {'headerName': 'Status', 'field': 'status', 'type': 'jobStatus', 'width': 80},
    {'headerName': 'Job ID', 'field': 'id', 'type': 'jobLink', 'width': 76},
    {'headerName': 'Job', 'field': 'job', 'flex': 5, 'minWidth': 64, 'tooltipField': 'job'},
    {'headerName': 'Description', 'field': 'description', 'flex': 6, 'minWidth': 130, 'tooltipField': 'description'},
    {'headerName': 'Start', 'field': 'started_at', 'type': 'time', 'width': 144},
    {'headerName': 'End', 'field': 'ended_at', 'type': 'endTime', 'width': 144},
    {'headerName': 'Failed', 'field': 'failed_at', 'type': 'time', 'width': 144},
    {'headerName': 'Run By', 'field': 'run_by', 'width': 96, 'tooltipField': 'run_by'},
    {'headerName': 'Actions', 'colId': 'actions', 'type': 'jobDetails', 'sortable': False, 'width': 76},
]
NARROW_HIDDEN = ['description', 'ended_at', 'failed_at', 'run_by']  # on a phone: status, id, job, start, details
DEFAULT_SORT = '-started_at'
SORTABLE = {column['field'] for column in JOB_COLUMNS if 'field' in column}
SUBTASK_COLUMNS: list[dict[str, Any]] = [
    {'headerName': 'Task', 'field': 'name', 'flex': 1, 'minWidth': 140},
    {'headerName': 'Status', 'field': 'status', 'type': 'subtaskStatus', 'width': 100},
    {'headerName': 'Timestamp', 'field': 'updated_at', 'type': 'time', 'flex': 1, 'minWidth': 166},
    {'headerName': 'Message', 'field': 'message', 'flex': 2, 'minWidth': 160, 'wrapText': True, 'autoHeight': True},
]
PAGE_SIZE = 100
# The grid's own modules: its component imports them, so without a hint the browser asks for them only once the
# page's scripts have run (AG Grid, 1.1 MB, about 300 ms into a first visit).
PRELOADED_MODULES = ('nicegui-aggrid', 'job-management', 'job-management/rows.js')


def valid_sort(sort: str) -> str:
    """``sort`` if it names a sortable column (a ``-`` prefix for descending), else the default (newest first)."""
    return sort if sort.removeprefix('-') in SORTABLE else DEFAULT_SORT


class JobGrid(ui.aggrid, component='job_grid.js', esm={'job-management': 'lib'}):
    """A grid of jobs (``category`` given: rows fetched page by page from the list API with ``filters``) or of
    subtasks (``rows``). Status looks and routes come from app.pages.display as props."""

    def __init__(self, options: dict[str, Any], *, category: str | None = None, filters: dict[str, str] | None = None,
                 on_clear_filters: Callable[[], Any] | None = None) -> None:  # fmt: skip
        super().__init__(options, auto_size_columns=False)
        preload_modules(self.client)
        self._props['category'] = category
        self._props['filters'] = dict(filters or {})
        self._props['statuses'] = status_props()
        self._props['routes'] = ROUTES
        self._props['empty-text'] = 'No jobs yet'
        self._props['empty-filtered-text'] = 'No jobs match these filters'
        if on_clear_filters is not None:
            self.on('clear_filters', on_clear_filters)

    @classmethod
    def jobs(cls, category: str | None, filters: dict[str, str], *, sort: str = DEFAULT_SORT,
             first_page: dict[str, Any] | None = None, on_clear_filters: Callable[[], Any],
             on_sort: Callable[[str], Any]) -> JobGrid:  # fmt: skip
        """A job list sorted by ``sort`` (newest first by default; any column, in SQL), loaded page by page;
        ``first_page`` (the list API's answer for offset 0) spares the browser its first request."""
        sort = valid_sort(sort)
        field, direction = sort.removeprefix('-'), 'desc' if sort.startswith('-') else 'asc'
        columns = [{**column, 'sort': direction} if column.get('field') == field else column for column in JOB_COLUMNS]
        options = {
            'columnDefs': columns,
            'defaultColDef': {'sortable': True, 'resizable': True, 'sortingOrder': ['desc', 'asc']},
            'rowModelType': 'infinite',
            'cacheBlockSize': PAGE_SIZE,
            'maxBlocksInCache': 20,
            'suppressCellFocus': True,  # Tab goes from link to link in row order, as on any page
            'suppressHeaderFocus': True,
            'ensureDomOrder': True,
            'suppressColumnVirtualisation': True,  # every header stays in the DOM for screen readers and tests
            'rowHeight': 44,
            'tooltipShowDelay': 400,
            'suppressRowTransform': True,  # rows placed with `top`, not one compositor layer each: cheaper updates
        }
        grid = cls(options, category=category, filters=filters, on_clear_filters=on_clear_filters)
        grid._props['narrow-hidden'] = NARROW_HIDDEN
        grid._props['fill-viewport'] = True
        grid._props['first-page'] = first_page
        grid.on('sort', lambda event: on_sort(event.args or DEFAULT_SORT))
        return grid

    @classmethod
    def subtasks(cls, rows: list[dict[str, Any]]) -> JobGrid:
        """A job's subtasks, in order; a failed one is tinted."""
        options = {
            'columnDefs': SUBTASK_COLUMNS,
            'rowData': rows,
            'rowClassRules': {'subtask-failed': 'data.status === "failed"'},
            'domLayout': 'autoHeight',
            'suppressCellFocus': True,
            'overlayNoRowsTemplate': 'No subtasks have started yet',
        }
        grid = cls(options).classes('subtask-grid')  # as tall as its rows: nothing below it is covered
        grid._props['narrow-hidden'] = ['updated_at']  # on a phone: the step, its status and its message
        return grid

    def apply(self, rows: list[dict[str, Any]]) -> None:
        """Show pushed job rows: loaded rows change in place, a new job reloads the cached pages."""
        self.run_method('apply', rows)

    def set_filters(self, filters: dict[str, str]) -> None:
        """Fetch the list again from the top with new filters."""
        self._props['filters'] = dict(filters)
        self.run_method('set_filters', filters)

    def resync(self) -> None:
        """Fetch the cached pages again (changes may have been missed)."""
        self.run_method('resync')

    def set_rows(self, rows: list[dict[str, Any]]) -> None:
        """Replace the rows of a client-side grid (subtasks)."""
        self.options['rowData'] = rows
        self.update()


def preload_modules(client: Client) -> None:
    """Have the browser fetch the grid's modules at once, beside the page's other scripts: ``<link rel=modulepreload>``
    tags the browser finds while it reads the page's head. Their addresses are the import map's (NiceGUI's own, with
    any proxy prefix)."""
    if client.has_socket_connection or 'rel="modulepreload" data-job-grid' in client.head_html:
        return  # added to a page already shown (the modules are loaded), or a second grid on the page
    request = client.request
    prefix = quote(request.headers.get('X-Forwarded-Prefix', ''), safe="/:@!$&'()*+,;=%") + request.scope.get(
        'root_path', ''
    )
    imports = generate_resources(prefix, [])[3]
    for name in PRELOADED_MODULES:
        package, _, path = name.partition('/')
        href = imports[package] if not path else imports[f'{package}/'] + path
        ui.add_head_html(f'<link rel="modulepreload" data-job-grid href="{html.escape(href)}">')
