"""Per-client live updates: filter the change feed by visibility and flush bursts every 100 ms."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from app.jobs.events import Change, DetailChanged, JobChanged
from app.services import Services
from app.storage.models import User

FLUSH_INTERVAL = 0.1  # seconds; bursts within it reach the browser as one update


class LiveUpdates:
    """Collects the changes ``user`` may see; ``on_flush`` gets the latest row per job and the detail ids."""

    def __init__(
        self,
        services: Services,
        user: User,
        on_flush: Callable[[dict[int, dict[str, Any]], set[int]], Awaitable[None] | None],
        *,
        job_id: int | None = None,
    ) -> None:
        self._user = user
        self._job_id = job_id
        self._on_flush = on_flush
        self._rows: dict[int, dict[str, Any]] = {}
        self._details: set[int] = set()
        services.feed.subscribe(self._receive)
        ui.timer(FLUSH_INTERVAL, self._flush)

    def _receive(self, change: Change) -> None:
        if not (self._user.is_admin or change.owner_id == self._user.id):
            return
        if self._job_id is not None and change.job_id != self._job_id:
            return
        if isinstance(change, JobChanged):
            self._rows[change.job_id] = change.row
        elif isinstance(change, DetailChanged):
            self._details.add(change.job_id)

    async def _flush(self) -> None:
        if not self._rows and not self._details:
            return
        rows, details = self._rows, self._details
        self._rows, self._details = {}, set()
        result = self._on_flush(rows, details)
        if result is not None:
            await result
