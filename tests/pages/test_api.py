"""GET /api/jobs, /api/jobs/{id} and /files/{id}: shapes, sorting, validation and who sees what."""

from __future__ import annotations

from datetime import datetime

import pytest
from nicegui.testing import User

from app.services import Services
from tests.pages.conftest import attach_file, make_job, owner_ids


async def test_list_shape_and_newest_first(people: dict[str, User], services: Services) -> None:
    ids = owner_ids(services)
    first = make_job(services, ids['ann'], description='first')
    second = make_job(services, ids['bob'], category='import', description='second')
    response = await people['admin'].http_client.get('/api/jobs')
    assert response.status_code == 200
    body = response.json()
    assert (body['total'], body['total_is_exact']) == (2, True)
    assert [row['id'] for row in body['rows']] == [second, first]
    row = body['rows'][1]
    assert set(row) >= {'id', 'job', 'category', 'description', 'status', 'started_at', 'ended_at', 'failed_at',
                        'run_by', 'run_at', 'error'}  # fmt: skip
    assert row['status'] == 'in_progress' and row['run_by'] == 'ann' and row['job'] == 'Test Steps'
    assert datetime.fromisoformat(row['started_at']).utcoffset() is not None
    assert row['ended_at'] is None and row['error'] is None


async def test_category_filter_paging_and_sort(people: dict[str, User], services: Services) -> None:
    ids = owner_ids(services)
    made = [make_job(services, ids['ann'], description=f'job {n:02}') for n in range(5)]
    make_job(services, ids['ann'], category='import')
    client = people['admin'].http_client
    page = (await client.get('/api/jobs?category=general&offset=1&limit=2')).json()
    assert page['total'] == 5
    assert [row['id'] for row in page['rows']] == [made[3], made[2]]
    ascending = (await client.get('/api/jobs?category=general&sort=description')).json()
    assert [row['description'] for row in ascending['rows']] == [f'job {n:02}' for n in range(5)]
    by_id = (await client.get('/api/jobs?category=general&sort=-id&limit=1')).json()
    assert by_id['rows'][0]['id'] == made[-1]


@pytest.mark.parametrize(
    'query', ['limit=1001', 'limit=0', 'offset=-1', 'sort=password_hash', 'category=secret', 'limit=abc']
)
async def test_invalid_parameters_answer_422_with_a_message(people: dict[str, User], query: str) -> None:
    response = await people['admin'].http_client.get(f'/api/jobs?{query}')
    assert response.status_code == 422
    assert response.json()['detail']


async def test_users_see_only_their_own_jobs_and_files(people: dict[str, User], services: Services) -> None:
    ids = owner_ids(services)
    anns = make_job(services, ids['ann'], description='ann job')
    bobs = make_job(services, ids['bob'], description='bob job')
    file_id = attach_file(services, anns, b'line,email\n', 'ann-result.csv')
    ann, bob, admin = people['ann'].http_client, people['bob'].http_client, people['admin'].http_client

    assert [r['id'] for r in (await ann.get('/api/jobs')).json()['rows']] == [anns]
    assert [r['id'] for r in (await bob.get('/api/jobs')).json()['rows']] == [bobs]
    assert (await admin.get('/api/jobs')).json()['total'] == 2

    assert (await ann.get(f'/api/jobs/{anns}')).status_code == 200
    hidden, missing = await bob.get(f'/api/jobs/{anns}'), await bob.get('/api/jobs/999999')
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()  # an invisible job looks exactly like a nonexistent one
    assert (await admin.get('/api/jobs/not-a-number')).status_code == 404

    download = await ann.get(f'/files/{file_id}')
    assert download.status_code == 200
    assert download.content == b'line,email\n'
    assert 'attachment' in download.headers['content-disposition']
    assert 'ann-result.csv' in download.headers['content-disposition']
    assert (await admin.get(f'/files/{file_id}')).status_code == 200
    assert (await bob.get(f'/files/{file_id}')).status_code == 404
    assert (await bob.get('/files/424242')).status_code == 404


