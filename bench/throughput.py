"""End-to-end job throughput: no-op jobs with two subtasks launched, run, recorded and pushed to an open tab."""

from __future__ import annotations

import time
from collections.abc import Callable

from playwright.sync_api import Browser

from bench.report import Figure
from bench.server import Server, new_context, open_jobs_page

TARGET_JOBS_PER_SECOND = 300.0


def measure_throughput(
    browser: Browser, server: Server, *, count: int, launchers: int, log: Callable[[str], None]
) -> list[Figure]:
    """Launch ``count`` jobs in the server from ``launchers`` concurrent callers, with a Job Management tab open;
    jobs/s from the first launch until all have ended."""
    context = new_context(browser, server.cookies)
    try:
        page = open_jobs_page(context, server.url)
        log(f'  launching {count:,} no-op jobs (2 subtasks each) from {launchers} concurrent launchers, '
            'one Job Management tab open')  # fmt: skip
        result = server.hook('throughput', count=count, launchers=launchers)
        seconds = result['ended'] - result['started']
        rate = count / seconds
        last = page.locator(f'.ag-row[row-id="{result["last_id"]}"] [col-id="status"] [aria-label="Completed"]')
        last.first.wait_for(state='visible', timeout=30_000)
        shown_after = time.time() - result['ended']
        launches = result['launched'] - result['started']
        log(f'  {rate:,.0f} jobs/s: {count:,} jobs in {seconds:.2f} s (launching them took {launches:.2f} s); '
            f'the tab showed the last one completed {max(0.0, shown_after):.2f} s after it ended')  # fmt: skip
        if result['sample_completed'] != result['sample_size']:
            raise RuntimeError(f'only {result["sample_completed"]} of the last {result["sample_size"]} jobs completed')
        return [
            Figure(
                f'End-to-end throughput: no-op jobs with 2 subtasks ({count:,} jobs, {launchers} launchers, 1 tab)',
                rate,
                'jobs/s',
                TARGET_JOBS_PER_SECOND,
                better='higher',
                details={**result, 'seconds': seconds, 'tab_shown_after_s': shown_after},
            )
        ]
    finally:
        context.close()
