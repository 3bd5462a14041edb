"""POST /api/jobs/{id}/cancel and /rerun, GET /api/jobs/{id}/log and log.txt: answers, effects and who may."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from nicegui.testing import User

from app.jobs.imports import NOT_CSV, refused_params
from app.services import Services
from app.storage import jobs as queries
from app.storage.models import User as Account
from app.storage.users import list_users
from tests.pages.conftest import attach_file, make_job, owner_ids


def account(services: Services, name: str) -> Account:
    return next(u for u in list_users(services.engine) if u.username == name)


async def launch(services: Services, owner: str, **params: Any) -> int:
    user = account(services, owner)
    assert user.id is not None
    return await services.jobs.launch('test_steps', description='steps', run_by_id=user.id, run_at='/x',
                                      params=params)  # fmt: skip


async def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError('condition not met in time')


def job(services: Services, job_id: int) -> dict[str, Any]:
    detail = queries.get_job(services.engine, viewer=account(services, 'admin'), job_id=job_id)
    assert detail is not None
    return detail


async def test_cancel_ends_the_job_failed_with_who_cancelled_it(people: dict[str, User], services: Services) -> None:
    job_id = await launch(services, 'ann', steps=4, delay=0.6)
    await wait_for(lambda: len(job(services, job_id)['subtasks']) == 2)  # in step 2
    response = await people['ann'].http_client.post(f'/api/jobs/{job_id}/cancel')
    assert response.status_code == 202
    assert response.json()['id'] == job_id and response.json()['cancelled_by'] == 'ann'
    started = asyncio.get_running_loop().time()
    await wait_for(lambda: job(services, job_id)['status'] != 'in_progress', timeout=5)
    assert asyncio.get_running_loop().time() - started < 5
    detail = job(services, job_id)
    assert (detail['status'], detail['error'], detail['cancelled_by']) == ('failed', 'Cancelled by ann', 'ann')
    assert [(s['name'], s['status'], s['message']) for s in detail['subtasks']] == [
        ('Step 1', 'completed', ''),
        ('Step 2', 'failed', 'Cancelled'),
    ]  # later steps never start
    again = await people['ann'].http_client.post(f'/api/jobs/{job_id}/cancel')
    assert again.status_code == 409 and again.json()['error']


async def test_only_those_who_see_a_job_may_cancel_it(people: dict[str, User], services: Services) -> None:
    job_id = await launch(services, 'ann', steps=3, delay=0.5)
    assert (await people['bob'].http_client.post(f'/api/jobs/{job_id}/cancel')).status_code == 404
    assert (await people['anonymous'].http_client.post(f'/api/jobs/{job_id}/cancel')).status_code == 401
    assert (await people['admin'].http_client.post('/api/jobs/99999/cancel')).status_code == 404
    assert (await people['admin'].http_client.post('/api/jobs/x1/cancel')).status_code == 404
    response = await people['admin'].http_client.post(f'/api/jobs/{job_id}/cancel')
    assert response.status_code == 202
    await services.jobs.wait_idle()
    assert job(services, job_id)['error'] == 'Cancelled by admin'


async def test_rerun_copies_inputs_and_params_and_links_both_ways(people: dict[str, User], services: Services) -> None:
    job_id = await launch(services, 'ann', steps=2, fail_at=2)
    input_id = attach_file(services, job_id, b'name,email\n', 'people.csv', role='input')
    await services.jobs.wait_idle()
    assert job(services, job_id)['status'] == 'failed'
    response = await people['ann'].http_client.post(f'/api/jobs/{job_id}/rerun')
    assert response.status_code == 201
    new = response.json()
    assert new['id'] != job_id and new['rerun_of'] == job_id and new['run_by'] == 'ann' and new['job'] == 'Test Steps'
    await services.jobs.wait_idle()
    rerun = job(services, new['id'])
    assert rerun['status'] == 'failed' and rerun['error'] == 'Step 2 broke'  # same params, same outcome
    inputs = [f for f in rerun['files'] if f['role'] == 'input']
    assert [f['filename'] for f in inputs] == ['people.csv'] and inputs[0]['id'] != input_id
    download = await people['ann'].http_client.get(inputs[0]['url'])
    assert download.content == b'name,email\n'
    assert job(services, job_id)['reruns'] == [new['id']]
    admin_rerun = await people['admin'].http_client.post(f'/api/jobs/{job_id}/rerun')
    assert admin_rerun.status_code == 201 and admin_rerun.json()['run_by'] == 'admin'


async def test_rerun_refusals(people: dict[str, User], services: Services) -> None:
    ids = owner_ids(services)
    running = make_job(services, ids['ann'])  # recorded, never ended: still running
    assert (await people['ann'].http_client.post(f'/api/jobs/{running}/rerun')).status_code == 409
    finished = make_job(services, ids['ann'])
    queries.finish_job(services.engine, job_id=finished)
    assert (await people['bob'].http_client.post(f'/api/jobs/{finished}/rerun')).status_code == 404
    assert (await people['anonymous'].http_client.post(f'/api/jobs/{finished}/rerun')).status_code == 401
    backup = queries.create_job(
        services.engine,
        job_type='database_backup',
        name='Database Backup',
        category='general',
        description='b',
        run_by_id=ids['admin'],
        run_at='/t',
        params={},
    )
    queries.finish_job(services.engine, job_id=backup['id'])
    queries.create_job(services.engine, job_type='database_backup', name='Database Backup', category='general',
                       description='still going', run_by_id=ids['admin'], run_at='/t', params={})  # fmt: skip
    response = await people['admin'].http_client.post(f'/api/jobs/{backup["id"]}/rerun')
    assert response.status_code == 409 and 'already running' in response.json()['error']


async def test_log_lines_in_order_and_as_text(people: dict[str, User], services: Services) -> None:
    job_id = await launch(services, 'ann', steps=3)
    await services.jobs.wait_idle()
    client = people['ann'].http_client
    await wait_for(lambda: job(services, job_id)['log_seq'] >= 3)
    body = (await client.get(f'/api/jobs/{job_id}/log')).json()
    assert body['dropped'] == 0
    assert [line['message'] for line in body['lines']] == ['Step 1 done', 'Step 2 done', 'Step 3 done']
    assert [line['seq'] for line in body['lines']] == [1, 2, 3]
    assert all(datetime.fromisoformat(line['at']).utcoffset() is not None for line in body['lines'])
    after = (await client.get(f'/api/jobs/{job_id}/log?after=2')).json()
    assert [line['seq'] for line in after['lines']] == [3]
    text = await client.get(f'/api/jobs/{job_id}/log.txt')
    assert text.status_code == 200 and text.headers['content-type'].startswith('text/plain')
    assert 'attachment' in text.headers['content-disposition']
    first = text.text.splitlines()[0].split(' ', 2)
    assert datetime.fromisoformat(first[0]).utcoffset() is not None and first[1:] == ['INFO', 'Step 1 done']
    for path in (f'/api/jobs/{job_id}/log', f'/api/jobs/{job_id}/log.txt'):
        assert (await people['bob'].http_client.get(path)).status_code == 404
        assert (await people['anonymous'].http_client.get(path)).status_code == 401
    assert (await client.get(f'/api/jobs/{job_id}/log?after=-1')).status_code == 422


async def test_job_shape_has_progress_rerun_and_cancel_fields(people: dict[str, User], services: Services) -> None:
    job_id = await launch(services, 'ann', steps=3)
    await services.jobs.wait_idle()
    row = (await people['ann'].http_client.get(f'/api/jobs/{job_id}')).json()
    assert row['progress'] == {'percent': 100.0, 'eta_seconds': None}
    assert row['rerun_of'] is None and row['cancelled_by'] is None
    never = make_job(services, owner_ids(services)['ann'])
    listed = (await people['ann'].http_client.get('/api/jobs')).json()['rows']
    assert next(r for r in listed if r['id'] == never)['progress'] is None


async def test_rerun_of_a_job_whose_input_is_gone_is_refused(people: dict[str, User], services: Services) -> None:
    ids = owner_ids(services)
    finished = make_job(services, ids['ann'])
    file_id = attach_file(services, finished, b'name,email\n', 'gone.csv', role='input')
    queries.finish_job(services.engine, job_id=finished)
    job_file = queries.get_file(services.engine, viewer=account(services, 'admin'), file_id=file_id)
    assert job_file is not None
    services.files.delete(job_file.relative_path)
    response = await people['ann'].http_client.post(f'/api/jobs/{finished}/rerun')
    assert response.status_code == 409 and 'no longer stored' in response.json()['error']
    assert job(services, finished)['reruns'] == []


async def test_an_import_whose_file_was_refused_is_not_run_again(people: dict[str, User], services: Services) -> None:
    refused = await services.jobs.launch('contacts_import', description='Import of notes.txt',
                                         run_by_id=owner_ids(services)['ann'], run_at='/imports',
                                         params=refused_params('notes.txt', NOT_CSV))  # fmt: skip
    await services.jobs.wait_idle()
    assert job(services, refused)['status'] == 'failed'
    response = await people['ann'].http_client.post(f'/api/jobs/{refused}/rerun')
    assert response.status_code == 409 and 'upload the file again' in response.json()['error']
    assert job(services, refused)['reruns'] == []


def test_log_text_says_how_many_older_lines_were_dropped() -> None:
    from app.pages.api_actions import log_text
    from app.storage.job_actions import LogLine
    from app.storage.models import utcnow

    at = utcnow()
    text = log_text([LogLine(10_001, at, 'warning', 'late'), LogLine(10_002, at, 'info', 'last')], 10_000)
    assert text.splitlines() == [
        f'{at.isoformat()} INFO 10,000 earlier lines dropped (only the newest are kept)',
        f'{at.isoformat()} WARNING late',
        f'{at.isoformat()} INFO last',
    ]
