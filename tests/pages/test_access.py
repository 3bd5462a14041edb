"""The access matrix: every page, API route and file route for anonymous, the owner, another user and an admin."""

from __future__ import annotations

from nicegui.testing import User

from app.services import Services
from tests.pages.conftest import attach_file, make_job, owner_ids

# (path, anonymous, ann (owner of the job and file), bob, admin); 'login' = sent to /login
MATRIX = [
    ('/settings/maintenance/jobs', 'login', 200, 200, 200),
    ('/settings/maintenance/jobs/{job}', 'login', 200, 404, 200),
    ('/settings/maintenance/jobs/999999', 'login', 404, 404, 404),
    ('/imports', 'login', 200, 200, 200),
    ('/settings/maintenance/tasks', 'login', 404, 404, 200),
    ('/api/jobs', 401, 200, 200, 200),
    ('/api/jobs/{job}', 401, 200, 404, 200),
    ('/api/jobs/999999', 401, 404, 404, 404),
    ('/files/{file}', 401, 200, 404, 200),
    ('/files/999999', 401, 404, 404, 404),
    ('/files/..%2F..%2Fjobs.db', 401, 404, 404, 404),
    ('/files/%2Fetc%2Fpasswd', 401, 404, 404, 404),
]


async def test_access_matrix(people: dict[str, User], services: Services) -> None:
    """One set of logins, every route checked for every identity (logins are slow by design: argon2)."""
    job_id = make_job(services, owner_ids(services)['ann'])
    file_id = attach_file(services, job_id, b'secret,data\n', 'ann.csv')
    for path, anonymous, *expected in MATRIX:
        url = path.format(job=job_id, file=file_id)
        anonymous_response = await people['anonymous'].http_client.get(url)
        if anonymous == 'login':
            assert anonymous_response.status_code in {302, 303, 307}, url
            assert anonymous_response.headers['location'].startswith('/login?redirect_to='), url
        else:
            assert anonymous_response.status_code == anonymous, url
        for name, status in zip(('ann', 'bob', 'admin'), expected, strict=True):
            response = await people[name].http_client.get(url)
            assert response.status_code == status, f'{name} {url}'
            if status == 404:
                assert b'secret,data' not in response.content


async def test_lists_hold_only_what_each_may_see(people: dict[str, User], services: Services) -> None:
    ids = owner_ids(services)
    anns, bobs = make_job(services, ids['ann']), make_job(services, ids['bob'])
    seen = {}
    for name in ('ann', 'bob', 'admin'):
        rows = (await people[name].http_client.get('/api/jobs')).json()['rows']
        seen[name] = sorted(row['id'] for row in rows)
    assert seen == {'ann': [anns], 'bob': [bobs], 'admin': sorted([anns, bobs])}
