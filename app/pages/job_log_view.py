"""A job's detail page, "Log" section: the job's log lines, appended live as the job writes them."""

from __future__ import annotations

import asyncio

from nicegui import ui

from app.services import Services
from app.storage.job_actions import LogLine, read_log
from app.storage.models import User

SHOWN = 1000  # lines kept in the page (each is an element); the download has all the job keeps


def line_text(line: LogLine) -> str:
    return f'{line.at:%Y-%m-%d %H:%M:%S}Z {line.level.upper():7} {line.message}'


class LogView:
    """The "Log" section; ``follow`` appends the lines after the last one shown (never re-renders)."""

    def __init__(self, services: Services, user: User, job_id: int) -> None:
        self.services, self.user, self.job_id = services, user, job_id
        self.seq = 0
        self._lock = asyncio.Lock()
        with ui.row().classes('items-center gap-4'):
            ui.html('<h2 class="text-h6 q-my-none">Log</h2>', sanitize=False)
            ui.link('Download log', f'/api/jobs/{job_id}/log.txt').props(f'download=job-{job_id}-log.txt')
        self.dropped = ui.label().classes('text-caption text-muted')
        self.dropped.set_visibility(False)
        self.empty = ui.label('Nothing logged yet').classes('text-muted')
        self.log = ui.log(max_lines=SHOWN).classes('w-full job-log').mark('job-log')
        self.log.props('role=log aria-label=Log aria-live=polite')

    async def follow(self, log_seq: int) -> None:
        """Show the lines up to ``log_seq`` (the job row's last line number) not shown yet."""
        async with self._lock:  # two flushes must not push the same lines twice
            if log_seq <= self.seq:
                return
            found = await self.services.threads.run(
                read_log,
                self.services.engine,
                viewer=self.user,
                job_id=self.job_id,
                after=max(self.seq, log_seq - SHOWN),
            )
            if found is None:
                return
            lines, dropped = found
            for line in lines:
                self.log.push(line_text(line))
                self.seq = line.seq
            self.empty.set_visibility(self.seq == 0)
            if dropped:
                self.dropped.text = f'{dropped:,} older lines were dropped (only the newest 10,000 are kept)'
                self.dropped.set_visibility(True)
