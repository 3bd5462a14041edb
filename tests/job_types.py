"""Job types for tests (loaded through JOBS_EXTRA_JOB_TYPES=tests.job_types)."""

from __future__ import annotations

import asyncio
import os
import time

from fastapi import Request

from app.jobs.context import JobContext
from app.jobs.registry import JobType, Registry
from app.storage.models import Category


async def run_steps(ctx: JobContext) -> None:
    """Three subtasks; ``fail_at`` (1-based) raises in that step; ``delay`` seconds per step."""
    fail_at = ctx.params.get('fail_at')
    delay = float(ctx.params.get('delay', 0))
    steps = int(ctx.params.get('steps', 3))
    for number in range(1, steps + 1):
        async with ctx.subtask(f'Step {number}'):
            await asyncio.sleep(delay)
            if number == fail_at:
                raise RuntimeError(f'Step {number} broke')
            ctx.progress(number, max(steps, 3))
            ctx.log(f'Step {number} done')
    await ctx.add_output('steps.txt', b'all steps done\n')


async def run_cpu(ctx: JobContext) -> None:
    """Burns CPU for ``seconds`` in a worker thread."""

    def burn(seconds: float) -> int:
        end, count = time.perf_counter() + seconds, 0
        while time.perf_counter() < end:
            count += sum(range(1000))
        return count

    async with ctx.subtask('Burn CPU'):
        await ctx.run_blocking(burn, float(ctx.params.get('seconds', 2)))


async def run_record(ctx: JobContext) -> None:
    """Appends "job id, process id" to runs.log in the (shared) storage dir, then waits ``delay`` seconds."""
    with (ctx.settings.resolved_storage_dir / 'runs.log').open('a') as log:
        log.write(f'{ctx.job_id} {os.getpid()}\n')
    async with ctx.subtask('Wait'):
        await asyncio.sleep(float(ctx.params.get('delay', 0)))


def register(registry: Registry) -> None:
    registry.register(JobType(key='test_steps', name='Test Steps', category=Category.GENERAL, run=run_steps))
    registry.register(JobType(key='test_import', name='Test Import', category=Category.IMPORT, run=run_steps))
    registry.register(JobType(key='test_cpu', name='Test CPU', category=Category.GENERAL, run=run_cpu))
    registry.register(JobType(key='test_record', name='Test Record', category=Category.GENERAL, run=run_record))
    _register_test_routes()


def _register_test_routes() -> None:
    """HTTP hooks the browser tests use to start jobs in the running server (only loaded in tests)."""
    from nicegui import app

    from app.pages.auth import current_user
    from app.services import Services
    from app.storage import jobs as queries

    @app.post('/_test/launch/{job_type}')
    async def launch(job_type: str, delay: float = 0.0, steps: int = 3, fail_at: int = 0) -> dict[str, int]:
        services: Services = app.state.services
        user = await current_user(services)
        assert user is not None and user.id is not None
        params = {'delay': delay, 'steps': steps, 'fail_at': fail_at or None}
        job_id = await services.jobs.launch(job_type, description=f'{job_type} run', run_by_id=user.id,
                                            run_at='/settings/maintenance/jobs', params=params)  # fmt: skip
        return {'id': job_id}

    @app.post('/_test/seed')
    async def seed(count: int) -> dict[str, int]:
        """Record ``count`` finished jobs for the logged-in user."""
        services: Services = app.state.services
        user = await current_user(services)
        assert user is not None and user.id is not None
        for number in range(count):
            row = queries.create_job(
                services.engine,
                job_type='test_steps',
                name='Test Steps',
                category='general',
                description=f'seeded {number}',
                run_by_id=user.id,
                run_at='/',
                params={},
            )
            queries.finish_job(services.engine, job_id=row['id'])
        return {'count': count}

    @app.post('/_test/import')
    async def start_import(request: Request, filename: str = 'contacts.csv') -> dict[str, int]:
        """Store the request body as an upload and start a Contacts Import on it, as the /imports page does."""
        services: Services = app.state.services
        user = await current_user(services)
        assert user is not None and user.id is not None
        stored = await services.files.save_stream(request.stream(), limit=services.settings.max_upload_bytes)
        job_id = await services.jobs.launch(
            'contacts_import',
            description=f'Import of {filename}',
            run_by_id=user.id,
            run_at='/imports',
            input_files=[queries.NewFile(role='input', filename=filename, stored=stored)],
        )
        return {'id': job_id}

    @app.post('/_test/fail/{job_id}')
    async def fail(job_id: int) -> dict[str, int]:
        """Mark a finished job failed and publish it, as a status change the grid must show in place."""
        services: Services = app.state.services
        await services.store.finish_job(job_id, error='failed on purpose')
        return {'id': job_id}
