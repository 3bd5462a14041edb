"""/settings/maintenance/tasks (admins only): system tasks with their schedule, last run and "Run now"."""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from nicegui import ui

from app.jobs.registry import JobType
from app.jobs.service import AlreadyRunning
from app.jobs.system_tasks import TASKS
from app.pages.auth import AdminUser, current_user
from app.pages.components import LocalTime, StatusIcon
from app.pages.display import TASKS_PATH, job_path
from app.pages.layout import frame
from app.pages.live import LiveUpdates
from app.services import Services
from app.storage import maintenance

log = logging.getLogger('app.pages')
STATE_INTERVAL = 1.0  # seconds; "is it running" is one indexed query (jobs may run on other nodes)
NOT_SHOWN = object()
DAY_NAMES = ('Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday')


def register(services: Services) -> None:
    @ui.page(TASKS_PATH)
    async def system_tasks_page(user: AdminUser) -> None:
        tasks = [services.registry.get(task.key) for task in TASKS]
        keys = [task.key for task in tasks]
        latest = await services.threads.run(maintenance.latest_jobs, services.engine, viewer=user, job_types=keys)

        async def run_now(task: JobType) -> None:
            admin = await current_user(services)  # the role may have changed since the page was built
            if admin is None or not admin.is_admin or admin.id is None:
                ui.notify('Only admins may run system tasks', type='negative')
                return
            rows[task.key].show_running(True)
            try:
                # exclusive: two admins clicking at once, or a click racing the schedule, still start one job
                job_id = await services.jobs.launch(
                    task.key, description=task.summary, run_by_id=admin.id, run_at=TASKS_PATH, exclusive=True
                )
            except AlreadyRunning:
                ui.notify(f'{task.name} is already running', type='warning')
                return
            except Exception as error:
                log.exception('could not start %s', task.name)
                ui.notify(f'{task.name} could not be started: {error}', type='negative')
                await show_state()
                return
            ui.notify(f'{task.name} started as job {job_id}', type='positive')

        with frame('System Tasks', user, services):
            ui.label('Scheduled runs are run by the user "system". Times are shown in your local time.') \
                .classes('text-body2 text-muted')  # fmt: skip
            rows = {task.key: TaskRow(task, services.schedules.get(task.key, ''), run_now) for task in tasks}
        by_name = {task.name: task.key for task in tasks}

        async def show_state() -> None:
            running = await services.jobs.running_types(list(rows))
            for key, row in rows.items():
                row.show_running(key in running)
                row.show_next_run(services.jobs.next_run(key))

        async def on_flush(changed: dict[int, dict[str, Any]], _details: set[int]) -> None:
            for job_row in sorted(changed.values(), key=lambda r: r['id']):
                if job_row['job'] in by_name:
                    rows[by_name[job_row['job']]].show_last_run(job_row)
            await show_state()

        for key, row in rows.items():
            row.show_last_run(latest.get(key))
        await show_state()
        LiveUpdates(services, user, on_flush)
        ui.timer(STATE_INTERVAL, show_state)


class TaskRow:
    """One system task: name, description, schedule, next and last run, and its "Run now" button."""

    def __init__(self, task: JobType, cron: str, run_now: Callable[[JobType], Awaitable[None]]) -> None:
        self._last_id = 0
        self._running: bool | None = None
        self._next_run: object = NOT_SHOWN
        with ui.card().classes('w-full').mark(f'task-{task.key}'):
            with ui.row().classes('w-full items-center gap-6'):
                with ui.column().classes('gap-1 task-summary'):
                    ui.html(f'<h2 class="text-subtitle1 text-weight-medium q-my-none">{html.escape(task.name)}</h2>',
                            sanitize=False)  # fmt: skip
                    ui.label(task.summary).classes('text-body2 text-muted')
                with _cell('Schedule'):
                    ui.label(describe_schedule(cron)).tooltip(f'cron: {cron}' if cron.strip() else 'No cron set')
                    # A fixed time of day in the viewer's zone too, read off the next run ("= 03:00 CET").
                    self.local_schedule_shown = _at_fixed_time(cron)
                    with ui.row().classes('items-center gap-1 text-caption text-muted') as local:
                        ui.label('=')
                        self.local_schedule = LocalTime(None, clock=True)
                    local.set_visibility(self.local_schedule_shown)
                with _cell('Next run'):
                    self.next_run = LocalTime(None, relative=True)
                    self.not_scheduled = ui.label('Not scheduled').classes('text-muted')
                with _cell('Last run'):
                    self.last_run = ui.row().classes('items-center gap-x-2 gap-y-0')
                self.button = ui.button('Run now', icon='play_arrow', on_click=lambda: run_now(task)).props('no-caps')
                self.button.mark(f'run-{task.key}')

    def show_last_run(self, row: dict[str, Any] | None) -> None:
        """Show the newest job of this task (older rows arriving late are ignored)."""
        if row is not None and row['id'] < self._last_id:
            return
        self.last_run.clear()
        with self.last_run:
            if row is None:
                ui.label('Never').classes('text-muted')
                return
            self._last_id = row['id']
            StatusIcon(row['status'])
            ui.link(f'Job {row["id"]}', job_path(row['id'])).classes('whitespace-nowrap')
            LocalTime(row['ended_at'] or row['started_at'], relative=True).classes('text-caption text-muted basis-full')

    def show_running(self, running: bool) -> None:
        if running == self._running:
            return
        self._running = running
        self.button.set_text('Running…' if running else 'Run now')
        self.button.props(f'icon={"hourglass_top" if running else "play_arrow"}')
        self.button.set_enabled(not running)

    def show_next_run(self, when: datetime | None) -> None:
        if when == self._next_run:
            return
        self._next_run = when
        self.next_run.set_value(when.isoformat() if when is not None else None)
        if self.local_schedule_shown:
            self.local_schedule.set_value(when.isoformat() if when is not None else None)
        self.not_scheduled.set_visibility(when is None)


def _cell(caption: str) -> ui.column:
    column = ui.column().classes('gap-0 task-field')
    with column:
        ui.label(caption).classes('text-caption text-weight-medium text-muted')
    return column


def describe_schedule(cron: str) -> str:
    """A crontab line (minute hour day month weekday, UTC) in words, for the common shapes."""
    fields = cron.split()
    if not fields:
        return 'Not scheduled'
    if len(fields) == 5:
        minute, hour, day, month, weekday = fields
        if minute.isdigit() and hour.isdigit():
            at = f'{int(hour):02d}:{int(minute):02d} UTC'
            if day == month == weekday == '*':
                return f'Daily at {at}'
            if day == month == '*' and _weekday(weekday):
                return f'Weekly on {_weekday(weekday)} at {at}'
            if month == weekday == '*' and day.isdigit():
                return f'Monthly on day {day} at {at}'
        if minute.isdigit() and hour == day == month == weekday == '*':
            return f'Hourly at minute {minute}'
    return f'cron "{cron}" (UTC)'


def _at_fixed_time(cron: str) -> bool:
    """Whether a crontab line fires at one time of day (a digit minute and hour)."""
    fields = cron.split()
    return len(fields) == 5 and fields[0].isdigit() and fields[1].isdigit()


def _weekday(field: str) -> str | None:
    """The day a crontab weekday field names (0 and 7 are Sunday, or ``sun``...``sat``), else None."""
    if field.isdigit():
        return DAY_NAMES[int(field) % 7] if int(field) <= 7 else None
    return next((name for name in DAY_NAMES if name[:3].lower() == field.lower()), None)
