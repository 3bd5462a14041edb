"""An admin runs each system task from the System Tasks page and watches it finish live on Job Management."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import Server, log_in

TASKS = ('Database Backup', 'Purge Old Jobs', 'Storage Integrity Check')


def test_admin_runs_each_task_and_sees_it_finish_live(page: Page, browser: Browser, server: Server) -> None:
    log_in(page, server, path='/settings/maintenance/jobs')
    page.get_by_role('link', name='System Tasks').click()
    expect(page.get_by_role('heading', name='System Tasks')).to_be_visible()
    for task in TASKS:
        expect(page.get_by_text(task, exact=True)).to_be_visible()

    watcher = browser.new_page()
    try:
        log_in(watcher, server, path='/settings/maintenance/jobs')
        for task in TASKS:
            page.bring_to_front()
            card = page.locator('.q-card').filter(has=page.get_by_role('heading', name=task, exact=True))
            card.get_by_role('button', name='Run now').click()  # waits until the task's button is ready again
            watcher.bring_to_front()
            line = watcher.locator('.ag-row').locator('visible=true').filter(has_text=task).first
            expect(line).to_be_visible()
            expect(line.get_by_role('img', name='Completed')).to_be_visible(timeout=15_000)
            expect(line).to_contain_text('admin')
        backup = watcher.locator('.ag-row').locator('visible=true').filter(has_text='Database Backup').first
        backup.get_by_role('link', name='Job details').click()
        expect(watcher.get_by_text('Job Run At')).to_be_visible()
        expect(watcher.get_by_role('link', name='/settings/maintenance/tasks')).to_be_visible()
        expect(
            watcher.get_by_role('button', name=re.compile(r'^Download backup-\d{8}-\d{6}\.sqlite\.gz$'))
        ).to_be_visible()
    finally:
        watcher.close()


def test_non_admin_gets_404_for_system_tasks(page: Page, server: Server) -> None:
    user = server.add_user('hank')
    log_in(page, server, *user)
    expect(page.get_by_role('link', name='System Tasks')).to_have_count(0)
    response = page.goto(f'{server.url}/settings/maintenance/tasks')
    assert response is not None and response.status == 404
    expect(page.get_by_role('button', name='Run now')).to_have_count(0)
