"""Per-client live updates: filter the change feed by visibility and coalesce bursts into one flush."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import background_tasks, context

from app.jobs.events import Change, DetailChanged, JobChanged, Resync
from app.services import Services
from app.storage.models import User

# The first change after a quiet spell is sent at once; during a burst, at most one flush per interval reaches
# the browser, with the latest row of each job. Each flush costs the browser a layout and paint pass, so the
# interval bounds the work of every open tab, while a lone change still shows immediately. No timer runs
# while nothing changes.
FLUSH_INTERVAL = 0.1  # seconds


class LiveUpdates:
    """Collects the changes ``user`` may see; ``on_flush`` gets the latest row per job and the detail ids.

    After a ``Resync`` (changes may have been missed), a detail page re-reads its job; other pages get
    ``on_resync`` if they pass one.
    """

    def __init__(
        self,
        services: Services,
        user: User,
        on_flush: Callable[[dict[int, dict[str, Any]], set[int]], Awaitable[None] | None],
        *,
        job_id: int | None = None,
        on_resync: Callable[[], None] | None = None,
    ) -> None:
        self._user = user
        self._job_id = job_id
        self._on_flush = on_flush
        self._on_resync = on_resync
        self._resync = False
        self._rows: dict[int, dict[str, Any]] = {}
        self._details: set[int] = set()
        self._slot = context.slot
        self._client = context.client
        self._scheduled = False
        self._last_flush = float('-inf')
        services.feed.subscribe(self._receive)  # unsubscribed by NiceGUI when the page's client goes away

    def _receive(self, change: Change) -> None:
        if isinstance(change, Resync):
            if self._job_id is not None:
                self._details.add(self._job_id)
            else:
                self._resync = self._on_resync is not None
            self._schedule()
            return
        if not (self._user.is_admin or change.owner_id == self._user.id):
            return
        if self._job_id is not None and change.job_id != self._job_id:
            return
        if isinstance(change, JobChanged):
            self._rows[change.job_id] = change.row
        elif isinstance(change, DetailChanged):
            if self._job_id is None:  # only a detail page shows subtasks and files: no flush window for the rest
                return
            self._details.add(change.job_id)
        self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            loop = asyncio.get_running_loop()
            delay = max(0.0, self._last_flush + FLUSH_INTERVAL - loop.time())
            loop.call_later(delay, lambda: background_tasks.create(self._flush(), name='live updates'))

    async def _flush(self) -> None:
        self._scheduled = False
        self._last_flush = asyncio.get_running_loop().time()
        rows, details, resync = self._rows, self._details, self._resync
        self._rows, self._details, self._resync = {}, set(), False
        if self._client.is_deleted or not (rows or details or resync):
            return
        with self._slot:
            if resync and self._on_resync is not None:
                self._on_resync()
            result = self._on_flush(rows, details)
            if result is not None:
                await result
