"""The Job Management grids in Chromium: live push, per-user visibility, downloads, scroll kept."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import Server, log_in

JOBS = '/settings/maintenance/jobs'


def row(page: Page, job_id: int):  # type: ignore[no-untyped-def]
    return page.locator(f'.ag-row[row-id="{job_id}"]').locator('visible=true')


def launch(page: Page, server: Server, job_type: str = 'test_steps', **params: object) -> int:
    query = '&'.join(f'{key}={value}' for key, value in params.items())
    response = page.request.post(f'{server.url}/_test/launch/{job_type}?{query}')
    assert response.ok, response.text()
    job_id: int = response.json()['id']
    return job_id


def wait_finished(page: Page, server: Server, job_id: int) -> dict[str, Any]:
    for _ in range(100):
        detail: dict[str, Any] = page.request.get(f'{server.url}/api/jobs/{job_id}').json()
        if detail['status'] != 'in_progress':
            return detail
        page.wait_for_timeout(100)
    raise AssertionError(f'job {job_id} did not finish')


def test_new_job_appears_and_turns_from_spinner_to_check_without_reload(page: Page, server: Server) -> None:
    log_in(page, server, path=JOBS)
    headers = page.locator('.ag-header-cell-text').locator('visible=true')
    expect(headers).to_have_text(['Status', 'Job ID', 'Job', 'Description', 'Start', 'End', 'Failed', 'Run By',
                                  'Actions'])  # fmt: skip
    page.evaluate('window.__notReloaded = true')
    job_id = launch(page, server, delay=0.7)
    line = row(page, job_id)
    expect(line.get_by_role('img', name='In Progress')).to_be_visible()
    expect(line).to_contain_text('Still in progress')
    expect(line.locator('[col-id="id"]')).to_have_text(str(job_id))
    expect(line).to_contain_text('Test Steps')
    expect(line.get_by_role('img', name='Completed')).to_be_visible(timeout=10_000)
    expect(line).not_to_contain_text('Still in progress')
    assert page.evaluate('window.__notReloaded') is True  # pushed, not reloaded

    failing = launch(page, server, fail_at=1)
    expect(row(page, failing).get_by_role('img', name='Failed')).to_be_visible()
    details = row(page, failing).get_by_role('link', name=f'Job details {failing}')
    expect(details).to_have_attribute('href', f'{JOBS}/{failing}')  # a real link: Ctrl-click opens a tab
    details.focus()
    page.keyboard.press('Enter')
    expect(page).to_have_url(f'{server.url}{JOBS}/{failing}')
    expect(page.get_by_text('Step 1 broke').first).to_be_visible()


def test_import_jobs_show_on_the_imports_tab_and_tab_is_in_the_url(page: Page, server: Server) -> None:
    log_in(page, server, path=JOBS)
    job_id = launch(page, server, job_type='test_import')
    page.get_by_role('tab', name='Imports').click()
    expect(page).to_have_url(re.compile(r'\?tab=imports$'))
    expect(row(page, job_id).get_by_role('img', name='Completed')).to_be_visible()
    page.reload()
    expect(page.get_by_role('tab', name='Imports')).to_have_attribute('aria-selected', 'true')
    expect(row(page, job_id)).to_be_visible()


def test_user_sees_only_own_jobs_and_404_for_others(page: Page, browser: Browser, server: Server) -> None:
    dave, erin = server.add_user('dave'), server.add_user('erin')
    # Record every websocket message erin's browser receives: dave's jobs must never reach it.
    frames: list[str] = []
    page.on('websocket', lambda socket: socket.on('framereceived', lambda payload: frames.append(str(payload))))
    log_in(page, server, *erin, path=JOBS)
    dave_page = browser.new_page()
    try:
        log_in(dave_page, server, *dave)
        daves = launch(dave_page, server)
        daves_file = wait_finished(dave_page, server, daves)['files']
    finally:
        dave_page.close()
    erins = launch(page, server)
    expect(row(page, erins).get_by_role('img', name='Completed')).to_be_visible()
    expect(row(page, daves)).to_have_count(0)
    expect(page.locator('.ag-row').locator('visible=true')).to_have_count(1)
    pushed = [frame for frame in frames if 'run_by' in frame]
    assert pushed and all('erin' in frame and 'dave' not in frame for frame in pushed)
    response = page.goto(f'{server.url}{JOBS}/{daves}')
    assert response is not None and response.status == 404
    expect(page.get_by_text('Job not found')).to_be_visible()
    assert page.request.get(f'{server.url}/api/jobs/{daves}').status == 404
    detail = wait_finished(page, server, erins)
    assert detail['run_by'] == 'erin'
    assert page.request.get(f'{server.url}{detail["files"][0]["url"]}').status == 200
    assert daves_file and page.request.get(f'{server.url}{daves_file[0]["url"]}').status == 404


def test_download_from_the_detail_page_has_the_stored_bytes(page: Page, server: Server) -> None:
    log_in(page, server)
    job_id = launch(page, server)
    page.goto(f'{server.url}{JOBS}/{job_id}')
    expect(page.get_by_text('steps.txt')).to_be_visible()
    with page.expect_download() as download_info:
        page.get_by_role('button', name='Download steps.txt').click()
    download = download_info.value
    assert download.suggested_filename == 'steps.txt'
    with open(download.path(), 'rb') as file:
        assert file.read() == b'all steps done\n'


def test_scroll_position_is_kept_while_rows_update(page: Page, server: Server) -> None:
    user = server.add_user('frank')
    log_in(page, server, *user)
    assert page.request.post(f'{server.url}/_test/seed?count=500').ok
    page.goto(f'{server.url}{JOBS}')
    viewport = page.locator('.ag-body-viewport').locator('visible=true')
    expect(page.locator('.ag-row').locator('visible=true').first).to_be_visible()
    viewport.evaluate('element => { element.scrollTop = 6000 }')
    page.wait_for_timeout(800)  # let the infinite model load the block under the new position
    before = viewport.evaluate('element => element.scrollTop')
    visible_ids = (
        page.locator('.ag-row')
        .locator('visible=true')
        .evaluate_all('rows => rows.map(row => Number(row.getAttribute("row-id")))')
    )
    target = sorted(visible_ids)[len(visible_ids) // 2]
    assert page.request.post(f'{server.url}/_test/fail/{target}').ok
    expect(row(page, target).get_by_role('img', name='Failed')).to_be_visible()
    launch(page, server)  # a new job at the top refreshes the cache, which must not jump either
    page.wait_for_timeout(800)
    assert viewport.evaluate('element => element.scrollTop') == before
    expect(row(page, target).get_by_role('img', name='Failed')).to_be_visible()


def test_filters_narrow_the_grid_and_live_in_the_url(page: Page, server: Server) -> None:
    user = server.add_user('gina')
    log_in(page, server, *user, path=JOBS)
    ok = launch(page, server)
    broken = launch(page, server, fail_at=2)
    expect(row(page, broken).get_by_role('img', name='Failed')).to_be_visible()
    page.get_by_label('Status').click()
    page.get_by_role('option', name='Failed').click()
    expect(row(page, ok)).to_have_count(0)
    expect(row(page, broken)).to_be_visible()
    expect(page).to_have_url(re.compile(r'status=failed'))
    page.reload()
    expect(row(page, broken)).to_be_visible()
    expect(row(page, ok)).to_have_count(0)
    page.get_by_role('button', name='Clear filters').click()
    expect(row(page, ok)).to_be_visible()
    page.get_by_label('Search description or job ID').fill(str(ok))
    expect(row(page, broken)).to_have_count(0)
    expect(row(page, ok)).to_be_visible()
    expect(page).to_have_url(re.compile(rf'q={ok}'))


def test_change_pushed_while_a_slow_page_fetch_is_in_flight_is_not_undone(page: Page, server: Server) -> None:
    user = server.add_user('hank')
    log_in(page, server, *user, path=f'{JOBS}?sort=id')  # oldest first: a new job's place is asked of the server
    first = launch(page, server)
    expect(row(page, first).get_by_role('img', name='Completed')).to_be_visible()
    # A slow network or busy server: /api/jobs answers are read at once but arrive 2 s later.
    page.evaluate("""() => {
        window.__fetches = { started: 0, delivered: 0 };
        const fetch = window.fetch;
        window.fetch = (url, options) => {
            if (!String(url).startsWith('/api/jobs')) return fetch(url, options);
            window.__fetches.started += 1;
            return fetch(url, options).then((response) => new Promise((resolve) => setTimeout(() => {
                window.__fetches.delivered += 1;
                resolve(response);
            }, 2000)));
        };
    }""")
    second = launch(page, server, delay=5)  # a new job at the end: the grid fetches its pages again
    page.wait_for_function('window.__fetches.started > 0')
    page.wait_for_timeout(300)  # the server has answered with the first job still Completed
    assert page.request.post(f'{server.url}/_test/fail/{first}').ok
    expect(row(page, first).get_by_role('img', name='Failed')).to_be_visible()
    page.wait_for_function('window.__fetches.delivered >= window.__fetches.started')
    expect(row(page, second)).to_be_visible()
    expect(row(page, first).get_by_role('img', name='Failed')).to_be_visible()
    expect(row(page, first).get_by_role('img', name='Completed')).to_have_count(0)


def count_list_fetches(page: Page) -> None:
    """Count the grid's requests for job pages from now on (window.__listFetches)."""
    page.evaluate("""() => {
        window.__listFetches = 0;
        const fetch = window.fetch;
        window.fetch = (url, options) => {
            if (String(url).startsWith('/api/jobs?')) window.__listFetches += 1;
            return fetch(url, options);
        };
    }""")


