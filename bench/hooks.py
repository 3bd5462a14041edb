"""Server-side hooks for the benchmark (loaded by JOBS_EXTRA_JOB_TYPES=bench.hooks, never in production).

A no-op job type, and routes under /_bench/ that drive the running server from inside, so the figures time the
server's own work and not the benchmark's HTTP calls. Like every page, the routes need a logged-in session.
"""

from __future__ import annotations

import asyncio
import gc
import shutil
import time
from pathlib import Path
from typing import Any

from fastapi import Request

from app.jobs.context import JobContext
from app.jobs.registry import JobType, Registry
from app.storage.models import Category

NOOP = 'bench_noop'
NOOP_NAME = 'Bench No-op'
JOBS_PATH = '/settings/maintenance/jobs'


async def run_noop(ctx: JobContext) -> None:
    """Two subtasks that do nothing: every figure it yields is the runtime's own cost."""
    async with ctx.subtask('Prepare'):
        pass
    async with ctx.subtask('Run'):
        pass


def register(registry: Registry) -> None:
    registry.register(JobType(key=NOOP, name=NOOP_NAME, category=Category.GENERAL, run=run_noop))
    _register_routes()


def _register_routes() -> None:
    from nicegui import Client, app

    from app.pages.auth import current_user
    from app.services import Services
    from app.storage import jobs as queries
    from app.storage.jobs import NewFile
    from app.storage.models import FileRole, Status, User

    async def context(request: Request) -> tuple[Services, User, dict[str, Any]]:
        services: Services = app.state.services
        user = await current_user(services)
        assert user is not None and user.id is not None
        body = await request.body()
        return services, user, (await request.json()) if body else {}

    @app.post('/_bench/clients')
    async def clients(request: Request) -> dict[str, int]:
        """Count the clients: all, and the tabs (connected, or closed but kept for a reconnect).

        Collects garbage first, so the resident size read next is not inflated by collectable cycles.
        """
        await context(request)
        gc.collect()
        tabs = [c for c in Client.instances.values() if c.has_socket_connection or c._delete_tasks]
        return {'clients': len(Client.instances), 'tabs': len(tabs)}

    @app.post('/_bench/push/reset')
    async def push_reset(request: Request) -> dict[str, int]:
        """Mark the given jobs Completed, so each later change has a known status to flip to."""
        services, _user, body = await context(request)
        for job_id in body['ids']:
            await services.store.finish_job(job_id)
        return {'count': len(body['ids'])}

    @app.post('/_bench/push/run')
    async def push_run(request: Request) -> dict[str, Any]:
        """Flip the jobs' status at ``rate`` changes per second for ``seconds``; returns each change's commit time.

        Each change is committed and published by the job store, as job changes are (its group-commit writer, then
        the change feed); its time is taken once the store hands it back, so it includes the hop back to the loop.
        """
        services, _user, body = await context(request)
        ids: list[int] = body['ids']
        rate, seconds = float(body['rate']), float(body['seconds'])
        flips = dict.fromkeys(ids, 0)
        commits: list[tuple[int, str, float]] = []
        loop = asyncio.get_running_loop()
        start = loop.time()
        for number in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, start + number / rate - loop.time()))
            job_id = ids[number % len(ids)]
            flips[job_id] += 1
            error = 'bench: flipped to Failed' if flips[job_id] % 2 else None
            row = await services.store.finish_job(job_id, error=error)
            commits.append((job_id, row['status'], time.time()))
        return {'commits': commits, 'seconds': loop.time() - start}

    @app.post('/_bench/throughput')
    async def throughput(request: Request) -> dict[str, Any]:
        """Launch ``count`` no-op jobs from ``launchers`` concurrent callers (users, schedules), then wait for all."""
        services, user, body = await context(request)
        assert user.id is not None
        count, launchers = int(body['count']), int(body.get('launchers', 1))
        started = time.time()
        ids: list[int] = []

        async def launcher(numbers: range) -> None:
            for number in numbers:
                ids.append(
                    await services.jobs.launch(
                        NOOP, description=f'Bench no-op {number}', run_by_id=user.id, run_at=JOBS_PATH, params={}
                    )
                )

        await asyncio.gather(*(launcher(range(first, count, launchers)) for first in range(launchers)))
        ids.sort()
        launched = time.time()
        await services.jobs.wait_idle(timeout=max(60.0, count / 10))
        ended = time.time()
        completed = 0
        for job_id in ids[-50:]:  # a sample: every job's end went through the same code path
            detail = await services.store.read(queries.get_job, viewer=user, job_id=job_id)
            completed += bool(detail and detail['status'] == Status.COMPLETED and len(detail['subtasks']) == 2)
        return {
            'first_id': ids[0], 'last_id': ids[-1], 'started': started, 'launched': launched, 'ended': ended,
            'sample_completed': completed, 'sample_size': min(50, count),
        }  # fmt: skip

    @app.post('/_bench/spaced')
    async def spaced(request: Request) -> dict[str, Any]:
        """Launch ``count`` no-op jobs one at a time, ``gap`` seconds apart (an idle system: start latency)."""
        services, user, body = await context(request)
        assert user.id is not None
        ids = []
        for number in range(int(body['count'])):
            ids.append(await services.jobs.launch(
                NOOP, description=f'Bench spaced {number}', run_by_id=user.id, run_at=JOBS_PATH, params={}
            ))  # fmt: skip
            await asyncio.sleep(float(body.get('gap', 0.05)))
        await services.jobs.wait_idle(timeout=60.0)
        return {'first_id': ids[0], 'last_id': ids[-1]}

    @app.post('/_bench/launch')
    async def launch(request: Request) -> dict[str, Any]:
        """Launch ``count`` no-op jobs back to back (``gap`` seconds apart), as "Run now" clicks would; returns each
        job's id and the wall clock time its launch began."""
        services, user, body = await context(request)
        assert user.id is not None
        launches: list[tuple[int, float]] = []
        for number in range(int(body['count'])):
            began = time.time()
            job_id = await services.jobs.launch(
                NOOP, description=f'Bench launch {number}', run_by_id=user.id, run_at=JOBS_PATH, params={}
            )
            launches.append((job_id, began))
            await asyncio.sleep(float(body.get('gap', 0.0)))
        await services.jobs.wait_idle(timeout=60.0)
        return {'launches': launches}

    @app.post('/_bench/import')
    async def launch_import(request: Request) -> dict[str, Any]:
        """Store a CSV from the local disk as an upload would, then launch the real Contacts Import on it."""
        services, user, body = await context(request)
        assert user.id is not None
        temp = services.files.temp_path()
        await services.threads.run(shutil.copyfile, Path(body['path']), temp)
        stored = await services.threads.run(services.files.adopt, temp)
        launched = time.time()
        job_id = await services.jobs.launch(
            'contacts_import',
            description=f'Import of {body["filename"]}',
            run_by_id=user.id,
            run_at='/imports',
            input_files=[NewFile(role=FileRole.INPUT, filename=body['filename'], stored=stored)],
        )
        return {'id': job_id, 'launched': launched}

    @app.post('/_bench/wait')
    async def wait(request: Request) -> dict[str, Any]:
        """Wait until a job has ended; returns its detail (its ``ended_at`` is when it ended)."""
        services, user, body = await context(request)
        deadline = time.monotonic() + float(body.get('timeout', 1800))
        while time.monotonic() < deadline:
            detail = await services.store.read(queries.get_job, viewer=user, job_id=int(body['id']))
            if detail is not None and detail['status'] != Status.IN_PROGRESS:
                return detail
            await asyncio.sleep(0.1)
        raise TimeoutError(f'job {body["id"]} still running')
