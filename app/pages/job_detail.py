"""/settings/maintenance/jobs/{id}: a job's fields, files and subtasks, all updated live."""

from __future__ import annotations

from typing import Any

from fastapi.responses import RedirectResponse
from nicegui import ui

from app.pages.auth import current_user
from app.pages.data import fetch
from app.pages.job_list import grid_assets
from app.pages.layout import JOBS_PATH, frame
from app.pages.live import LiveUpdates
from app.services import Services
from app.storage import jobs as queries
from app.storage.models import FileRole, Status

STATUS_TEXT: dict[str, str] = {
    Status.IN_PROGRESS: 'In Progress',
    Status.COMPLETED: 'Completed',
    Status.FAILED: 'Failed',
}
STATUS_ICON: dict[str, str] = {
    Status.IN_PROGRESS: 'autorenew',
    Status.COMPLETED: 'check_circle',
    Status.FAILED: 'cancel',
}
STATUS_CSS: dict[str, str] = {Status.IN_PROGRESS: 'running', Status.COMPLETED: 'completed', Status.FAILED: 'failed'}
FILE_SECTIONS = (
    (FileRole.INPUT, 'Input Files'),
    (FileRole.OUTPUT, 'Output Files'),
    (FileRole.ERROR_REPORT, 'Error Reports'),
)
SUBTASK_COLUMNS = [
    {'headerName': 'Task', 'field': 'name', 'flex': 1},
    {'headerName': 'Status', 'field': 'status', ':cellRenderer': 'window.jobGrids.statusRenderer', 'width': 100},
    {'headerName': 'Timestamp', 'field': 'updated_at', ':valueFormatter': 'p => window.jobGrids.formatTime(p.value)',
     'flex': 1},
    {'headerName': 'Message', 'field': 'message', 'flex': 2, 'wrapText': True, 'autoHeight': True},
]  # fmt: skip


def register(services: Services) -> None:
    @ui.page(JOBS_PATH + '/{job_id}')
    async def job_detail(job_id: str) -> RedirectResponse | None:
        user = await current_user(services)
        if user is None:
            return RedirectResponse(f'/login?redirect_to={JOBS_PATH}/{job_id}')
        grid_assets()
        detail = None
        if job_id.isdigit():
            detail = await fetch(queries.get_job, services.engine, viewer=user, job_id=int(job_id))
        if detail is None:
            ui.context.client.status_code = 404
            with frame('Job not found', user, services):
                ui.label('This job does not exist, or you may not see it.')
                ui.link('Back to Job Management', JOBS_PATH)
            return None

        with frame(f'Job {detail["id"]}', user, services):
            ui.link('← Job Management', f'{JOBS_PATH}?tab={"imports" if detail["category"] == "import" else "general"}')
            view = DetailView(detail)

        async def refresh(_rows: dict[int, dict[str, Any]], _details: set[int]) -> None:
            fresh = await fetch(queries.get_job, services.engine, viewer=user, job_id=int(job_id))
            if fresh is not None:
                view.show(fresh)

        LiveUpdates(services, user, refresh, job_id=int(job_id))
        return None