def test_new_jobs_go_to_the_top_from_the_push_without_asking_the_server(page: Page, server: Server) -> None:
    user = server.add_user('iris')
    log_in(page, server, *user, path=f'{JOBS}?status=failed')
    expect(page.get_by_text('No jobs match these filters')).to_be_visible()
    count_list_fetches(page)
    ok = launch(page, server)
    broken = launch(page, server, delay=0.3, fail_at=1)
    expect(row(page, broken).get_by_role('img', name='Failed')).to_be_visible()  # shown once it matches
    expect(page.get_by_text('No jobs match these filters')).to_have_count(0)
    page.get_by_role('button', name='Clear filters').first.click()
    expect(row(page, ok)).to_be_visible()
    count_list_fetches(page)
    newest = [launch(page, server, delay=0.2) for _ in range(3)]
    for job_id in newest:
        expect(row(page, job_id).get_by_role('img', name='Completed')).to_be_visible()
    first_row = page.locator('.ag-row[row-index="0"]').locator('visible=true')
    expect(first_row).to_have_attribute('row-id', str(newest[-1]))
    assert page.evaluate('window.__listFetches') == 0  # placed from the pushed rows alone


def test_a_scrolled_reader_keeps_their_place_and_is_told_of_new_jobs(page: Page, server: Server) -> None:
    user = server.add_user('jack')
    log_in(page, server, *user)
    assert page.request.post(f'{server.url}/_test/seed?count=300').ok
    page.goto(f'{server.url}{JOBS}')
    viewport = page.locator('.ag-body-viewport').locator('visible=true')
    expect(page.locator('.ag-row').locator('visible=true').first).to_be_visible()
    viewport.evaluate('element => { element.scrollTop = 3000 }')
    page.wait_for_timeout(800)

    def first_visible_id() -> int:
        top = viewport.evaluate('element => element.getBoundingClientRect().top')
        ids: list[int] = (
            page.locator('.ag-center-cols-container .ag-row')
            .locator('visible=true')
            .evaluate_all(
                f'rows => rows.filter(r => r.getBoundingClientRect().top >= {top})'
                '.sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top)'
                '.map(r => Number(r.getAttribute("row-id")))'
            )
        )
        return ids[0]

    before, scrolled = first_visible_id(), viewport.evaluate('element => element.scrollTop')
    newest = [launch(page, server) for _ in range(10)]
    notice = page.get_by_role('button', name='10 new jobs')
    expect(notice).to_be_visible()
    assert first_visible_id() == before and viewport.evaluate('element => element.scrollTop') == scrolled
    notice.click()
    expect(page.locator('.ag-row[row-index="0"]').locator('visible=true')).to_have_attribute('row-id', str(newest[-1]))
    expect(notice).to_have_count(0)
    assert viewport.evaluate('element => element.scrollTop') == 0


