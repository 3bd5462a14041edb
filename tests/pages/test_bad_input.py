"""Whatever arrives in a URL, the answer is a 404 or a 422 with a message, never a 500 or an exception's text."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

import pytest
from nicegui import app
from nicegui.testing import User
from starlette.routing import BaseRoute, Route

from app.services import Services
from tests.pages.conftest import make_job, owner_ids

BAD_IDS = ['²', '\uff11', '٣', '1.0', '-1', '+1', ' 1', '1e3', '0x1', '9' * 19, str(2**63), '', '%00', 'null', 'NaN']
BAD_QUERIES = [
    'offset=²', 'offset=\uff11', 'offset=-1', 'offset=1e3', f'offset={2**63}', 'limit=0', 'limit=1001', 'limit=²',
    'sort=-', 'sort=--id', 'sort=id;drop', 'category=secret', 'status=²', 'since=²', 'since=2026-02-30',
    'until=yesterday', 'q=' + 'x' * 201, 'job=' + 'y' * 201,
]  # fmt: skip
HARMLESS_QUERIES = ['until=9999-12-31', 'since=0001-01-01T00:00:00%2B14:00', 'since=9999-12-31T23:59:59-14:00', 'q=%00',
                    'q=²', 'offset=999999999', 'status=&category=']  # fmt: skip


@pytest.mark.parametrize('path', ['/api/jobs/{id}', '/files/{id}', '/settings/maintenance/jobs/{id}'])
async def test_malformed_ids_are_not_found(people: dict[str, User], services: Services, path: str) -> None:
    make_job(services, owner_ids(services)['admin'])  # job 1 exists: a full-width one must not read as 1
    client = people['admin'].http_client
    for bad in BAD_IDS:
        response = await client.get(path.format(id=bad))
        assert response.status_code in {404, 307}, (bad, response.status_code)  # '' redirects to the list
        assert 'Traceback' not in response.text and 'Error' not in response.text.replace('Not found', '')


@pytest.mark.parametrize('query', BAD_QUERIES)
async def test_bad_list_parameters_answer_422_naming_the_parameter(people: dict[str, User], query: str) -> None:
    response = await people['admin'].http_client.get(f'/api/jobs?{query}')
    assert response.status_code == 422, response.text
    body = response.json()
    name = query.split('=')[0]
    assert body['error'].startswith(f'{name}: ') and body['detail'] == body['error']


@pytest.mark.parametrize('query', HARMLESS_QUERIES)
async def test_extreme_but_valid_parameters_answer_a_list(people: dict[str, User], query: str) -> None:
    response = await people['admin'].http_client.get(f'/api/jobs?{query}')
    assert response.status_code == 200, response.text
    assert set(response.json()) == {'total', 'rows', 'total_is_exact'}


async def test_unknown_pages_are_shown_in_the_frame_and_api_answers_json(people: dict[str, User]) -> None:
    client = people['ann'].http_client
    page = await client.get('/no/such/page')
    assert page.status_code == 404
    assert 'Page not found' in page.text and 'Page not found · Job Management' in page.text
    api = await client.get('/api/no-such-route')
    assert api.status_code == 404 and api.json()['error'] == 'Not found'


async def test_openapi_describes_every_api_route_for_logged_in_users(people: dict[str, User]) -> None:
    assert (await people['anonymous'].http_client.get('/api/openapi.json')).status_code == 401
    spec = (await people['ann'].http_client.get('/api/openapi.json')).json()
    assert {'/api/jobs', '/api/jobs/{job_id}', '/files/{file_id}'} <= set(spec['paths'])
    parameters = {p['name'] for p in spec['paths']['/api/jobs']['get']['parameters']}
    assert {'category', 'status', 'job', 'run_by', 'since', 'until', 'q', 'offset', 'limit', 'sort'} <= parameters
    assert '422' in spec['paths']['/api/jobs']['get']['responses']


async def test_a_file_link_one_may_not_follow_shows_the_not_found_page_in_a_browser(people: dict[str, User]) -> None:
    browser = await people['ann'].http_client.get('/files/424242', headers={'Accept': 'text/html,*/*;q=0.8'})
    assert browser.status_code == 404 and 'Page not found' in browser.text
    script = await people['ann'].http_client.get('/files/424242')
    assert script.status_code == 404 and script.json()['error'] == 'Not found'


async def test_every_page_and_route_with_a_path_parameter_survives_the_catalogue(
    people: dict[str, User], services: Services
) -> None:
    """Not just the routes named above: whatever GET route has a parameter in its path (pages, API, files, routes
    added later), no bad value gets a 500 or an exception's text."""
    make_job(services, owner_ids(services)['admin'])
    paths = sorted({
        route.path for route in flatten(app.routes)
        if isinstance(route, Route) and '{' in route.path and 'GET' in (route.methods or ())
        and not route.path.startswith('/_nicegui')
    })  # fmt: skip
    assert {'/api/jobs/{job_id}', '/files/{file_id}'} <= set(paths), paths
    for user_name in ('admin', 'ann'):
        client = people[user_name].http_client
        for path in paths:
            for bad in [value for value in BAD_IDS if value]:
                url = re.sub(r'\{[^}]+\}', bad, path)
                response = await client.get(url)
                assert response.status_code < 500, (url, response.status_code)
                assert 'Traceback' not in response.text and 'Exception' not in response.text, url


def flatten(routes: Sequence[BaseRoute]) -> Iterator[BaseRoute]:
    """Routes, with those of included routers (FastAPI keeps an included router as one entry)."""
    for route in routes:
        included = getattr(route, 'original_router', None)
        yield from flatten(included.routes) if included is not None else (route,)