class DetailView:
    """The detail page body; ``show`` updates it in place from a fresh job detail."""

    def __init__(self, detail: dict[str, Any]) -> None:
        self.detail = detail
        with ui.card().classes('w-full'):
            self.fields = ui.element('dl').classes('job-fields')
            self.error = ui.column().classes('w-full')
        self.files = ui.row().classes('w-full gap-4 items-stretch')
        ui.html('<h2 class="text-h6 q-my-none">Subtasks</h2>', sanitize=False)
        self.subtasks = ui.aggrid(
            {
                'columnDefs': SUBTASK_COLUMNS,
                'rowData': detail['subtasks'],
                ':getRowId': 'p => String(p.data.name)',
                ':getRowClass': 'p => p.data.status === "failed" ? "subtask-failed" : ""',
                'domLayout': 'autoHeight',
                'suppressCellFocus': True,
                'overlayNoRowsTemplate': 'No subtasks have started yet',
            },
            auto_size_columns=False,
        ).classes('w-full')
        self.subtasks.mark('subtasks')
        ui.add_css(
            '.subtask-failed { background: #fdecea !important; }'
            '.job-fields { display: grid; grid-template-columns: max-content 1fr; gap: 6px 24px; margin: 0; }'
            '.job-fields dt { font-weight: 600; color: #555; } .job-fields dd { margin: 0; }'
        )
        self._render(detail)

    def show(self, detail: dict[str, Any]) -> None:
        if detail['subtasks'] != self.detail['subtasks']:
            self.subtasks.run_grid_method('setGridOption', 'rowData', detail['subtasks'])
        self.detail = detail
        self._render(detail)

    def _render(self, detail: dict[str, Any]) -> None:
        self.fields.clear()
        with self.fields:
            _field('Job ID', str(detail['id']))
            _field('Job', detail['job'])
            _field('Job Description', detail['description'])
            _time('Start', detail['started_at'])
            _time('End', detail['ended_at'], empty='Still in progress')
            with _field('Status'):
                _status(detail['status'])
                if detail['status'] == Status.IN_PROGRESS and detail['progress_total']:
                    ui.label(f'{detail["progress_done"]:,} of {detail["progress_total"]:,}').classes('q-ml-sm')
            # More than 1 when the job's worker died and it was started again on another one.
            _field('Attempts', str(detail['attempts'])).mark('attempts')
            _field('Job Run By', detail['run_by'])
            with _field('Job Run At'):
                if detail['run_at']:
                    ui.link(detail['run_at'], detail['run_at'])
            if detail['status'] == Status.FAILED:
                _time('Failed', detail['failed_at'])
                _field('Error', detail['error'] or '').classes('text-negative')
        self.error.clear()
        if detail['status'] == Status.FAILED:
            with self.error:
                ui.label('This job failed; any results it produced before failing are kept and may be partial.') \
                    .classes('text-caption text-grey-8')  # fmt: skip
        self.files.clear()
        with self.files:
            for role, title in FILE_SECTIONS:
                _file_section(title, [f for f in detail['files'] if f['role'] == role])


def _field(label: str, value: str | None = None) -> ui.element:
    with ui.element('dt').classes('text-body2'):
        ui.label(label)
    dd = ui.element('dd').classes('text-body2 flex items-center')
    if value is not None:
        with dd:
            ui.label(value)
    return dd


def _time(label: str, value: str | None, *, empty: str = '') -> None:
    """A timestamp shown in the browser's local time (converted by job_grid.js)."""
    with _field(label):
        if value:
            ui.html(f'<time class="local-time" datetime="{value}">{value}</time>', sanitize=False)
        else:
            ui.label(empty)


def _status(status: str) -> None:
    text = STATUS_TEXT.get(status, status)
    ui.icon(STATUS_ICON.get(status, 'help')).classes(f'job-status job-status--{STATUS_CSS.get(status, "failed")}') \
        .props(f'role=img aria-label="{text}" title="{text}"')  # fmt: skip
    ui.label(text).classes('q-ml-xs')


def _file_section(title: str, files: list[dict[str, Any]]) -> None:
    with ui.card().classes('file-section'):
        ui.html(f'<h2 class="text-subtitle1 text-weight-medium q-my-none">{title}</h2>', sanitize=False)
        if not files:
            ui.label('None').classes('text-grey-7')
        for file in files:
            with ui.row().classes('items-center no-wrap gap-2 w-full'):
                ui.icon('description').classes('text-grey-7')
                ui.label(file['filename']).classes('ellipsis')
                ui.label(_size(file['size'])).classes('text-caption text-grey-7')
                # A plain link styled as a button: the download works without a websocket round trip.
                label = f'Download {file["filename"]}'
                button = ui.button(icon='download').props('flat round dense role=button').tooltip(label)
                button.props.update({'href': file['url'], 'download': file['filename'], 'aria-label': label})


def _size(size: int) -> str:
    for unit in ('bytes', 'KB', 'MB', 'GB'):
        if size < 1024 or unit == 'GB':
            return f'{size:,} {unit}' if unit == 'bytes' else f'{size:.1f} {unit}'
        size /= 1024  # type: ignore[assignment]
    return str(size)