def test_export_csv_downloads_every_job_the_tab_filters_select(page: Page, server: Server) -> None:
    user = server.add_user('kim')
    log_in(page, server, *user)
    finished = [launch(page, server), launch(page, server, fail_at=1), launch(page, server, fail_at=2)]
    for job_id in finished:
        wait_finished(page, server, job_id)
    page.goto(f'{server.url}{JOBS}?status=failed&sort=id')
    expect(row(page, finished[1])).to_be_visible()
    with page.expect_download() as download_info:
        page.get_by_role('button', name='Export CSV').locator('visible=true').click()
    download = download_info.value
    assert re.fullmatch(r'jobs-general-\d{8}-\d{6}\.csv', download.suggested_filename)
    with open(download.path(), encoding='utf-8') as file:
        lines = file.read().splitlines()
    assert lines[0] == 'id,job,description,status,start,end,failed,run_by,run_at,error'
    assert [line.split(',')[0] for line in lines[1:]] == [str(finished[1]), str(finished[2])]
    assert all(',Failed,' in line for line in lines[1:])


def test_a_keyboard_user_tabs_through_the_rows_and_opens_a_job(page: Page, server: Server) -> None:
    user = server.add_user('lena')
    log_in(page, server, *user)
    older, newer = launch(page, server), launch(page, server)
    page.goto(f'{server.url}{JOBS}')
    expect(row(page, older)).to_be_visible()
    # One scrollbar: the grid ends at the bottom of the window, the page itself does not scroll.
    assert page.evaluate('document.scrollingElement.scrollHeight <= window.innerHeight + 1')
    page.get_by_role('button', name='Export CSV').locator('visible=true').focus()
    focused = []
    for _ in range(4):
        page.keyboard.press('Tab')
        focused.append(page.evaluate(FOCUSED))
    assert focused == [f'A {newer}', f'A Job details {newer}', f'A {older}', f'A Job details {older}']  # row order
    page.keyboard.press('Enter')
    expect(page).to_have_url(f'{server.url}{JOBS}/{older}')


