"""A non-admin imports contacts from a CSV, follows the job and downloads its error report."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.conftest import Server, log_in

CSV = (
    'name,email,phone,company\n'
    'Ada Lovelace,ada@example.org,+44 20 1234 5678,Analytical\n'
    ',nobody@example.org,,\n'
    'Grace Hopper,not-an-email,,Navy\n'
    'Alan Turing,ADA@example.org,,\n'
)


def test_user_uploads_csv_follows_the_job_and_downloads_the_error_report(
    page: Page, server: Server, tmp_path: Path
) -> None:
    user = server.add_user('ivy')
    log_in(page, server, *user)
    page.get_by_role('link', name='Imports').click()
    expect(page.get_by_role('heading', name='Contacts Import')).to_be_visible()
    upload = tmp_path / 'people.csv'
    upload.write_text(CSV)
    page.locator('input[type=file]').set_input_files(upload)
    view = page.get_by_role('link', name=re.compile(r'^View job \d+$'))
    expect(view).to_be_visible(timeout=10_000)
    job_id = int(view.inner_text().split()[-1])
    view.click()
    expect(page).to_have_url(f'{server.url}/settings/maintenance/jobs/{job_id}')
    expect(page.get_by_text('3 of 4 rows rejected').first).to_be_visible(timeout=10_000)
    expect(page.get_by_role('img', name='Failed').first).to_be_visible()
    # The Status field reads "Failed" and nothing else: the icon is drawn by CSS, its name is not page text.
    expect(page.locator('dt:has-text("Status") + dd')).to_have_text('Failed')
    for step in ('Read file', 'Validate rows', 'Write contacts', 'Write reports'):
        expect(page.get_by_role('gridcell', name=step)).to_be_visible()
    with page.expect_download() as download_info:
        page.get_by_role('button', name='Download people-errors.csv').click()
    download = download_info.value
    assert download.suggested_filename == 'people-errors.csv'
    lines = Path(download.path()).read_text().splitlines()
    assert lines[0] == 'line,column,value,error'
    assert [line.split(',')[:3] for line in lines[1:]] == [
        ['3', 'name', ''],
        ['4', 'email', 'not-an-email'],
        ['5', 'email', 'ADA@example.org'],
    ]
    expect(page.get_by_role('button', name='Download people-result.csv')).to_be_visible()
    expect(page.get_by_role('button', name='Download people.csv')).to_be_visible()

    page.goto(f'{server.url}/settings/maintenance/jobs?tab=imports')
    line = page.locator(f'.ag-row[row-id="{job_id}"]').locator('visible=true')
    expect(line.get_by_role('img', name='Failed')).to_be_visible()
    expect(line.locator('[col-id="status"]')).to_have_text('')  # the icon alone, named by its aria-label
    expect(line).to_contain_text('Contacts Import')
    expect(line).to_contain_text('ivy')


def test_html_in_names_and_files_is_shown_as_text_never_run(page: Page, server: Server, tmp_path: Path) -> None:
    hostile = '<img src=x onerror="window.__xss=1">'
    log_in(page, server)
    page.goto(f'{server.url}/imports')
    upload = tmp_path / '<b onmouseover=x>list.csv'
    upload.write_text('name,email,company\n"' + hostile.replace('"', '""') + '",xss@example.org,<i>Co</i>\n')
    page.locator('input[type=file]').set_input_files(upload)
    view = page.get_by_role('link', name=re.compile(r'^View job \d+$'))
    expect(view).to_be_visible(timeout=10_000)
    expect(page.get_by_text(hostile).first).to_be_visible(timeout=10_000)  # the contacts list shows it as text
    job_id = int(view.inner_text().split()[-1])
    page.goto(f'{server.url}/settings/maintenance/jobs?tab=imports')
    line = page.locator(f'.ag-row[row-id="{job_id}"]').locator('visible=true')
    expect(line).to_contain_text('<b onmouseover=x>list.csv')
    page.goto(f'{server.url}/settings/maintenance/jobs/{job_id}')
    expect(page.get_by_text('<b onmouseover=x>list.csv').first).to_be_visible()
    assert page.locator('main b, .q-page b, img[src=x]').count() == 0
    assert page.evaluate('window.__xss') is None
