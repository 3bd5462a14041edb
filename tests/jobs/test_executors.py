"""LocalExecutor on its own: handed a fake ``run``, it runs each submitted job once and gives runs their grace."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from app.jobs.events import ChangeFeed
from app.jobs.executors import LocalExecutor
from app.jobs.runner import HandOn
from app.jobs.store import JobStore
from app.storage.db import create_engine, migrate
from app.threads import Threads


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[JobStore]:
    engine = create_engine(f'sqlite:///{tmp_path / "jobs.db"}')
    migrate(engine)
    threads = Threads()
    built = JobStore(engine=engine, feed=ChangeFeed(), threads=threads)
    yield built
    built.stop()
    threads.stop()
    engine.dispose()


class FakeRun:
    """Records each call; job ``n`` takes ``durations[n]`` seconds."""

    def __init__(self, durations: dict[int, float] | None = None) -> None:
        self.durations = durations or {}
        self.calls: list[tuple[int, int, HandOn | None]] = []
        self.finished: list[int] = []
        self.cancelled: list[int] = []

    async def __call__(self, job_id: int, attempt: int, *, hand_on: HandOn | None = None) -> None:
        self.calls.append((job_id, attempt, hand_on))
        try:
            await asyncio.sleep(self.durations.get(job_id, 0))
        except asyncio.CancelledError:
            self.cancelled.append(job_id)
            raise
        self.finished.append(job_id)


async def until(condition: Callable[[], bool], timeout: float = 5) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, 'timed out'
        await asyncio.sleep(0.01)


async def test_each_submitted_job_runs_once_as_its_first_attempt(store: JobStore) -> None:
    run = FakeRun({2: 0.2})
    executor = LocalExecutor(run=run, store=store)
    executor.start(run_jobs=True)
    try:
        for job_id in (1, 2, 3):
            executor.submitted(job_id)
        await executor.wait_idle(timeout=5)
    finally:
        await executor.stop(grace=1)
    assert sorted(run.calls, key=lambda call: call[0]) == [(1, 1, None), (2, 1, None), (3, 1, None)]
    assert sorted(run.finished) == [1, 2, 3]


async def test_stop_gives_running_jobs_their_grace_then_cancels_the_rest(store: JobStore) -> None:
    run = FakeRun({1: 3.0, 2: 60.0})  # job 1 needs 3 s more than the stop call, job 2 far longer than the grace
    executor = LocalExecutor(run=run, store=store)
    executor.start(run_jobs=True)
    executor.submitted(1)
    executor.submitted(2)
    await until(lambda: len(run.calls) == 2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await executor.stop(grace=5)
    assert run.finished == [1]  # completed within the grace, not cancelled at the stop call
    assert run.cancelled == [2]
    assert 4.5 < loop.time() - started < 10
    await asyncio.sleep(0.01)  # AsyncIOScheduler shuts down on the loop's next turn
    assert not executor.scheduler.running


async def test_a_job_submitted_while_stopping_is_not_started(store: JobStore) -> None:
    run = FakeRun({1: 0.5})
    executor = LocalExecutor(run=run, store=store)
    executor.start(run_jobs=True)
    executor.submitted(1)
    await until(lambda: len(run.calls) == 1)
    stopping = asyncio.create_task(executor.stop(grace=2))
    await asyncio.sleep(0.05)
    executor.submitted(2)  # the next start fails it as Interrupted (see test_runtime)
    await stopping
    assert [call[0] for call in run.calls] == [1] and run.finished == [1]
