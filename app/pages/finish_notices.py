"""Tells a user, on whatever page of the app they are, that a job they started has finished."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from nicegui import ui

from app.pages.components import BrowserNotifier
from app.pages.display import job_path, status_text
from app.pages.live import LiveUpdates
from app.services import Services
from app.storage.models import Status, User, utcnow

RECENT = timedelta(minutes=2)  # a job that ended longer ago than this is old news (a resync, a late relay)
SUMMARY_FROM = 4  # this many finishing at once get one notice for all


class FinishNotices:
    """Watches the user's own jobs; each one that finishes gets a notice with a link to it (and a browser
    notification, if the user switched those on)."""

    def __init__(self, services: Services, user: User) -> None:
        self._user = user
        self._told: set[int] = set()
        self.browser = BrowserNotifier()
        LiveUpdates(services, user, self._flush)

    def _flush(self, rows: dict[int, dict[str, Any]], _details: set[int]) -> None:
        finished = [row for row in rows.values() if self._is_news(row)]
        self._told.update(row['id'] for row in finished)
        if len(finished) >= SUMMARY_FROM:
            failed = sum(row['status'] == Status.FAILED for row in finished)
            ui.notify(f'{len(finished)} of your jobs finished, {failed} failed', type='info', position='bottom-right',
                      timeout=8000)  # fmt: skip
            return
        for row in finished:
            text = f'Job {row["id"]} ({row["job"]}) {status_text(row["status"]).lower()}'
            failed = row['status'] == Status.FAILED
            ui.notify(
                text,
                type='negative' if failed else 'positive',
                position='bottom-right',
                timeout=8000,
                actions=[{'label': 'View job', 'href': job_path(row['id']), 'color': 'white', 'no-caps': True}],
            )
            self.browser.show(text, row['description'] or row['job'], job_path(row['id']))

    def _is_news(self, row: dict[str, Any]) -> bool:
        if row['status'] == Status.IN_PROGRESS or row['id'] in self._told or row['run_by'] != self._user.username:
            return False
        ended = row['ended_at']
        return ended is not None and utcnow() - datetime.fromisoformat(ended) < RECENT
