"""The upload limit is enforced while the body streams in: nothing is buffered or stored past it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nicegui import ui
from nicegui.testing import User

from app.services import Services
from tests.pages.conftest import log_in

LIMIT_MB = 1


@pytest.fixture
def small_limit(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('JOBS_MAX_UPLOAD_MB', str(LIMIT_MB))


async def upload_url(user: User) -> str:
    await log_in(user)
    await user.open('/imports')
    upload = user.find(ui.upload).elements.pop()
    return str(upload._registered_url)


async def test_declared_oversize_upload_is_refused_before_reading(small_limit: None, user: User) -> None:
    url = await upload_url(user)
    response = await user.http_client.post(
        url, content=b'x' * 10, headers={'content-length': str(5 * 1024 * 1024), 'content-type': 'multipart/form-data'}
    )
    assert response.status_code == 413
    assert f'limit of {LIMIT_MB} MB' in response.json()['detail']


async def test_streamed_oversize_upload_is_cut_off_and_leaves_nothing(
    small_limit: None, user: User, services: Services
) -> None:
    url = await upload_url(user)
    sent = 0

    async def endless_body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n'
        for _ in range(100):  # 100 MB if nobody stopped it
            sent += 1
            yield b'a,b@example.org\n' * 65536
        yield b'\r\n--b--\r\n'

    response = await user.http_client.post(
        url, content=endless_body(), headers={'content-type': 'multipart/form-data; boundary=b'}
    )
    assert response.status_code == 413
    assert sent < 10  # stopped right after the limit, not after reading everything
    assert services.files.iter_stored() == []
