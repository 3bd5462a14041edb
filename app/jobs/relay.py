"""Cross-node live push: job changes committed by other processes reach this process's change feed.

A trigger (migration 0005) sends ``pg_notify('jobs_changes', ...)`` for every job, subtask and file change,
naming the writing process. Each web process keeps one LISTEN connection, skips its own notifications (they
were published locally already) and republishes the others: job rows are read back in one query per burst.
NOTIFY is not durable, so after a lost connection the pages are told to re-read everything (``Resync``).
What it relays is published through the job store, like this process's own changes.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import psycopg

from app.jobs.store import JobRef, JobStore
from app.storage.db import libpq_url

CHANNEL = 'jobs_changes'  # see app/storage/migrations/versions/0005_cluster.py
BATCH_DELAY = 0.02  # seconds: notifications arriving together are read back in one query
RECONNECT_DELAYS = (0.5, 1, 2, 5)  # seconds between attempts to listen again
log = logging.getLogger('app.jobs')


class ChangeRelay:
    def __init__(self, *, store: JobStore, node: str) -> None:
        self._store = store
        self._node = node  # this process's name in the notifications (its application_name)
        self._conninfo = libpq_url(store.engine.url, password=True)
        self._pending: dict[int, int] = {}  # job id -> owner id
        self._flushing = False
        self._task: asyncio.Task[None] | None = None
        self._schema = ''
        self._flushes: set[asyncio.Task[None]] = set()
        self.connected = asyncio.Event()

    def start(self) -> None:
        """Listen (on the running event loop) until ``stop``; a lost connection is made again."""
        self._task = asyncio.create_task(self._listen_forever(), name='change relay')

    async def stop(self) -> None:
        """Stop listening."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _listen_forever(self) -> None:
        failures = 0
        while True:
            try:
                await self._listen(resync=failures > 0)
            except (psycopg.Error, OSError) as error:
                if self.connected.is_set():  # it was listening: a new outage, so start again with short waits
                    failures = 0
                delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
                log.warning('change relay lost its connection (%s); listening again in %s s', error, delay)
                self.connected.clear()
                failures += 1
                await asyncio.sleep(delay)

    async def _listen(self, *, resync: bool) -> None:
        name = f'{self._node}-relay'[:63]
        async with await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True, application_name=name) as db:
            await db.execute(f'LISTEN {CHANNEL}')
            row = await (await db.execute('SELECT current_schema()')).fetchone()
            self._schema = row[0] if row else ''  # other schemas of the same database notify on the channel too
            self.connected.set()
            if resync:  # changes made while we were not listening are lost: every open page re-reads
                self._store.resync()
            async for notification in db.notifies():
                self._receive(notification.payload)

    def _receive(self, payload: str) -> None:
        try:
            change: dict[str, Any] = json.loads(payload)
        except ValueError:
            log.warning('ignoring a malformed job change notification: %.200r', payload)
            return
        if change.get('origin') == self._node or change.get('schema') != self._schema:
            return
        job_id, owner_id = int(change['id']), int(change['owner'])
        if change.get('kind') == 'job':
            self._pending[job_id] = owner_id
            if not self._flushing:
                self._flushing = True
                asyncio.get_running_loop().call_later(BATCH_DELAY, self._start_flush)
        else:
            self._store.relay_detail(JobRef(job_id, owner_id, change['category']))

    def _start_flush(self) -> None:
        task = asyncio.create_task(self._flush(), name='relay read-back')
        self._flushes.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._flushes.discard)

    async def _flush(self) -> None:
        self._flushing = False
        pending, self._pending = self._pending, {}
        try:
            await self._store.relay_rows(pending)
        except Exception:
            log.exception('could not read %s changed jobs; open pages will catch up on the next change', len(pending))
