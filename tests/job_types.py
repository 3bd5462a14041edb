"""Job types for tests (loaded through JOBS_EXTRA_JOB_TYPES=tests.job_types)."""

from __future__ import annotations

import asyncio
import time

from app.jobs.context import JobContext
from app.jobs.registry import JobType, Registry
from app.storage.models import Category


async def run_steps(ctx: JobContext) -> None:
    """Three subtasks; ``fail_at`` (1-based) raises in that step; ``delay`` seconds per step."""
    fail_at = ctx.params.get('fail_at')
    delay = float(ctx.params.get('delay', 0))
    for number in range(1, int(ctx.params.get('steps', 3)) + 1):
        async with ctx.subtask(f'Step {number}'):
            await asyncio.sleep(delay)
            if number == fail_at:
                raise RuntimeError(f'Step {number} broke')
            ctx.progress(number, 3)
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


def register(registry: Registry) -> None:
    registry.register(JobType(key='test_steps', name='Test Steps', category=Category.GENERAL, run=run_steps))
    registry.register(JobType(key='test_import', name='Test Import', category=Category.IMPORT, run=run_steps))
    registry.register(JobType(key='test_cpu', name='Test CPU', category=Category.GENERAL, run=run_cpu))