FOCUSED = """() => {
  const element = document.activeElement;
  const name = element.getAttribute('aria-label') || (element.children.length ? '' : element.textContent) || '';
  return `${element.tagName} ${name.trim().slice(0, 40)}`.trim();
}"""


def test_the_grid_s_modules_are_fetched_with_the_page_s_head_once_each(page: Page, server: Server) -> None:
    # The grid's component imports AG Grid (1.1 MB) and its helpers: hinted in the head, the browser fetches them
    # while it reads the page instead of after the page's scripts ran; each is still fetched only once.
    log_in(page, server, path=JOBS)
    expect(page.locator('.ag-row[row-id]').first.or_(page.get_by_text('No jobs yet'))).to_be_visible()
    found = page.evaluate("""() => {
        const imports = JSON.parse(document.querySelector('script[type="importmap"]').textContent).imports;
        const wanted = [imports['nicegui-aggrid'], imports['job-management'], imports['job-management/'] + 'rows.js'];
        const hinted = [...document.head.querySelectorAll('link[rel="modulepreload"]')].map((link) => link.href);
        const fetched = performance.getEntriesByType('resource').map((entry) => entry.name);
        return wanted.map((url) => {
            const full = new URL(url, location.href).href;
            return [url, hinted.includes(full), fetched.filter((name) => name === full).length];
        });
    }""")
    assert [(hinted, fetched) for _url, hinted, fetched in found] == [(True, 1)] * 3, found


def test_a_focused_link_keeps_the_focus_while_its_row_changes(page: Page, server: Server) -> None:
    # A keyboard user on a running job's link: the row's status and progress change under it, the link stays
    # focused (were the cell drawn again, the focus would fall back to the page and Tab would start over).
    log_in(page, server, path=JOBS)
    job_id = launch(page, server, steps=20, delay=0.15)
    line = row(page, job_id)
    expect(line.locator('.job-status-percent')).to_have_text(re.compile(r'^\d+%$'), timeout=5_000)
    line.get_by_role('link', name=str(job_id), exact=True).focus()
    before = line.locator('.job-status-percent').inner_text()
    expect(line.locator('.job-status-percent')).not_to_have_text(before, timeout=5_000)  # the row changed meanwhile
    assert page.evaluate(FOCUSED) == f'A {job_id}'
    page.keyboard.press('Tab')
    assert page.evaluate(FOCUSED) == f'A Job details {job_id}'
