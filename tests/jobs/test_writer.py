"""Group commit: a burst of job writes lands in one transaction, yet each caller gets its own result or error."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import sqlalchemy as sa

from app.jobs.writer import Writer
from app.storage import jobs as queries
from app.storage import users


def new_job(bind: Any, *, run_by_id: int, description: str) -> dict[str, Any]:
    return queries.create_job(bind, job_type='t', name='T', category='general', description=description,
                              run_by_id=run_by_id, run_at='/x', params={})  # fmt: skip


async def queued_together(writer: Writer, writes: list[Any]) -> list[Any]:
    """Run ``writes`` (coroutines of ``writer.write``) queued while the writer is busy, so they form one batch."""
    gate = threading.Event()
    blocker = asyncio.ensure_future(writer.write(lambda _connection: gate.wait(10)))
    await asyncio.sleep(0.05)  # the writer thread now waits inside its first transaction
    pending = asyncio.gather(*writes, return_exceptions=True)
    await asyncio.sleep(0.05)
    gate.set()
    await blocker
    return await pending


async def test_a_burst_commits_together_and_a_bad_write_fails_alone(engine: sa.Engine) -> None:
    owner = users.ensure_system_user(engine).id
    assert owner is not None
    writer = Writer(engine)
    try:
        writes = [writer.write(lambda c, n=n: new_job(c, run_by_id=owner, description=f'job {n}')) for n in range(20)]
        writes.insert(7, writer.write(lambda c: new_job(c, run_by_id=999_999, description='nobody runs this')))
        results = await queued_together(writer, writes)
    finally:
        writer.stop()

    error = results.pop(7)
    assert isinstance(error, ValueError) and 'No user with id 999999' in str(error)
    assert [row['description'] for row in results] == [f'job {n}' for n in range(20)]
    with engine.connect() as connection:
        stored = connection.execute(sa.text('SELECT description FROM job ORDER BY id')).scalars().all()
    assert stored == [f'job {n}' for n in range(20)]  # all committed, the bad one left nothing behind


async def test_twenty_writes_queued_together_take_one_commit(engine: sa.Engine) -> None:
    owner = users.ensure_system_user(engine).id
    assert owner is not None
    writer = Writer(engine)
    commits: list[int] = []

    def count(_connection: Any) -> None:
        commits.append(1)

    sa.event.listen(engine, 'commit', count)
    try:
        rows = await queued_together(
            writer,
            [writer.write(lambda c, n=n: new_job(c, run_by_id=owner, description=f'job {n}')) for n in range(20)],
        )
    finally:
        writer.stop()
        sa.event.remove(engine, 'commit', count)
    assert len({row['id'] for row in rows}) == 20
    assert len(commits) == 2  # the blocked one, then all twenty together


async def test_stop_commits_what_is_queued(engine: sa.Engine) -> None:
    owner = users.ensure_system_user(engine).id
    assert owner is not None
    writer = Writer(engine)
    loop = asyncio.get_running_loop()
    writes = [
        loop.create_task(writer.write(lambda c, n=n: new_job(c, run_by_id=owner, description=f'last {n}')))
        for n in range(5)
    ]
    await asyncio.sleep(0)  # queued
    await asyncio.to_thread(writer.stop)
    await asyncio.gather(*writes)
    with engine.connect() as connection:
        assert connection.execute(sa.text('SELECT count(*) FROM job')).scalar() == 5
