"""How soon a change reaches the grid: new jobs in every open tab, and a lone change to a row in one tab."""

from __future__ import annotations

import time
from collections.abc import Callable

from playwright.sync_api import Browser

from bench.push import measure_push, wait_for_clients
from bench.report import Figure, percentile
from bench.server import Server, new_context, open_jobs_page

NEW_ROWS_TARGET_MS = 250.0
LONE_CHANGE_TARGET_MS = 30.0
# Records when each row first appears in the grid (wall clock, Date.now(), right after the DOM change).
APPEARANCES = """() => {
  window.__benchAppeared = {};
  const container = document.querySelector('.ag-center-cols-container');
  const note = () => {
    const now = Date.now();
    for (const row of container.querySelectorAll('.ag-row[row-id]')) {
      const id = row.getAttribute('row-id');
      if (!(id in window.__benchAppeared)) window.__benchAppeared[id] = now;
    }
  };
  note();
  new MutationObserver(note).observe(container, {childList: true, subtree: true, attributes: true});
}"""


def measure_new_rows(
    browser: Browser, server: Server, *, tabs: int, count: int, log: Callable[[str], None]
) -> list[Figure]:
    """``count`` jobs launched back to back while ``tabs`` tabs show the list: launch → row in each tab."""
    wait_for_clients(server, 0)
    # A browser context (a window) per tab: background tabs of one window get no animation frames, so a grid in
    # one would not draw its new rows until brought to the front, which is not what a person at each screen sees.
    contexts = [new_context(browser, server.cookies) for _ in range(tabs)]
    try:
        pages = [open_jobs_page(context, server.url) for context in contexts]
        for page in pages:
            page.evaluate(APPEARANCES)
        pages[0].bring_to_front()
        launches = server.hook('launch', count=count, gap=0.0)['launches']
        time.sleep(1.5)
        latencies, missing = [], 0
        for page in pages:
            appeared = page.evaluate('window.__benchAppeared')
            for job_id, began in launches:
                if str(job_id) in appeared:
                    latencies.append(max(0.0, appeared[str(job_id)] - began * 1000))
                else:
                    missing += 1
    finally:
        for context in contexts:
            context.close()
    p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
    log(f'  new rows: launch → row visible p50 {p50:.0f} ms, p95 {p95:.0f} ms in {tabs} tabs ({missing} never shown)')
    return [
        Figure(
            f'Push: new job launched → row visible, p50 / p95 ({tabs} tabs, {count} jobs back to back)',
            p95 if not missing else None,
            'ms',
            NEW_ROWS_TARGET_MS,
            shown=f'{p50:.0f} / {p95:.0f} ms',
            note=f'{missing} rows never shown' if missing else '',
            details={
                'p50': p50,
                'p95': p95,
                'max': max(latencies, default=0),
                'samples': len(latencies),
                'never_shown': missing,
                'tabs': tabs,
            },
        )
    ]


def measure_lone_change(browser: Browser, server: Server, *, log: Callable[[str], None]) -> list[Figure]:
    """Changes that each come after a quiet spell (2 a second), one tab: commit → row shows the new status."""
    wait_for_clients(server, 0)
    context = new_context(browser, server.cookies)
    try:
        pages = [open_jobs_page(context, server.url)]
        figure = measure_push(server, pages, rate=2.0, seconds=10.0, log=log)
    finally:
        context.close()
    figure.name = 'Push: a lone change → row visible, p50 / p95 (1 tab, 2 changes/s)'
    figure.target = LONE_CHANGE_TARGET_MS
    return [figure]
