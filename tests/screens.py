"""Screenshots of every page at desktop and phone size, light and dark: ``make screenshots`` (not a test).

Starts the real server on a scratch data dir with a few jobs of each kind, logs in as an admin, and writes
``screenshots/<page>-<desktop|phone>-<light|dark>.png``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from tests.e2e.conftest import ADMIN, CHROMIUM, CHROMIUM_ARGS, Server, start_server, stop_server

ROOT = Path(__file__).parents[1]
SIZES = {'desktop': {'width': 1440, 'height': 900}, 'phone': {'width': 390, 'height': 844}}
CONTACTS = b'name,email,phone\nAda,ada@example.org,+44 20 7946 0000\nBob,not-an-address,\nCy,cy@example.org,12\n'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--out', type=Path, default=ROOT / 'screenshots')
    args = parser.parse_args()
    args.out.mkdir(exist_ok=True)
    server = start_server(Path(tempfile.mkdtemp(prefix='screens-')) / 'data')
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            pages = _seed(server, browser.new_page())
            for size, viewport in SIZES.items():
                for scheme in ('light', 'dark'):
                    context = browser.new_context(viewport=viewport, color_scheme=scheme)
                    page = context.new_page()
                    page.goto(f'{server.url}/login')
                    page.screenshot(path=str(args.out / f'login-{size}-{scheme}.png'))
                    _log_in(page, server)
                    for name, path in pages.items():
                        page.goto(server.url + path)
                        time.sleep(1.5)  # grids fetch their first page, charts draw
                        page.screenshot(path=str(args.out / f'{name}-{size}-{scheme}.png'))
                    context.close()
            browser.close()
    finally:
        stop_server(server)
    print(f'screenshots in {args.out}')


def _seed(server: Server, page: Page) -> dict[str, str]:
    """A few jobs of each kind; returns the pages to photograph (name -> path)."""
    _log_in(page, server)
    post = page.request.post
    done = [post(f'{server.url}/_test/launch/test_steps?delay=0.05').json()['id'] for _ in range(3)]
    failed = post(f'{server.url}/_test/launch/test_steps?delay=0.05&fail_at=2').json()['id']
    post(f'{server.url}/_test/launch/test_steps?delay=600')
    imported = post(f'{server.url}/_test/import?filename=contacts.csv', data=CONTACTS).json()['id']
    time.sleep(2)
    page.close()
    return {
        'overview': '/settings/maintenance/overview',
        'jobs': '/settings/maintenance/jobs',
        'jobs-filtered-empty': '/settings/maintenance/jobs?status=failed&q=nothing-matches',
        'job-completed': f'/settings/maintenance/jobs/{done[0]}',
        'job-failed': f'/settings/maintenance/jobs/{failed}',
        'job-import': f'/settings/maintenance/jobs/{imported}',
        'imports': '/imports',
        'tasks': '/settings/maintenance/tasks',
        'users': '/settings/users',
        'account': '/settings/account',
        'not-found': '/no/such/page',
    }


def _log_in(page: Page, server: Server) -> None:
    page.goto(f'{server.url}/login')
    page.get_by_label('Username').fill(ADMIN[0])
    page.get_by_label('Password').fill(ADMIN[1])
    page.get_by_role('button', name='Log in').click()
    page.wait_for_url('**/settings/maintenance/jobs')


if __name__ == '__main__':
    main()
