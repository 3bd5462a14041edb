"""Pieces of the job runtime on their own: a job store on a real database with its feed, no service running."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.jobs.events import Change, ChangeFeed, DetailChanged, JobChanged
from app.jobs.registry import JobType
from app.jobs.store import JobRef, JobStore
from app.services import Services, build_services
from app.storage import users
from app.storage.models import Category
from app.threads import Threads
from tests.conftest import make_settings


async def _never_run(_ctx: Any) -> None:
    raise AssertionError('these tests run no handler')


KIND = JobType(key='unit', name='Unit Job', category=Category.IMPORT, run=_never_run)


@dataclass
class FeedLog:
    """Every change published on a feed, with what a fresh connection saw of the job at that moment."""

    engine: sa.Engine
    changes: list[Change] = field(default_factory=list)
    seen: list[tuple[str | None, int]] = field(default_factory=list)  # (job status, subtask count) when published

    def __call__(self, change: Change) -> None:
        self.changes.append(change)
        if isinstance(change, JobChanged | DetailChanged):
            with self.engine.connect() as connection:
                status = connection.execute(sa.text('SELECT status FROM job WHERE id = :id'), {'id': change.job_id})
                count = connection.execute(sa.text('SELECT count(*) FROM subtask WHERE job_id = :id'),
                                           {'id': change.job_id})  # fmt: skip
                self.seen.append((status.scalar(), count.scalar_one()))

    def kinds(self) -> list[str]:
        return [type(change).__name__ for change in self.changes]


@dataclass
class Runtime:
    store: JobStore
    feed: ChangeFeed
    threads: Threads
    log: FeedLog
    owner_id: int

    async def record(self, description: str = 'a unit job') -> JobRef:
        """A recorded In Progress job, as a launch leaves it (no executor: nothing is queued)."""
        job_id = await self.store.create_job(KIND, description=description, run_by_id=self.owner_id, run_at='/unit',
                                             params={}, input_files=(), exclusive=False,
                                             enqueue=lambda _connection, _job_id: None)  # fmt: skip
        return JobRef(job_id, self.owner_id, KIND.category)


@pytest.fixture
async def runtime(engine: sa.Engine) -> AsyncIterator[Runtime]:
    """A job store on a migrated database (each backend), its feed recorded from the start."""
    threads, feed = Threads(), ChangeFeed()
    store = JobStore(engine=engine, feed=feed, threads=threads)
    log = FeedLog(engine)
    feed.subscribe(log)
    owner = users.create_user(engine, username='owner', password='pw')
    assert owner.id is not None
    try:
        yield Runtime(store, feed, threads, log, owner.id)
    finally:
        store.stop()
        threads.stop()


@pytest.fixture
async def sqlite_services(tmp_path: Path) -> AsyncIterator[Services]:
    """Services on SQLite only: failures that never reach the database, or a backup without pg_dump."""
    built = build_services(make_settings(tmp_path, f'sqlite:///{tmp_path / "jobs.db"}'))
    built.start()
    try:
        yield built
    finally:
        await built.stop()
