"""/settings/maintenance/jobs/{id}: a job's fields, files and subtasks, all updated live."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from app.pages.auth import CurrentUser
from app.pages.components import JobGrid, LocalTime, StatusIcon
from app.pages.display import JOBS_PATH, job_path, status_text
from app.pages.job_controls import JobControls
from app.pages.job_log_view import LogView
from app.pages.layout import frame, not_found
from app.pages.live import LiveUpdates
from app.pages.params import parse_id
from app.services import Services
from app.storage import jobs as queries
from app.storage.models import FileRole, Status, User
from app.units import size_text

# Row fields that change while a job runs and are shown in place (JobControls, LogView), not by rebuilding the fields.
LIVE_FIELDS = ('progress', 'progress_done', 'progress_total', 'progress_step', 'log_seq')
FILE_SECTIONS = (
    (FileRole.INPUT, 'Input Files'),
    (FileRole.OUTPUT, 'Output Files'),
    (FileRole.ERROR_REPORT, 'Error Reports'),
)


def register(services: Services) -> None:
    @ui.page(JOBS_PATH + '/{job_id}')
    async def job_detail(job_id: str, user: CurrentUser) -> None:
        number = parse_id(job_id)
        detail = None if number is None else await read_job(services, user, number)
        if number is None or detail is None:
            not_found(user, services, heading='Job not found', what='job')
            return

        with frame(f'Job {detail["id"]}', user, services):
            tab = 'imports' if detail['category'] == 'import' else 'general'
            ui.link('← Job Management', f'{JOBS_PATH}?tab={tab}')
            view = DetailView(services, user, detail)
        await view.logs.follow(detail['log_seq'])

        async def refresh(rows: dict[int, dict[str, Any]], details: set[int]) -> None:
            if not details and number in rows:  # only the job's row changed (progress, log): no need to read more
                fresh: dict[str, Any] | None = {**view.detail, **rows[number]}
            else:
                fresh = await read_job(services, user, number)
            if fresh is not None:
                view.show(fresh)
                await view.logs.follow(fresh['log_seq'])

        LiveUpdates(services, user, refresh, job_id=number)


async def read_job(services: Services, user: User, job_id: int) -> dict[str, Any] | None:
    detail: dict[str, Any] | None = await services.threads.run(
        queries.get_job, services.engine, viewer=user, job_id=job_id
    )
    return detail


class DetailView:
    """The detail page body; ``show`` updates it in place from a fresh job detail."""

    def __init__(self, services: Services, user: User, detail: dict[str, Any]) -> None:
        self.detail = detail
        with ui.card().classes('w-full'):
            with ui.element('dl').classes('job-fields'):
                self.fields = ui.element('div').classes('contents')  # rebuilt when they change
                self.controls = JobControls(services, user, detail)  # updated in place, live
            self.controls.add_buttons()
            self.error = ui.column().classes('w-full')
        self.files = ui.row().classes('w-full gap-4 items-stretch')
        ui.html('<h2 class="text-h6 q-my-none">Subtasks</h2>', sanitize=False)
        self.subtasks = JobGrid.subtasks(detail['subtasks']).classes('w-full').mark('subtasks')
        self.logs = LogView(services, user, detail['id'])
        self._render(detail)

    def show(self, detail: dict[str, Any]) -> None:
        if detail['subtasks'] != self.detail['subtasks']:
            self.subtasks.set_rows(detail['subtasks'])
        changed = _without_live(detail) != _without_live(self.detail)
        self.detail = detail
        self.controls.show(detail)
        if changed:
            self._render(detail)

    def _render(self, detail: dict[str, Any]) -> None:
        self.fields.clear()
        with self.fields:
            _field('Job ID', str(detail['id']))
            _field('Job', detail['job'])
            _field('Job Description', detail['description'])
            _time('Start', detail['started_at'], relative=True)
            _time('End', detail['ended_at'], empty='Still in progress', relative=True)
            with _field('Status'):
                _status(detail['status'])
            # More than 1 when the job's worker died and it was started again on another one.
            _field('Attempts', str(detail['attempts'])).mark('attempts')
            _field('Job Run By', detail['run_by'])
            with _field('Job Run At'):
                if detail['run_at']:
                    ui.link(detail['run_at'], detail['run_at'])
            if detail['status'] == Status.FAILED:
                _time('Failed', detail['failed_at'])
                _field('Error', detail['error'] or '').classes('text-error')
            if detail['rerun_of'] is not None:
                with _field('Rerun of'):
                    ui.link(f'Job {detail["rerun_of"]}', job_path(detail['rerun_of']))
            if detail['reruns']:
                with _field('Reruns').classes('gap-3'):
                    for rerun in detail['reruns']:
                        ui.link(f'Job {rerun}', job_path(rerun))
        self.error.clear()
        if detail['status'] == Status.FAILED:
            with self.error:
                ui.label('This job failed; any results it produced before failing are kept and may be partial.') \
                    .classes('text-caption text-muted')  # fmt: skip
        self.files.clear()
        with self.files:
            for role, title in FILE_SECTIONS:
                _file_section(title, [f for f in detail['files'] if f['role'] == role])


def _without_live(detail: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in detail.items() if key not in LIVE_FIELDS}


def _field(label: str, value: str | None = None) -> ui.element:
    with ui.element('dt').classes('text-body2'):
        ui.label(label)
    dd = ui.element('dd').classes('text-body2 flex items-center')
    if value is not None:
        with dd:
            ui.label(value)
    return dd


def _time(label: str, value: str | None, *, empty: str = '', relative: bool = False) -> None:
    with _field(label):
        if value:
            LocalTime(value, relative=relative)
        else:
            ui.label(empty)


def _status(status: str) -> None:
    StatusIcon(status)
    ui.label(status_text(status)).classes('q-ml-xs')


def _file_section(title: str, files: list[dict[str, Any]]) -> None:
    with ui.card().classes('file-section'):
        ui.html(f'<h2 class="text-subtitle1 text-weight-medium q-my-none">{title}</h2>', sanitize=False)
        if not files:
            ui.label('None').classes('text-muted')
        for file in files:
            with ui.row().classes('items-center no-wrap gap-2 w-full'):
                ui.icon('description').classes('text-muted')
                ui.label(file['filename']).classes('ellipsis')
                ui.label(size_text(file['size'])).classes('text-caption text-muted')
                # A plain link styled as a button: the download works without a websocket round trip.
                label = f'Download {file["filename"]}'
                button = ui.button(icon='download').props('flat round dense role=button').tooltip(label)
                button.props.update({'href': file['url'], 'download': file['filename'], 'aria-label': label})
