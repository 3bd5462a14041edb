"""Time from navigation to the first rows on Job Management, measured inside Chromium."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Browser

from bench.report import Figure, median
from bench.server import FIRST_ROW, JOBS_PATH, Server, new_context

TARGET_MS = 1000.0  # issue 17: first rows within a second at 1,000,000 jobs, on an empty cache too
# Installed before any page script runs; performance.now() counts from the start of the navigation.
FIRST_ROWS_PROBE = f"""
new MutationObserver((_records, observer) => {{
  if (document.querySelector('{FIRST_ROW}')) {{
    window.__benchFirstRows = performance.now();
    observer.disconnect();
  }}
}}).observe(document, {{childList: true, subtree: true, attributes: true}});
"""
# Where the time went: the document, the scripts, the grid's first /api/jobs request.
BREAKDOWN = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const resources = performance.getEntriesByType('resource');
  const api = resources.find((entry) => entry.name.includes('/api/jobs'));
  const socket = resources.find((entry) => entry.name.includes('socket.io'));
  return {
    document_ms: nav.responseEnd,
    dom_content_loaded_ms: nav.domContentLoadedEventEnd,
    load_ms: nav.loadEventEnd,
    first_socket_request_ms: socket ? socket.startTime : null,
    api_request_ms: api ? api.startTime : null,
    api_response_ms: api ? api.responseEnd : null,
    resources: resources.length,
    transferred_kb: Math.round(resources.reduce((sum, entry) => sum + entry.transferSize, nav.transferSize) / 1024),
  };
}"""


def measure_first_rows(browser: Browser, server: Server, *, runs: int, log: Callable[[str], None]) -> list[Figure]:
    """Each run opens a fresh browser context (empty cache, session cookie only), then navigates again (warm)."""
    cold: list[float] = []
    warm: list[float] = []
    breakdowns: list[dict[str, float]] = []
    for number in range(runs):
        context = new_context(browser, server.cookies)
        context.add_init_script(FIRST_ROWS_PROBE)
        page = context.new_page()
        for timings in (cold, warm):
            page.goto(f'{server.url}{JOBS_PATH}')
            page.locator(FIRST_ROW).first.wait_for(state='visible')
            page.wait_for_function('window.__benchFirstRows !== undefined')
            timings.append(float(page.evaluate('window.__benchFirstRows')))
            breakdowns.append({'first_rows_ms': timings[-1], **page.evaluate(BREAKDOWN)})
        context.close()
        log(f'  run {number + 1}: first rows after {cold[-1]:.0f} ms (empty cache), {warm[-1]:.0f} ms (warm cache)')
        log(f'    empty cache: {describe(breakdowns[-2])}')
    return [
        Figure(
            f'Browser: navigation → first rows visible, median of {runs} (empty cache)',
            median(cold),
            'ms',
            TARGET_MS,
            details={'runs_ms': cold, 'breakdowns': breakdowns[::2]},
        ),
        Figure(
            f'Browser: navigation → first rows visible, median of {runs} (warm cache)',
            median(warm),
            'ms',
            TARGET_MS,
            details={'runs_ms': warm, 'breakdowns': breakdowns[1::2]},
        ),
    ]


def describe(breakdown: dict[str, float]) -> str:
    def ms(key: str) -> str:
        value = breakdown.get(key)
        return f'{value:.0f}' if value is not None else '?'

    return (
        f'document {ms("document_ms")} ms, DOMContentLoaded {ms("dom_content_loaded_ms")} ms, '
        f'websocket {ms("first_socket_request_ms")} ms, /api/jobs {ms("api_request_ms")}→{ms("api_response_ms")} ms, '
        f'{breakdown["resources"]} resources, {breakdown["transferred_kb"]} KB'
    )
