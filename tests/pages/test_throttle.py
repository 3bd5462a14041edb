"""Login protection: guessing is slowed down, and the lock is explained to the person."""

import logging

import pytest
from nicegui.testing import User

from app.pages.throttle import FIRST_LOCK_SECONDS, FREE_ATTEMPTS, WINDOW_SECONDS, LoginThrottle
from tests.pages.conftest import log_in_failing


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_lock_starts_after_free_attempts_and_doubles() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    for _ in range(FREE_ATTEMPTS - 1):
        throttle.record_failure('user:ann')
    assert throttle.retry_after('user:ann') == 0
    throttle.record_failure('user:ann')
    assert throttle.retry_after('user:ann') == FIRST_LOCK_SECONDS
    clock.now += FIRST_LOCK_SECONDS
    assert throttle.retry_after('user:ann') == 0
    throttle.record_failure('user:ann')
    assert throttle.retry_after('user:ann') == 2 * FIRST_LOCK_SECONDS
    assert throttle.retry_after('user:bob') == 0


def test_failures_expire_and_success_forgives_the_user() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    for _ in range(FREE_ATTEMPTS):
        throttle.record_failure('user:ann', 'client:1.2.3.4')
    clock.now += WINDOW_SECONDS + 1
    assert throttle.retry_after('user:ann', 'client:1.2.3.4') == 0
    for _ in range(FREE_ATTEMPTS):
        throttle.record_failure('user:ann')
    throttle.record_success('user:ann')
    assert throttle.retry_after('user:ann') == 0


async def test_repeated_failures_lock_the_login_with_a_message(user: User, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    for attempt in range(FREE_ATTEMPTS):
        await log_in_failing(user, 'admin', f'guess-{attempt}')
        await user.should_see('Invalid username or password')
    await log_in_failing(user, 'admin', 'admin-password-1')  # even the right password waits out the lock
    await user.should_see('Too many failed attempts')
    assert (await user.http_client.get('/api/jobs')).status_code == 401
    assert not any('guess-' in record.getMessage() for record in caplog.records)  # passwords are never logged


async def test_session_cookie_is_http_only_and_same_site(user: User) -> None:
    response = await user.http_client.get('/login')
    cookie = response.headers['set-cookie'].lower()
    assert 'httponly' in cookie
    assert 'samesite=lax' in cookie
