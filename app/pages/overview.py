"""/settings/maintenance/overview: "Job Overview", how the jobs one may see are doing, live.

Counters by status, a chart of jobs over time stacked by status, and a table per job (runs, failures, durations,
last run), for the last 24 hours, 7 days or 30 days. Counters and rows open Job Management filtered to the same
jobs. The figures come from rollups the database keeps as jobs start and end (app/storage/stats.py), so the page
costs the same at a million jobs as at ten.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from nicegui import ui

from app.pages.auth import CurrentUser
from app.pages.display import JOBS_PATH, OVERVIEW_PATH, STATUS_LOOKS
from app.pages.layout import frame
from app.pages.live import LiveUpdates
from app.services import Services
from app.storage.models import Category, Status, User
from app.storage.stats import job_stats
from app.units import NONE, duration_text, relative_text

ROW_CLICK_JS = '(event, row) => { if (!event.target.closest("a")) window.location.assign(row.href) }'
WINDOWS = {'24h': '24 hours', '7d': '7 days', '30d': '30 days'}
REFRESH_AFTER_CHANGE = 2.0  # seconds: at most one re-read per this while jobs keep changing
REFRESH_ANYWAY = 60.0  # the window moves on even when nothing changes
TABS = {Category.GENERAL: ('general', 'General'), Category.IMPORT: ('imports', 'Imports')}
CHART_COLOURS = {Status.COMPLETED: '#21ba45', Status.FAILED: '#c10015', Status.IN_PROGRESS: '#1976d2'}
TABLE_COLUMNS = [
    {'name': 'job', 'label': 'Job', 'field': 'job', 'align': 'left'},
    {'name': 'runs', 'label': 'Runs', 'field': 'runs'},
    {'name': 'failed', 'label': 'Failed', 'field': 'failed'},
    {'name': 'rate', 'label': 'Failure rate', 'field': 'rate'},
    {'name': 'p50', 'label': 'Median duration', 'field': 'p50'},
    # On a phone (Quasar's gt-xs: wider than 599 px only) the table keeps job, runs, failures and the median.
    {'name': 'p95', 'label': '95th percentile duration', 'field': 'p95', 'classes': 'gt-xs', 'headerClasses': 'gt-xs'},
    {'name': 'last', 'label': 'Last run', 'field': 'last', 'classes': 'gt-xs', 'headerClasses': 'gt-xs'},
]


def register(services: Services) -> None:
    @ui.page(OVERVIEW_PATH)
    async def overview(user: CurrentUser, window: str = '24h') -> None:
        with frame('Job Overview', user, services):
            view = OverviewView(services, user, window if window in WINDOWS else '24h')
        await view.refresh()
        LiveUpdates(services, user, view.changed)
        ui.timer(REFRESH_ANYWAY, view.refresh)


class OverviewView:
    def __init__(self, services: Services, user: User, window: str) -> None:
        self.services, self.user, self.window = services, user, window
        self._refreshing: asyncio.Task[None] | None = None
        self._last_refresh = 0.0
        ui.toggle(WINDOWS, value=window, on_change=lambda e: self.choose(e.value)).props('no-caps').mark('window')
        with ui.element('div').classes('overview-counters'):
            self.counters = {status: Counter(look.text, status) for status, look in STATUS_LOOKS.items()}
        with ui.card().classes('w-full'):
            ui.html('<h2 class="text-h6 q-my-none">Jobs over time</h2>', sanitize=False)
            self.chart = ui.echart(_chart_options()).classes('w-full overview-chart')
        with ui.card().classes('w-full'):
            ui.html('<h2 class="text-h6 q-my-none">By job</h2>', sanitize=False)
            self.table = ui.table(columns=TABLE_COLUMNS, rows=[], row_key='key').props('flat dense wrap-cells')
            self.table.classes('w-full').mark('by-job')
            self.table.add_slot('body-cell-job', '<q-td :props="props"><a :href="props.row.href">{{ props.value }}'
                                '</a></q-td>')  # fmt: skip
            self.table.props('no-data-label="No jobs in this window"')
            # A click anywhere on a row opens the list (the job name is also a link, for keyboard and new tabs).
            self.table.on('rowClick', js_handler=ROW_CLICK_JS)
            self.table.classes('overview-by-job')

    async def choose(self, window: str) -> None:
        self.window = window
        ui.navigate.history.replace(f'{OVERVIEW_PATH}?{urlencode({"window": window})}')
        await self.refresh()

    async def changed(self, rows: dict[int, dict[str, Any]], _details: set[int]) -> None:
        """Jobs changed: read the figures again, at most once per REFRESH_AFTER_CHANGE seconds."""
        if not rows or (self._refreshing is not None and not self._refreshing.done()):
            return
        wait = self._last_refresh + REFRESH_AFTER_CHANGE - asyncio.get_running_loop().time()
        if wait > 0:
            self._refreshing = asyncio.ensure_future(self._refresh_later(wait))
        else:
            await self.refresh()

    async def _refresh_later(self, wait: float) -> None:
        await asyncio.sleep(wait)
        await self.refresh()

    async def refresh(self) -> None:
        self._last_refresh = asyncio.get_running_loop().time()
        figures = await self.services.threads.run(job_stats, self.services.engine, viewer=self.user, window=self.window)
        start = figures['series'][0]['start']
        for status, counter in self.counters.items():
            counter.show(figures['counts'][status], start, figures['by_job'])
        self.chart.options['series'] = _chart_series(figures['series'])
        self.chart.options['xAxis']['minInterval'] = 3600_000 if self.window == '24h' else 86400_000
        self.chart.update()
        self.table.rows = [_table_row(job, start) for job in figures['by_job']]
        self.table.update()


class Counter:
    """One status's count in the window, split by tab, each linking to Job Management filtered to those jobs."""

    def __init__(self, label: str, status: str) -> None:
        self.status = status
        with ui.card().classes('overview-counter').mark(f'counter-{status}'):
            ui.label(label).classes('text-subtitle2 text-muted')
            # The count itself opens Job Management too (on the tab holding most of these jobs); the links below
            # name each tab.
            self.total = ui.link('0', jobs_link('general', status=status)).mark(f'count-{status}')
            self.total.classes('text-h4 overview-count no-underline self-start')
            self.links = ui.row().classes('gap-x-3 gap-y-0 text-caption')

    def show(self, count: int, start: str, jobs: list[dict[str, Any]]) -> None:
        self.total.text = f'{count:,}'
        by_tab = {
            tab: sum(job[self.status] for job in jobs if job['category'] == category)
            for category, (tab, _label) in TABS.items()
        }
        busiest = max(by_tab, key=lambda tab: by_tab[tab])  # the first (General) on a tie
        self.total.props['href'] = jobs_link(busiest, since=start, status=self.status)
        self.total.update()
        self.links.clear()
        with self.links:
            for tab, label in TABS.values():
                ui.link(f'{label} {by_tab[tab]:,}', jobs_link(tab, since=start, status=self.status))


