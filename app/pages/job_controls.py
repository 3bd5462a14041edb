"""A job's detail page, live parts: progress bar with ETA, duration, and the "Cancel job" / "Run again" buttons."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from nicegui import ui

from app.jobs.actions import InputMissing, NotRunning, StillRunning
from app.jobs.store import AlreadyRunning
from app.pages.auth import current_user
from app.pages.display import job_path
from app.services import Services
from app.storage.models import Status, User, utcnow
from app.units import duration_text

log = logging.getLogger('app.pages')


def eta_text(seconds: float | None) -> str:
    """``about 3 min left`` / ``about 40 s left``, or '' while unknown."""
    if seconds is None:
        return ''
    if seconds >= 90:
        return f'about {round(seconds / 60)} min left'
    return f'about {max(1, round(seconds))} s left'


def percent_text(percent: float) -> str:
    """The percent as the grid shows it (whole percents, never rounded up to 100 before the end)."""
    return f'{int(percent)}%'


def duration_of(detail: dict[str, Any], now: datetime | None = None) -> float:
    """Seconds from start to end, or to now while the job runs."""
    started = datetime.fromisoformat(detail['started_at'])
    ended = datetime.fromisoformat(detail['ended_at']) if detail['ended_at'] else (now or utcnow())
    return max(0.0, (ended - started).total_seconds())


class JobControls:
    """Progress and Duration (updated in place, live), and the buttons to cancel or rerun the job."""

    def __init__(self, services: Services, user: User, detail: dict[str, Any]) -> None:
        """Builds the Progress and Duration fields here (inside the page's ``dl``); ``add_buttons`` the buttons."""
        self.services, self.user, self.detail = services, user, detail
        with ui.element('div').classes('contents'):  # its dt/dd line up with the other fields
            self.progress_label = _dt('Progress')
            with ui.element('dd').classes('text-body2 flex items-center gap-2').mark('progress') as self.progress_row:
                self.bar = ui.linear_progress(value=0, show_value=False).props('instant-feedback size=10px')
                self.bar.classes('job-progress-bar').props('aria-label=Progress')
                self.percent = ui.label().mark('progress-percent')
                self.eta = ui.label().classes('text-muted whitespace-nowrap').mark('progress-eta')
            _dt('Duration')
            with ui.element('dd').classes('text-body2'):
                self.duration = ui.label().mark('duration')
        self.timer = ui.timer(1.0, self._tick)

    def add_buttons(self) -> None:
        """The "Cancel job" and "Run again" buttons, where the page wants them."""
        with ui.row().classes('gap-2 q-mt-sm'):
            self.cancel_button = ui.button('Cancel job', icon='stop_circle', on_click=self._confirm_cancel)
            self.cancel_button.props('outline color=negative')
            self.rerun_button = ui.button('Run again', icon='replay', on_click=self._rerun).props('outline')
        self.show(self.detail)

    def show(self, detail: dict[str, Any]) -> None:
        self.detail = detail
        running = detail['status'] == Status.IN_PROGRESS
        progress = detail['progress']
        for element in (self.progress_label, self.progress_row):
            element.set_visibility(progress is not None)
        if progress is not None:
            self.bar.value = progress['percent'] / 100
            self.percent.text = percent_text(progress['percent'])
            parts = [detail['progress_step'] or '', eta_text(progress['eta_seconds'])] if running else []
            self.eta.text = ' · '.join(part for part in parts if part)
        self._tick()
        self.timer.active = running  # an ended job's duration stands still
        self.cancel_button.set_visibility(running)
        self.cancel_button.set_enabled(not detail['cancelled_by'])  # asked already: it stops within seconds
        self.rerun_button.set_visibility(not running and self.services.actions.may_rerun(self.user, detail['job_type']))

    def _tick(self) -> None:
        self.duration.text = duration_text(duration_of(self.detail))

    def _confirm_cancel(self) -> None:
        with ui.dialog() as dialog, ui.card():
            ui.label(f'Cancel job {self.detail["id"]}?').classes('text-h6')
            ui.label('It stops at its next step or batch; what it has done so far is kept.')
            with ui.row().classes('w-full justify-end'):
                ui.button('Keep running', on_click=lambda: _dismiss(dialog)).props('flat')
                ui.button('Yes, cancel', on_click=lambda: self._cancel(dialog)).props('color=negative')
        dialog.open()

    async def _cancel(self, dialog: ui.dialog) -> None:
        _dismiss(dialog)
        user = await current_user(self.services)  # the session may have ended since the page was built
        if user is None:
            ui.navigate.to('/login')
            return
        try:
            row = await self.services.actions.cancel(user, self.detail['id'])
        except NotRunning:
            ui.notify('The job has already ended', type='warning')
            return
        if row is None:
            ui.notify('Job not found', type='negative')
            return
        ui.notify(f'Cancelling job {self.detail["id"]}…', type='info')

    async def _rerun(self) -> None:
        user = await current_user(self.services)
        if user is None:
            ui.navigate.to('/login')
            return
        try:
            new_id = await self.services.actions.rerun(user, self.detail['id'])
        except StillRunning:
            ui.notify('The job is still running', type='warning')
            return
        except (AlreadyRunning, InputMissing) as refused:
            ui.notify(str(refused), type='warning')
            return
        except Exception as error:
            log.exception('could not rerun job %s', self.detail['id'])
            ui.notify(f'The job could not be run again: {error}', type='negative')
            return
        if new_id is None:
            ui.notify('You may not run this job again', type='negative')
            return
        ui.navigate.to(job_path(new_id))


def _dismiss(dialog: ui.dialog) -> None:
    dialog.close()
    dialog.delete()  # built again on the next click; a closed one would linger in the page


def _dt(label: str) -> ui.element:
    with ui.element('dt').classes('text-body2') as term:
        ui.label(label)
    return term
