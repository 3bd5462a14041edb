"""HTTP hardening (issue 13, DESIGN "HTTP hardening"): CSRF origin check, websocket origin check, security
headers, ``no-store`` for job data, server-side session expiry and the Secure cookie setting."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from nicegui.testing import User
from starlette.types import Message

from app.pages.hardening import Hardening, client_address
from app.services import Services
from app.storage.models import utcnow
from app.storage.users import SESSION
from tests.pages.conftest import attach_file, log_in, make_job, owner_ids

EVIL = 'https://evil.example'
LAUNCH = '/_test/launch/test_steps'


async def test_every_answer_has_the_security_headers_and_job_data_is_not_cached(
    people: dict[str, User], services: Services
) -> None:
    client = people['admin'].http_client
    job_id = make_job(services, owner_ids(services)['admin'])
    file_id = attach_file(services, job_id, b'a,b\n', 'out.csv')
    for path in ['/login', '/settings/maintenance/jobs', '/no/such/page', '/api/jobs', f'/api/jobs/{job_id}',
                 f'/files/{file_id}', '/api/jobs/x', '/files/999']:  # fmt: skip
        response = await client.get(path)
        headers = response.headers
        assert headers['x-content-type-options'] == 'nosniff', path
        assert headers['referrer-policy'] == 'same-origin', path
        assert "frame-ancestors 'self'" in headers['content-security-policy'], path
        assert headers['x-frame-options'] == 'SAMEORIGIN', path
        if path.startswith(('/api/', '/files/')):
            assert headers['cache-control'] == 'no-store', path
    anonymous = await people['anonymous'].http_client.get('/api/jobs')
    assert anonymous.status_code == 401 and anonymous.headers['cache-control'] == 'no-store'


async def test_cross_site_state_changes_with_the_session_cookie_are_refused(people: dict[str, User]) -> None:
    client = people['ann'].http_client
    for headers in [{'Origin': EVIL}, {'Referer': f'{EVIL}/page'}, {'Origin': 'null'},
                    {'Origin': 'http://test.evil.example'}, {'Origin': 'http://test:8080'}]:  # fmt: skip
        for method in ('POST', 'PUT', 'PATCH', 'DELETE'):
            response = await client.request(method, LAUNCH, headers=headers)
            assert response.status_code == 403, (method, headers)
            assert response.json()['error'] == 'Cross-site request refused'
    upload = await client.post('/_nicegui/client/abc/upload/1', headers={'Origin': EVIL}, files={'f': b'x'})
    assert upload.status_code == 403
    rows = (await client.get('/api/jobs')).json()['rows']
    assert rows == []  # nothing was started


async def test_same_site_bearer_and_cookieless_requests_pass(people: dict[str, User], user: User) -> None:
    client = people['ann'].http_client
    for headers in [{}, {'Origin': 'http://test'}, {'Referer': 'http://test/imports'}, {'Origin': 'http://TEST:80'}]:
        assert (await client.post(LAUNCH, headers=headers)).status_code == 200, headers
    bearer = await client.post(LAUNCH, headers={'Origin': EVIL, 'Authorization': 'Bearer some-token'})
    assert bearer.status_code != 403
    anonymous = await people['anonymous'].http_client.post('/api/jobs', headers={'Origin': EVIL})
    assert anonymous.status_code != 403  # no cookie, nothing to abuse: the usual answer


async def test_the_websocket_refuses_other_origins(people: dict[str, User]) -> None:
    client = people['ann'].http_client
    polling = '/_nicegui_ws/socket.io/?EIO=4&transport=polling'
    assert (await client.get(polling, headers={'Origin': EVIL})).status_code == 403
    assert (await client.get(polling, headers={'Origin': 'http://test'})).status_code != 403
    sent: list[Message] = []

    async def app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        raise AssertionError('reached the app')

    async def receive() -> Message:
        return {'type': 'websocket.connect'}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {'type': 'websocket', 'path': '/_nicegui_ws/socket.io/', 'headers': [(b'host', b'app.example'),
             (b'origin', EVIL.encode())], 'scheme': 'wss', 'client': ('1.2.3.4', 5)}  # fmt: skip
    await Hardening(app)(scope, receive, send)
    assert sent == [{'type': 'websocket.close', 'code': 1008}]


def test_forwarded_addresses_are_believed_only_from_trusted_proxies() -> None:
    import ipaddress

    trusted = [ipaddress.ip_network('10.0.0.0/8')]

    def scope(peer: str, forwarded: str) -> dict:  # type: ignore[type-arg]
        return {'type': 'http', 'client': (peer, 1), 'headers': [(b'x-forwarded-for', forwarded.encode())]}

    assert client_address(scope('203.0.113.9', '1.1.1.1'), trusted) == '203.0.113.9'  # not a proxy: ignored
    assert client_address(scope('10.0.0.2', '1.1.1.1, 198.51.100.7'), trusted) == '198.51.100.7'
    assert client_address(scope('10.0.0.2', '198.51.100.7, 10.0.0.3'), trusted) == '198.51.100.7'
    assert client_address(scope('10.0.0.2', ''), trusted) == '10.0.0.2'
    assert client_address(scope('10.0.0.2', '1.1.1.1'), []) == '10.0.0.2'


def age_sessions(services: Services, **values: object) -> None:
    with services.engine.begin() as connection:
        connection.execute(sa.update(SESSION).values(**values))


async def test_an_idle_session_ends_server_side(user: User, services: Services) -> None:
    await log_in(user)
    age_sessions(services, last_seen_at=utcnow() - timedelta(minutes=700))
    assert (await user.http_client.get('/api/jobs?limit=1')).status_code == 200  # within 720 minutes
    age_sessions(services, last_seen_at=utcnow() - timedelta(minutes=722))
    assert (await user.http_client.get('/api/jobs?limit=1')).status_code == 401
    with services.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(SESSION)).scalar() == 0


async def test_a_session_ends_after_the_maximum_age_even_when_used(user: User, services: Services) -> None:
    await log_in(user)
    age_sessions(services, created_at=utcnow() - timedelta(days=13, hours=23))
    assert (await user.http_client.get('/api/jobs?limit=1')).status_code == 200
    age_sessions(services, created_at=utcnow() - timedelta(days=14, minutes=1))
    assert (await user.http_client.get('/api/jobs?limit=1')).status_code == 401
    await user.open('/imports')
    await user.should_see('Log in')


@pytest.fixture
def short_sessions(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('JOBS_SESSION_IDLE_MINUTES', '5')
    monkeypatch.setenv('JOBS_SESSION_MAX_DAYS', '1')
    monkeypatch.setenv('JOBS_COOKIE_SECURE', 'true')


@pytest.mark.usefixtures('short_sessions')
async def test_session_limits_and_secure_cookie_follow_the_settings(user: User, services: Services) -> None:
    cookie = (await user.http_client.get('/login')).headers['set-cookie'].lower()
    assert 'secure' in cookie and 'max-age=86400' in cookie
    user.http_client.cookies.clear()
    await log_in_insecure(user)
    age_sessions(services, last_seen_at=utcnow() - timedelta(minutes=7))
    assert (await user.http_client.get('/api/jobs?limit=1')).status_code == 401
    await log_in_insecure(user)
    age_sessions(services, created_at=utcnow() - timedelta(days=1, minutes=1))
    assert (await user.http_client.get('/api/jobs?limit=1')).status_code == 401


async def log_in_insecure(user: User) -> None:
    """httpx keeps a Secure cookie away from http://test: start a session and hand over its cookie as a browser
    on HTTPS would."""
    from nicegui import app

    from app.storage.users import list_users, start_session

    services: Services = app.state.services
    admin = next(u for u in list_users(services.engine) if u.username == 'admin')
    assert admin.id is not None
    key = 'an-https-browser'
    start_session(services.engine, key=key, user_id=admin.id)
    user.http_client.cookies.clear()
    user.http_client.cookies.set('session', _signed_session(key))


def _signed_session(browser_id: str) -> str:
    import base64
    import json

    import itsdangerous
    from nicegui import app

    secret = next(m for m in app.user_middleware if m.cls.__name__ == 'SessionMiddleware').kwargs['secret_key']
    data = base64.b64encode(json.dumps({'id': browser_id}).encode())
    return itsdangerous.TimestampSigner(str(secret)).sign(data).decode()


def test_default_cookie_is_not_secure_and_settings_validate(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from app.config import Settings

    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    assert (settings.cookie_secure, settings.session_idle_minutes, settings.session_max_days) == (False, 720, 14)
    with pytest.raises(ValidationError):
        Settings(_env_file=None, trusted_proxies='10.0.0.0/8, not-an-ip')  # type: ignore[call-arg]
    assert len(Settings(_env_file=None, trusted_proxies='10.0.0.0/8, ::1').trusted_proxy_networks) == 2  # type: ignore[call-arg]