def jobs_link(tab: str, **filters: str) -> str:
    """Job Management on ``tab`` with ``filters``, as a bookmarkable URL."""
    return f'{JOBS_PATH}?{urlencode({"tab": tab, **filters})}'


def _table_row(job: dict[str, Any], start: str) -> dict[str, Any]:
    runs, failed = job['runs'], job['failed']
    tab = TABS.get(job['category'], TABS[Category.GENERAL])[0]
    last = datetime.fromisoformat(job['last_run']) if job['last_run'] else None
    return {
        'key': f'{job["category"]}:{job["job"]}',
        'job': job['job'],
        'href': jobs_link(tab, job=job['job'], since=start),
        'runs': f'{runs:,}',
        'failed': f'{failed:,}',
        'rate': f'{100 * failed / runs:.1f} %' if runs else NONE,
        'p50': duration_text(job['p50_seconds']),
        'p95': duration_text(job['p95_seconds']),
        'last': relative_text(last) if last is not None else NONE,
    }


def _chart_options() -> dict[str, Any]:
    return {
        'aria': {'enabled': True},
        'tooltip': {'trigger': 'axis'},
        'legend': {'bottom': 0},
        'grid': {'left': 48, 'right': 16, 'top': 16, 'bottom': 48},
        'xAxis': {'type': 'time'},
        'yAxis': {'type': 'value', 'minInterval': 1},
        'series': [],
    }


def _chart_series(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    stamps = [int(datetime.fromisoformat(bucket['start']).timestamp() * 1000) for bucket in series]
    return [
        {
            'name': STATUS_LOOKS[status].text,
            'type': 'bar',
            'stack': 'jobs',
            'barMaxWidth': 28,
            'itemStyle': {'color': CHART_COLOURS[status]},
            'data': [[stamp, bucket[status]] for stamp, bucket in zip(stamps, series, strict=True)],
        }
        for status in (Status.COMPLETED, Status.FAILED, Status.IN_PROGRESS)
    ]