async def test_detail_lists_subtasks_and_files(people: dict[str, User], services: Services) -> None:
    from app.storage import jobs as queries

    ids = owner_ids(services)
    job_id = make_job(services, ids['ann'])
    queries.start_subtask(services.engine, job_id=job_id, name='Read file')
    file_id = attach_file(services, job_id, b'x', 'input.csv', role='input')
    detail = (await people['ann'].http_client.get(f'/api/jobs/{job_id}')).json()
    assert detail['subtasks'] == [
        {'name': 'Read file', 'status': 'in_progress', 'updated_at': detail['subtasks'][0]['updated_at'], 'message': ''}
    ]
    assert detail['files'] == [
        {'id': file_id, 'role': 'input', 'filename': 'input.csv', 'size': 1, 'url': f'/files/{file_id}'}
    ]


@pytest.mark.parametrize('path', ['/api/jobs', '/api/jobs/1', '/files/1'])
async def test_anonymous_requests_answer_401(user: User, path: str) -> None:
    response = await user.http_client.get(path)
    assert response.status_code == 401
    assert response.json()['error'] == 'Not authenticated'  # the API's error shape, as its OpenAPI says


async def test_a_wrong_method_answers_the_api_error_shape(people: dict[str, User]) -> None:
    response = await people['admin'].http_client.post('/api/jobs')
    assert response.status_code == 405
    assert response.json()['error'] == 'Method Not Allowed'


@pytest.mark.parametrize('path', ['/files/..%2F..%2Fjobs.db', '/files/%2Fetc%2Fpasswd', '/files/1%2F..%2F..'])
async def test_path_tricks_never_serve_a_file(people: dict[str, User], path: str) -> None:
    response = await people['admin'].http_client.get(path)
    assert response.status_code == 404


async def test_filters_narrow_the_list_in_sql(people: dict[str, User], services: Services) -> None:
    from app.storage import jobs as queries

    ids = owner_ids(services)
    nightly = make_job(services, ids['ann'], description='Nightly 100% sync')
    queries.finish_job(services.engine, job_id=nightly, error='boom')
    weekly = make_job(services, ids['bob'], description='weekly report')
    queries.finish_job(services.engine, job_id=weekly)
    running = make_job(services, ids['ann'], description='still running', category='import')
    client = people['admin'].http_client

    async def ids_for(query: str) -> list[int]:
        response = await client.get(f'/api/jobs?{query}')
        assert response.status_code == 200, response.text
        return [row['id'] for row in response.json()['rows']]

    assert await ids_for('status=failed') == [nightly]
    assert await ids_for('status=completed') == [weekly]
    assert await ids_for('run_by=ann') == [running, nightly]
    assert await ids_for('run_by=nobody') == []
    assert await ids_for('job=Test%20Steps&category=import') == [running]
    assert await ids_for('q=REPORT') == [weekly]  # case-insensitive
    assert await ids_for('q=100%25') == [nightly]  # % is a literal, not a wildcard
    assert await ids_for(f'q={running}') == [running]  # a number also finds the job id
    assert await ids_for('since=2000-01-01&until=2999-12-31') == [running, weekly, nightly]
    assert await ids_for('until=2000-01-01') == []
    assert await ids_for('status=completed&run_by=ann') == []
    # a user's filters never widen what they may see
    assert [row['id'] for row in (await people['ann'].http_client.get('/api/jobs?run_by=bob')).json()['rows']] == []


@pytest.mark.parametrize('query', ['status=done', 'since=yesterday', 'until=2026-13-01', f'q={"x" * 201}'])
async def test_invalid_filters_answer_422(people: dict[str, User], query: str) -> None:
    response = await people['admin'].http_client.get(f'/api/jobs?{query}')
    assert response.status_code == 422
    assert response.json()['detail']
