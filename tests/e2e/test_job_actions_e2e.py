"""Acting on a job in Chromium: the grid's percent, "Cancel job" → "Yes, cancel" → Failed, the live log, "Run again"."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import Server, log_in
from tests.e2e.test_job_grid_e2e import JOBS, launch, row, wait_finished


def test_cancel_from_the_detail_page_then_run_again(page: Page, server: Server) -> None:
    log_in(page, server, path=JOBS)
    job_id = launch(page, server, steps=12, delay=0.5)
    line = row(page, job_id)
    expect(line.get_by_role('img', name='In Progress')).to_be_visible()
    expect(line.locator('.job-status-percent')).to_have_text(re.compile(r'^\d+%$'), timeout=5_000)  # beside it

    page.goto(f'{server.url}{JOBS}/{job_id}')
    expect(page.get_by_text('Progress', exact=True)).to_be_visible()
    expect(page.get_by_text('Duration', exact=True)).to_be_visible()
    log = page.get_by_role('log', name='Log')
    expect(log).to_contain_text('Step 1 done', timeout=5_000)  # live, no reload
    page.get_by_role('button', name='Cancel job').click()
    page.get_by_role('button', name='Yes, cancel').click()
    expect(page.get_by_text('Cancelled by admin').first).to_be_visible(timeout=5_000)
    detail = wait_finished(page, server, job_id)
    assert (detail['status'], detail['error']) == ('failed', 'Cancelled by admin')
    steps = [(step['status'], step['message']) for step in detail['subtasks']]
    assert len(steps) < 12  # it stopped early
    # The step under way when the cancel came failed "Cancelled"; a cancel that lands while one step is being
    # recorded as done stops the job before the next (tests/jobs/test_job_actions.py pins down which step).
    assert steps[-1] in (('failed', 'Cancelled'), ('completed', '')), steps
    assert all(status == 'completed' for status, _message in steps[:-1]), steps
    expect(page.get_by_role('button', name='Cancel job')).to_be_hidden()

    page.get_by_role('button', name='Run again').click()
    expect(page).not_to_have_url(f'{server.url}{JOBS}/{job_id}')
    expect(page.get_by_text('Rerun of', exact=True)).to_be_visible()
    expect(page.get_by_role('link', name=f'Job {job_id}', exact=True)).to_have_attribute('href', f'{JOBS}/{job_id}')
    new_id = int(page.url.rsplit('/', 1)[1])
    assert page.request.get(f'{server.url}/api/jobs/{new_id}').json()['rerun_of'] == job_id
    page.request.post(f'{server.url}/api/jobs/{new_id}/cancel')
