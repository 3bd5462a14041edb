"""The newest imports of the user on /imports, read from the database and kept current by push."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from app.pages.components import LocalTime, StatusIcon
from app.pages.display import job_path, status_text
from app.pages.job_controls import eta_text, percent_text
from app.services import Services
from app.storage.listing import JobFilter, list_jobs
from app.storage.models import Category, Status, User

SHOWN = 20


class RecentImports:
    """This user's newest imports (their own, admins included), newest first: status, progress, link."""

    def __init__(self, services: Services, user: User) -> None:
        self.services, self.user = services, user
        self.cards: dict[int, JobStatus] = {}
        ui.html('<h2 class="text-h6 q-my-none">Your recent imports</h2>', sanitize=False)
        self.empty = ui.label('None yet: the files you import appear here.').classes('text-muted')
        self.list = ui.column().classes('w-full max-w-3xl gap-2').mark('recent-imports')

    async def load(self) -> None:
        mine = JobFilter(category=Category.IMPORT, run_by=self.user.username)
        page = await self.services.threads.run(
            list_jobs, self.services.engine, viewer=self.user, filters=mine, limit=SHOWN
        )
        for row in reversed(page.rows):
            self.show(row)

    def show(self, row: dict[str, Any]) -> None:
        """A new or changed import of this user: its card, newest on top (only the newest SHOWN are kept)."""
        if row['category'] != Category.IMPORT or row['run_by'] != self.user.username:
            return
        card = self.cards.get(row['id'])
        if card is None:
            if self.cards and row['id'] < min(self.cards) and len(self.cards) >= SHOWN:
                return  # older than every card shown
            with self.list:
                card = self.cards[row['id']] = JobStatus(row)
            for position, job_id in enumerate(sorted(self.cards, reverse=True)):
                self.cards[job_id].card.move(self.list, target_index=position)
            for old in sorted(self.cards)[:-SHOWN]:
                self.list.remove(self.cards.pop(old).card)
        card.show(row)
        self.empty.set_visibility(not self.cards)


class JobStatus:
    """One import: a link to its detail page, its file, status and progress."""

    def __init__(self, row: dict[str, Any]) -> None:
        job_id = row['id']
        with ui.card().classes('w-full gap-1 q-py-sm') as self.card:
            with ui.row().classes('items-center gap-3 no-wrap w-full'):
                ui.link(f'View job {job_id}', job_path(job_id)).mark(f'job-{job_id}')
                ui.label(row['description']).classes('text-muted ellipsis flex-1')
                LocalTime(row['started_at'], relative=True).classes('text-caption text-muted gt-xs')
            with ui.row().classes('items-center gap-2'):
                self.icon = StatusIcon(row['status']).props('aria-hidden=true')  # the label says it
                self.status = ui.label(status_text(row['status'])).mark(f'job-{job_id}-status')
                self.counts = ui.label().classes('text-caption text-muted')
            self.bar = ui.linear_progress(value=0, show_value=False).props('instant-feedback')
            self.error = ui.label().classes('text-error')

    def show(self, row: dict[str, Any]) -> None:
        """The job's one progress scale, as the grid and the detail page show it: percent and time left."""
        running = row['status'] == Status.IN_PROGRESS
        progress = row['progress']
        self.status.text = status_text(row['status'])
        self.icon.set_status(row['status'])
        self.bar.set_visibility(running)
        self.bar.value = progress['percent'] / 100 if progress else 0
        shown = (
            [row['progress_step'] or '', percent_text(progress['percent']), eta_text(progress['eta_seconds'])]
            if running and progress
            else []
        )
        self.counts.text = ' · '.join(part for part in shown if part)
        self.error.text = row['error'] or ''
