"""axe-core (through axe-playwright-python) finds no serious or critical accessibility problem on any page."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page

from tests.e2e.conftest import Server, log_in

SERIOUS = {'serious', 'critical'}


def problems(page: Page) -> list[str]:
    """The serious and critical violations axe finds on the page as it is now, one line each."""
    results: Any = Axe().run(page)
    return [
        f'{violation["id"]} ({violation["impact"]}): {violation["help"]} at '
        + '; '.join(
            f'{" ".join(node["target"])} {node["html"][:120]} {node.get("failureSummary", "")[:160]}'
            for node in violation['nodes'][:3]
        )
        for violation in results.response['violations']
        if violation['impact'] in SERIOUS
    ]


@pytest.mark.parametrize('scheme', ['light', 'dark'])
def test_every_page_passes_axe(browser: Browser, server: Server, scheme: str) -> None:
    context = browser.new_context(viewport={'width': 1400, 'height': 900}, color_scheme=scheme)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(f'{server.url}/login')
        page.wait_for_timeout(500)
        found = {'/login': problems(page)}
        log_in(page, server)
        assert server.cli('token', 'create', 'admin', '--name', f'axe {scheme}').returncode == 0  # a row to check
        job = page.request.post(f'{server.url}/_test/launch/test_steps?fail_at=2').json()['id']
        pages = ['/settings/maintenance/overview', '/settings/maintenance/jobs', f'/settings/maintenance/jobs/{job}',
                 '/imports', '/settings/maintenance/tasks', '/settings/users', '/settings/account',
                 '/no/such/page']  # fmt: skip
        for path in pages:
            page.goto(f'{server.url}{path}')
            page.wait_for_timeout(1200)  # grids fetch their rows, charts draw
            found[path] = problems(page)
    finally:
        context.close()
    bad = {path: issues for path, issues in found.items() if issues}
    assert not bad, '\n'.join(f'{path}: {issue}' for path, issues in bad.items() for issue in issues)
