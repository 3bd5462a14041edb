"""Server memory per open Job Management tab, and push latency from a job's commit to its row in every tab."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Browser, Page

from bench.report import Figure, percentile
from bench.server import Server, new_context, open_jobs_page

PUSH_TARGET_MS = 250.0
TAB_TARGET_MB = 1.0
MAX_CHANGED_ROWS = 50
# Tall tabs, so that at 50 changes per second each visible row changes only about once a second: a row changed
# again before the first change showed would hide that change (the page coalesces to the latest row).
TAB_HEIGHT = 2600
LABELS = {'completed': 'Completed', 'failed': 'Failed', 'in_progress': 'In Progress'}
CLIENTS_GONE_TIMEOUT = 40.0  # NiceGUI keeps a closed tab's client for reconnect_timeout (10 s) first

VISIBLE_ROWS = """() => {
  const box = document.querySelector('.ag-body-viewport').getBoundingClientRect();
  return [...document.querySelectorAll('.ag-center-cols-container .ag-row[row-id]')]
    .filter((row) => {
      const r = row.getBoundingClientRect();
      return r.height > 0 && r.top >= box.top && r.bottom <= box.bottom && r.bottom <= window.innerHeight;
    })
    .map((row) => Number(row.getAttribute('row-id')));
}"""
STATUSES = """(ids) => ids.map((id) => {
  const row = document.querySelector(`.ag-center-cols-container .ag-row[row-id="${id}"]`);
  const icon = row && row.querySelector('[col-id="status"] [aria-label]');
  return icon ? icon.getAttribute('aria-label') : null;
})"""
# Records, for the tracked rows, every change of the status shown, with the wall clock time (Date.now()) of the
# DOM change: the MutationObserver callback runs right after the change, before the next paint.
OBSERVER = """(ids) => {
  const tracked = new Set(ids.map(String));
  const container = document.querySelector('.ag-center-cols-container');
  const shown = new Map();
  const read = (row) => {
    const icon = row.querySelector('[col-id="status"] [aria-label]');
    return icon ? icon.getAttribute('aria-label') : null;
  };
  for (const row of container.querySelectorAll('.ag-row[row-id]')) shown.set(row.getAttribute('row-id'), read(row));
  window.__benchSeen = [];
  new MutationObserver((records) => {
    const now = Date.now();
    const rows = new Set();
    for (const record of records) {
      const node = record.target.nodeType === 1 ? record.target : record.target.parentElement;
      const row = node && node.closest('.ag-row[row-id]');
      if (row) rows.add(row);
    }
    for (const row of rows) {
      const id = row.getAttribute('row-id');
      if (!tracked.has(id)) continue;
      const status = read(row);
      if (status && status !== shown.get(id)) {
        shown.set(id, status);
        window.__benchSeen.push([Number(id), status, now]);
      }
    }
  }).observe(container, {childList: true, subtree: true, attributes: true, characterData: true});
}"""


def measure_tabs_and_push(
    browser: Browser, server: Server, *, tabs: int, rate: float, seconds: float, log: Callable[[str], None]
) -> list[Figure]:
    """Open ``tabs`` tabs (resident size before and after), then flip job statuses at ``rate`` per second."""
    clients = wait_for_clients(server, 0)
    before = server.rss_kb()
    context = new_context(browser, server.cookies, height=TAB_HEIGHT)
    try:
        pages = []
        for number in range(tabs):
            pages.append(open_jobs_page(context, server.url))
            if (number + 1) % 5 == 0:
                log(f'  {number + 1} tabs open')
        time.sleep(2)
        clients = server.hook('clients')['tabs']
        after = server.rss_kb()
        per_tab_mb = (after - before) / tabs / 1024
        log(f'  server RSS {before / 1024:.1f} MB → {after / 1024:.1f} MB with {clients} tabs connected: '
            f'{per_tab_mb:.2f} MB per tab')  # fmt: skip
        memory = Figure(
            f'Server memory per open Job Management tab ({tabs} tabs, RSS delta / {tabs})',
            per_tab_mb,
            'MB',
            TAB_TARGET_MB,
            details={'rss_before_kb': before, 'rss_after_kb': after, 'clients': clients, 'tabs': tabs},
        )
        return [memory, measure_push(server, pages, rate=rate, seconds=seconds, log=log)]
    finally:
        context.close()


def measure_push(
    server: Server, pages: list[Page], *, rate: float, seconds: float, log: Callable[[str], None]
) -> Figure:
    pages[0].bring_to_front()
    ids = sorted(pages[0].evaluate(VISIBLE_ROWS), reverse=True)[:MAX_CHANGED_ROWS]
    if not ids:
        raise RuntimeError('no rows visible to change')
    server.hook('push/reset', ids=ids)
    for page in pages:
        page.wait_for_function(f'({STATUSES})({ids}).every((status) => status === "Completed")')
        page.evaluate(OBSERVER, ids)
    log(f'  flipping the status of {len(ids)} visible jobs, {rate:g} changes/s for {seconds:g} s, in {len(pages)} tabs')
    result = server.hook('push/run', ids=ids, rate=rate, seconds=seconds)
    time.sleep(1.5)  # let the last changes arrive
    seen = [page.evaluate('window.__benchSeen') for page in pages]
    latencies, missed = match(result['commits'], seen)
    p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
    log(f'  push latency p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {max(latencies):.0f} ms over {len(latencies)} '
        f'row updates ({missed} never shown)')  # fmt: skip
    return Figure(
        f'Push: job commit → row visible, p50 / p95 ({len(pages)} tabs, {rate:g} changes/s)',
        p95,
        'ms',
        PUSH_TARGET_MS,
        shown=f'{p50:.0f} / {p95:.0f} ms',
        details={'p50': p50, 'p95': p95, 'max': max(latencies), 'samples': len(latencies), 'never_shown': missed,
                 'changed_rows': len(ids), 'changes': len(result['commits']), 'driver_seconds': result['seconds']},
    )  # fmt: skip


def match(commits: list[list[Any]], seen_per_tab: list[list[list[Any]]]) -> tuple[list[float], int]:
    """Pair each commit with the first later showing of its status in each tab; returns latencies (ms) and misses.

    A showing only counts for a commit if it comes before the job's next commit of the same status; otherwise the
    change was overtaken (coalesced away) and counts as never shown.
    """
    expiry: list[float] = []
    next_same: dict[tuple[int, str], float] = {}
    for job_id, status, committed in reversed(commits):
        expiry.append(next_same.get((job_id, status), float('inf')))
        next_same[job_id, status] = committed * 1000
    expiry.reverse()
    latencies: list[float] = []
    missed = 0
    for seen in seen_per_tab:
        shown: dict[int, list[tuple[str, float]]] = defaultdict(list)
        for job_id, label, at in seen:
            shown[job_id].append((label, at))
        cursor: dict[int, int] = defaultdict(int)
        for (job_id, status, committed), until in zip(commits, expiry, strict=True):
            committed_ms = committed * 1000
            entries, position = shown[job_id], cursor[job_id]
            while (
                position < len(entries)
                and entries[position][1] < until
                and not (entries[position][0] == LABELS[status] and entries[position][1] >= committed_ms - 1)
            ):
                position += 1
            if position == len(entries) or entries[position][1] >= until:
                missed += 1
                continue
            latencies.append(max(0.0, entries[position][1] - committed_ms))
            cursor[job_id] = position + 1
    return latencies, missed


def wait_for_clients(server: Server, expected: int) -> int:
    """Wait until tabs closed earlier are gone from the server, so they do not count against the new ones."""
    deadline = time.monotonic() + CLIENTS_GONE_TIMEOUT
    while True:
        clients: int = server.hook('clients')['tabs']
        if clients <= expected or time.monotonic() > deadline:
            return clients
        time.sleep(1)
