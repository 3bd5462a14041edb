"""Per-client live updates: filter the change feed by visibility and coalesce bursts into one flush."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import background_tasks, context

from app.jobs.events import AccountChanged, Change, DetailChanged, JobChanged, Resync
from app.pages.session_guard import SessionGuard
from app.services import Services
from app.storage.models import User

# The first change after a quiet spell is sent at once; during a burst, at most one flush per interval reaches
# the browser, with the latest row of each job. Each flush costs the browser a layout and paint pass, so the
# interval bounds the work of every open tab, while a lone change still shows immediately. No timer runs
# while nothing changes.
FLUSH_INTERVAL = 0.05  # seconds


class LiveUpdates:
    """Collects the changes ``user`` may see; ``on_flush`` gets the latest row per job and the detail ids.

    After a ``Resync`` (changes may have been missed), a detail page re-reads its job; other pages get
    ``on_resync`` if they pass one.

    What is pushed follows the page's session as it is now (``SessionGuard``, set up by ``layout.frame``): after a
    logout, a password change or disabling nothing more is pushed, and after a demotion only the user's own rows.
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
        self._guard = SessionGuard.of(context.client)
        self._owners: dict[int, int] = {}
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

    @property
    def _viewer(self) -> User:
        return self._guard.user if self._guard is not None else self._user

    def _may_see(self, owner_id: int) -> bool:
        viewer = self._viewer
        return viewer.is_admin or owner_id == viewer.id

    def _receive(self, change: Change) -> None:
        if isinstance(change, AccountChanged) or (self._guard is not None and self._guard.ended):
            return
        if isinstance(change, Resync):
            if self._job_id is not None:
                self._details.add(self._job_id)
            else:
                self._resync = self._on_resync is not None
            self._schedule()
            return
        if not self._may_see(change.owner_id):
            return
        if self._job_id is not None and change.job_id != self._job_id:
            return
        if isinstance(change, JobChanged):
            self._rows[change.job_id] = change.row
            self._owners[change.job_id] = change.owner_id
        elif isinstance(change, DetailChanged):
            if self._job_id is None:  # only a detail page shows subtasks and files: no flush window for the rest
                return
            self._details.add(change.job_id)
            self._owners[change.job_id] = change.owner_id
        self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            loop = asyncio.get_running_loop()
            delay = max(0.0, self._last_flush + FLUSH_INTERVAL - loop.time())
            loop.call_later(delay, lambda: background_tasks.create(self._flush(), name='live updates'))

    async def _flush(self) -> None:
        if self._guard is not None:
            await self._guard.settled()  # a re-check of the session under way decides what may still be shown
        self._scheduled = False
        self._last_flush = asyncio.get_running_loop().time()
        rows, details, resync, owners = self._rows, self._details, self._resync, self._owners
        self._rows, self._details, self._resync, self._owners = {}, set(), False, {}
        if self._guard is not None and self._guard.ended:
            return
        # The role may have changed since these changes arrived.
        rows = {job_id: row for job_id, row in rows.items() if self._may_see(owners[job_id])}
        details = {job_id for job_id in details if job_id not in owners or self._may_see(owners[job_id])}
        if self._client.is_deleted or not (rows or details or resync):
            return
        with self._slot:
            if resync and self._on_resync is not None:
                self._on_resync()
            result = self._on_flush(rows, details)
            if result is not None:
                await result
