"""Account changes reach open pages on every node: each process watches the users' ``auth_version``.

Every change that must reach open pages (logout, password change, disabling, a role change) bumps the user's
``auth_version`` in the same transaction (app.storage.users). Each web process reads the small ``(id,
auth_version)`` list once a second and publishes ``AccountChanged`` for every user whose number moved, so a change
made on another node, or with the CLI, reaches this node's pages within about a second, on SQLite and PostgreSQL
alike. Changes made in this process are also published at once (``announce``).

Once a minute it also ends the sessions that expired (``JOBS_SESSION_IDLE_MINUTES``, ``JOBS_SESSION_MAX_DAYS``):
a browser that only keeps a page open makes no request that would notice, so its page is sent to /login this way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

import sqlalchemy as sa

from app.jobs.events import AccountChanged, ChangeFeed
from app.storage.users import auth_versions, end_expired_sessions
from app.threads import Threads

POLL_INTERVAL = 1.0  # seconds
SWEEP_INTERVAL = 60.0  # seconds between looks for expired sessions
log = logging.getLogger('app.jobs')


class AccountWatch:
    def __init__(self, *, engine: sa.Engine, feed: ChangeFeed, threads: Threads,
                 session_limits: dict[str, timedelta] | None = None) -> None:  # fmt: skip
        self._engine = engine
        self._session_limits = session_limits or {}
        self._feed = feed
        self._threads = threads
        self._versions: dict[int, int] | None = None
        self._task: asyncio.Task[None] | None = None

    def announce(self, user_id: int) -> None:
        """This process changed the account of ``user_id`` (committed): its open pages here re-check now."""
        self._feed.publish(AccountChanged(user_id))

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch(), name='account watch')

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def check(self) -> None:
        """Publish a change for every user whose auth_version moved since the last check."""
        versions = await self._threads.run(auth_versions, self._engine)
        previous, self._versions = self._versions, versions
        if previous is None:
            return
        for user_id, version in versions.items():
            if previous.get(user_id, 0) != version:  # a user new since the last look starts at 0
                self._feed.publish(AccountChanged(user_id))
        for user_id in previous.keys() - versions.keys():  # deleted
            self._feed.publish(AccountChanged(user_id))

    async def end_expired_sessions(self) -> None:
        """End the expired sessions (any node may: ending one twice ends nothing more); the next check tells the
        pages."""
        ended = await self._threads.run(end_expired_sessions, self._engine, **self._session_limits)
        if ended:
            log.info('%d expired session(s) ended', ended)

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        next_sweep = loop.time() + SWEEP_INTERVAL
        while True:
            try:
                if loop.time() >= next_sweep:
                    next_sweep = loop.time() + SWEEP_INTERVAL
                    await self.end_expired_sessions()
                await self.check()
            except Exception as error:  # a database hiccup: try again on the next round
                log.warning('could not read account changes: %s', error)
            await asyncio.sleep(POLL_INTERVAL)
