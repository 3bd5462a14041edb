"""The Overview page, GET /api/stats and the CSV export: figures that agree with the job list, per user."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from nicegui import ui
from nicegui.testing import User

from app.pages.overview import ROW_CLICK_JS
from app.services import Services
from app.storage import jobs as queries
from app.storage.models import Job
from tests.pages.conftest import add_user, make_job, owner_ids


def started_hours_ago(services: Services, job_id: int, hours: float) -> None:
    with services.engine.begin() as connection:
        started = datetime.now(UTC) - timedelta(hours=hours)
        connection.execute(sa.update(Job).where(Job.id == job_id).values(started_at=started))


@pytest.fixture
def history(people: dict[str, User], services: Services) -> dict[str, list[int]]:
    """Jobs of ann and bob over the last 40 days: finished, failed and running, general and imports."""
    ids = owner_ids(services)
    made: dict[str, list[int]] = {'ann': [], 'bob': []}
    for number, hours in enumerate([0.5, 2, 20, 30, 100, 200, 500, 900]):
        for name in ('ann', 'bob'):
            job_id = make_job(services, ids[name], category='import' if number % 3 == 0 else 'general',
                              description=f'=cmd|{name} {number}')  # fmt: skip
            if number % 4 != 1:
                queries.finish_job(services.engine, job_id=job_id, error='broke' if number % 2 else None)
            started_hours_ago(services, job_id, hours)
            made[name].append(job_id)
    return made


async def test_stats_agree_with_the_job_list_per_user_and_window(
    people: dict[str, User], history: dict[str, list[int]]
) -> None:
    for name in ('ann', 'bob', 'admin'):
        client = people[name].http_client
        for window in ('24h', '7d', '30d'):
            stats = (await client.get(f'/api/stats?window={window}')).json()
            assert stats['window'] == window
            since = stats['series'][0]['start']
            for status, count in stats['counts'].items():
                listed = (await client.get('/api/jobs', params={'status': status, 'since': since})).json()
                assert listed['total'] == count, (name, window, status)
            assert sum(job['runs'] for job in stats['by_job']) == sum(stats['counts'].values())
    assert (await people['ann'].http_client.get('/api/stats?window=1y')).status_code == 422
    assert (await people['anonymous'].http_client.get('/api/stats')).status_code == 401


@pytest.mark.parametrize(
    'query',
    ['category=general', 'category=import&sort=id', 'status=failed&sort=-description', 'q=ann&sort=run_by', ''],
)
async def test_export_holds_every_row_the_list_selects_in_its_order(
    people: dict[str, User], history: dict[str, list[int]], query: str
) -> None:
    client = people['admin'].http_client
    listed = (await client.get(f'/api/jobs?limit=1000&{query}')).json()['rows']
    response = await client.get(f'/api/jobs.csv?{query}')
    assert response.status_code == 200 and response.headers['content-type'].startswith('text/csv')
    tab = {'category=general': 'general', 'category=import': 'imports'}.get(query.split('&')[0], 'all')
    disposition = response.headers['content-disposition']
    assert re.fullmatch(rf'attachment; filename="jobs-{tab}-\d{{8}}-\d{{6}}\.csv"', disposition), disposition
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ['id', 'job', 'description', 'status', 'start', 'end', 'failed', 'run_by', 'run_at', 'error']
    assert [int(row[0]) for row in rows[1:]] == [job['id'] for job in listed]
    for row, job in zip(rows[1:], listed, strict=True):
        assert row[2] == "'" + job['description']  # "=cmd|..." would run in a spreadsheet
        assert row[3] == {'in_progress': 'In Progress', 'completed': 'Completed', 'failed': 'Failed'}[job['status']]
        assert row[4] == job['started_at'] and row[7] == job['run_by']


async def test_a_user_exports_only_their_own_jobs(people: dict[str, User], history: dict[str, list[int]]) -> None:
    rows = list(csv.reader(io.StringIO((await people['ann'].http_client.get('/api/jobs.csv')).text)))
    assert sorted(int(row[0]) for row in rows[1:]) == sorted(history['ann'])
    assert (await people['ann'].http_client.get('/api/jobs.csv?limit=5&sort=password')).status_code == 422


async def test_overview_page_shows_counters_chart_and_jobs_linking_to_the_list(
    people: dict[str, User], history: dict[str, list[int]]
) -> None:
    user = people['ann']
    await user.open('/settings/maintenance/overview?window=7d')
    await user.should_see('Job Overview')
    for label in ('24 hours', '7 days', '30 days', 'In Progress', 'Completed', 'Failed', 'By job'):
        await user.should_see(label)
    stats = (await user.http_client.get('/api/stats?window=7d')).json()
    for status, count in stats['counts'].items():
        [shown] = user.find(marker=f'count-{status}').elements
        assert isinstance(shown, ui.link) and shown.text == f'{count:,}'
        # Clicking the counter itself opens Job Management filtered to that status and window.
        assert re.fullmatch(rf'/settings/maintenance/jobs\?tab=(general|imports)&since=[^&]+&status={status}',
                            shown.props['href']), shown.props['href']  # fmt: skip
    table = user.find(marker='by-job').elements.pop()
    assert isinstance(table, ui.table)
    assert [column['label'] for column in table.columns] == [
        'Job', 'Runs', 'Failed', 'Failure rate', 'Median duration', '95th percentile duration', 'Last run',
    ]  # fmt: skip
    assert [row['job'] for row in table.rows] == [job['job'] for job in stats['by_job']]
    assert all(row['href'].startswith('/settings/maintenance/jobs?tab=') for row in table.rows)
    # Clicking anywhere on a row opens that href (in the browser, without a round trip).
    assert [listener.js_handler for listener in table._event_listeners.values() if listener.type == 'rowClick'] == [
        ROW_CLICK_JS
    ]
    counters = {element.id for status in stats['counts'] for element in user.find(marker=f'count-{status}').elements}
    links = [link.props['href'] for link in user.find(ui.link).elements
             if 'status=failed' in link.props['href'] and link.id not in counters]  # fmt: skip
    assert {re.sub(r'since=[^&]+', 'since=S', href) for href in links} == {
        '/settings/maintenance/jobs?tab=general&since=S&status=failed',
        '/settings/maintenance/jobs?tab=imports&since=S&status=failed',
    }


def notices(people: dict[str, User]) -> list[str]:
    """Every notice shown. The simulation hands ``ui.notify`` to whichever simulated browser was touched last, and a
    push to another browser's page touches that one: so the notices are gathered from all of them."""
    return [message for browser in people.values() for message in browser.notify.messages]


async def test_a_finished_job_of_yours_is_announced_on_any_page(people: dict[str, User], services: Services) -> None:
    ids, ann = owner_ids(services), people['ann']
    await ann.open('/imports')
    mine = await services.jobs.launch('test_steps', description='mine', run_by_id=ids['ann'], run_at='/x',
                                      params={'fail_at': 2})  # fmt: skip
    # The other job's owner has no page open, and admins are told of their own jobs only.
    theirs = await services.jobs.launch('test_steps', description='theirs', run_by_id=add_user(services, 'cy'),
                                        run_at='/x')  # fmt: skip
    await services.jobs.wait_idle()
    told = f'Job {mine} (Test Steps) failed'
    for _ in range(100):
        if told in notices(people):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # time for a notice that should not come
    assert notices(people).count(told) == 2  # once on each of ann's pages: the one she logged in to and /imports
    assert not any(f'Job {theirs} ' in notice for notice in notices(people))
