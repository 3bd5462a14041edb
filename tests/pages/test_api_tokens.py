"""Scripts with API tokens: Bearer auth on /api/ and /files/, POST /api/imports, POST /api/tasks/{key}/run, docs."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from nicegui.testing import User

from app.pages.imports import EXAMPLE_CSV
from app.services import Services
from app.storage import tokens, users
from tests.pages.conftest import add_user, attach_file, make_job, owner_ids
from tests.pages.test_imports_page import upload

BAD_CSV = b'name,email\r\nAda,ada@example.org\r\n,not-an-email\r\n'


def bearer(secret: str) -> dict[str, str]:
    return {'Authorization': f'Bearer {secret}'}


def token_for(services: Services, username: str) -> str:
    return tokens.create_token(services.engine, username=username, name='script').secret


async def finished(client: httpx.AsyncClient, job_id: int, headers: dict[str, str]) -> dict[str, Any]:
    for _ in range(200):
        job: dict[str, Any] = (await client.get(f'/api/jobs/{job_id}', headers=headers)).json()
        if job['status'] != 'in_progress':
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f'job {job_id} did not finish')


async def test_a_token_sees_what_its_user_sees_until_revoked_or_disabled(
    people: dict[str, User], services: Services
) -> None:
    ids = owner_ids(services)
    anns, bobs = make_job(services, ids['ann']), make_job(services, ids['bob'])
    file_id = attach_file(services, anns, b'x\n', 'ann.csv')
    secret = token_for(services, 'ann')
    client = people['anonymous'].http_client  # no cookie at all
    listed = await client.get('/api/jobs', headers=bearer(secret))
    assert listed.status_code == 200
    assert [row['id'] for row in listed.json()['rows']] == [anns]
    assert (await client.get(f'/api/jobs/{bobs}', headers=bearer(secret))).status_code == 404
    assert (await client.get(f'/files/{file_id}', headers=bearer(secret))).content == b'x\n'
    for bad in ('jm_made-up', 'nonsense', ''):
        answer = await client.get('/api/jobs', headers=bearer(bad))
        assert answer.status_code == 401 and answer.json()['error']
    # A bad token is refused even from a logged-in browser.
    assert (await people['bob'].http_client.get('/api/jobs', headers=bearer('jm_x'))).status_code == 401
    users.set_disabled(services.engine, username='ann', disabled=True)
    assert (await client.get('/api/jobs', headers=bearer(secret))).status_code == 401
    assert (await client.get(f'/files/{file_id}', headers=bearer(secret))).status_code == 401
    users.set_disabled(services.engine, username='ann', disabled=False)
    assert (await client.get('/api/jobs', headers=bearer(secret))).status_code == 200
    [token] = tokens.list_tokens(services.engine, user_id=ids['ann'])
    assert token.last_used_at is not None
    tokens.revoke_token(services.engine, user_id=ids['ann'], token_id=token.id or 0)
    assert (await client.get('/api/jobs', headers=bearer(secret))).status_code == 401


async def test_import_over_the_api_gives_the_same_job_and_reports_as_the_page(
    people: dict[str, User], services: Services
) -> None:
    secret = token_for(services, 'ann')
    client = people['anonymous'].http_client
    answer = await client.post(
        '/api/imports', headers=bearer(secret), files={'file': ('contacts.csv', BAD_CSV, 'text/csv')}
    )
    assert answer.status_code == 201, answer.text
    job = answer.json()
    assert (job['job'], job['category'], job['description'], job['run_by'], job['run_at']) == (
        'Contacts Import', 'import', 'Import of contacts.csv', 'ann', '/imports',
    )  # fmt: skip
    done = await finished(client, job['id'], bearer(secret))
    assert done['status'] == 'failed'
    assert [(s['name'], s['status']) for s in done['subtasks']] == [
        ('Read file', 'completed'), ('Validate rows', 'failed'), ('Write contacts', 'completed'),
        ('Write reports', 'completed'),
    ]  # fmt: skip
    files = {f['role']: f for f in done['files']}
    assert files['input']['filename'] == 'contacts.csv'
    assert files['output']['filename'] == 'contacts-result.csv'
    assert files['error_report']['filename'] == 'contacts-errors.csv'
    # The same file uploaded on /imports by the same user: the same subtasks and byte-identical reports.
    await people['ann'].open('/imports')
    await upload(people['ann'], BAD_CSV, 'contacts.csv')
    await people['ann'].should_see(f'View job {job["id"] + 1}', retries=40)
    await services.jobs.wait_idle()
    page_job = next(
        r for r in (await client.get('/api/jobs', headers=bearer(secret))).json()['rows'] if r['id'] != job['id']
    )
    by_page = await finished(client, page_job['id'], bearer(secret))
    # (the second run updates the contact the first one created)
    seen = [(s['name'], s['status'], s['message'].replace('0 created, 1 updated', '1 created, 0 updated'))
            for s in by_page['subtasks']]  # fmt: skip
    assert seen == [(s['name'], s['status'], s['message']) for s in done['subtasks']]
    page_files = {f['role']: f for f in by_page['files']}
    for role in ('output', 'error_report'):
        ours = await client.get(files[role]['url'], headers=bearer(secret))
        theirs = await client.get(page_files[role]['url'], headers=bearer(secret))
        assert ours.status_code == theirs.status_code == 200
        assert ours.content == theirs.content.replace(b',updated,', b',created,') and ours.content.startswith(b'line,')
    good = await client.post('/api/imports', headers=bearer(secret), files={'file': ('ok.csv', EXAMPLE_CSV)})
    assert (await finished(client, good.json()['id'], bearer(secret)))['status'] == 'completed'


async def test_import_over_the_api_refuses_what_the_page_refuses(people: dict[str, User], services: Services) -> None:
    secret = token_for(services, 'ann')
    client = people['anonymous'].http_client
    wrong = await client.post('/api/imports', headers=bearer(secret), files={'file': ('evil.html', b'<script>')})
    assert wrong.status_code == 422 and 'csv' in wrong.json()['error']
    missing = await client.post('/api/imports', headers=bearer(secret), data={'other': 'x'})
    assert missing.status_code == 422 and 'file' in missing.json()['error']
    services.settings.max_upload_mb = 1
    big = await client.post(
        '/api/imports', headers=bearer(secret), files={'file': ('big.csv', b'name,email\n' + b'x' * 1024 * 1100)}
    )
    assert big.status_code == 413 and 'limit' in big.json()['error']
    anonymous = await client.post('/api/imports', files={'file': ('a.csv', EXAMPLE_CSV)})
    assert anonymous.status_code == 401
    assert (await client.get('/api/jobs', headers=bearer(secret))).json()['total'] == 0


async def test_bearer_posts_need_no_origin_and_cookie_posts_still_work(
    people: dict[str, User], services: Services
) -> None:
    secret = token_for(services, 'ann')
    foreign = {'Origin': 'https://evil.example', **bearer(secret)}
    answer = await people['anonymous'].http_client.post(
        '/api/imports', headers=foreign, files={'file': ('a.csv', EXAMPLE_CSV)}
    )
    assert answer.status_code == 201
    same_site = await people['ann'].http_client.post(
        '/api/imports', headers={'Origin': 'http://test'}, files={'file': ('b.csv', EXAMPLE_CSV)}
    )
    assert same_site.status_code == 201
    await services.jobs.wait_idle()


async def test_system_tasks_run_over_the_api_for_admins_only(people: dict[str, User], services: Services) -> None:
    admin_secret, ann_secret = token_for(services, 'admin'), token_for(services, 'ann')
    client = people['anonymous'].http_client
    hidden = await client.post('/api/tasks/storage_integrity_check/run', headers=bearer(ann_secret))
    assert hidden.status_code == 404 and hidden.json()['error']
    unknown = await client.post('/api/tasks/format_disk/run', headers=bearer(admin_secret))
    assert unknown.status_code == 404
    started = await client.post('/api/tasks/storage_integrity_check/run', headers=bearer(admin_secret))
    assert started.status_code == 201
    job = started.json()
    assert (job['job'], job['run_by'], job['run_at'], job['status']) == (
        'Storage Integrity Check', 'admin', '/settings/maintenance/tasks', 'in_progress',
    )  # fmt: skip
    again = await client.post('/api/tasks/storage_integrity_check/run', headers=bearer(admin_secret))
    assert again.status_code == 409 and 'already running' in again.json()['error']
    await services.jobs.wait_idle()
    users.set_admin(services.engine, username='admin', is_admin=True)
    add_user(services, 'deputy', admin=True)
    users.set_admin(services.engine, username='admin', is_admin=False)
    demoted = await client.post('/api/tasks/purge_old_jobs/run', headers=bearer(admin_secret))
    assert demoted.status_code == 404  # the role is read at every request


async def test_openapi_and_offline_docs_need_a_login(people: dict[str, User], services: Services) -> None:
    anonymous, admin = people['anonymous'].http_client, people['admin'].http_client
    assert (await anonymous.get('/api/openapi.json')).status_code == 401
    login = await anonymous.get('/api/docs')
    assert login.status_code in (302, 303, 307) and login.headers['location'].startswith('/login')
    schema = (await admin.get('/api/openapi.json')).json()
    paths = schema['paths']
    assert {'/api/jobs', '/api/jobs/{job_id}', '/api/imports', '/api/tasks/{key}/run', '/files/{file_id}'} <= set(paths)
    assert set(paths['/api/imports']['post']['responses']) >= {'201', '401', '413', '422'}
    assert set(paths['/api/tasks/{key}/run']['post']['responses']) >= {'201', '404', '409'}
    assert schema['components']['securitySchemes']['token']['scheme'] == 'bearer'
    with_token = await anonymous.get('/api/openapi.json', headers=bearer(token_for(services, 'ann')))
    assert with_token.status_code == 200
    page = await admin.get('/api/docs')
    assert page.status_code == 200 and '/api/docs/swagger-ui-bundle.js' in page.text
    assert 'http' not in page.text.replace('http-equiv', '')  # nothing from the internet
    for asset in ('swagger-ui-bundle.js', 'swagger-ui.css', 'init.js'):
        answer = await admin.get(f'/api/docs/{asset}')
        assert answer.status_code == 200 and len(answer.content) > 100, asset
    assert (await admin.get('/api/docs/..%2F..%2Fmain.py')).status_code == 404
    assert (await anonymous.get('/api/docs/init.js')).status_code == 401
