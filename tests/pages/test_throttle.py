"""Login protection (issue 13): tries are counted per username and per address in the database, atomically, and
past a few free tries each one waits a growing delay, never a long lockout of the right password."""

import logging
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from nicegui.testing import User

from app.pages.throttle import (
    FREE_ADDRESS_TRIES,
    FREE_USER_TRIES,
    MAX_ADDRESS_DELAY,
    MAX_USER_DELAY,
    address_key,
    user_key,
    wait_before_check,
)
from app.services import Services
from app.storage.models import utcnow
from app.storage.throttle import THROTTLE, WINDOW, forgive, key_digest, record_try
from tests.conftest import ADMIN
from tests.pages.conftest import log_in, log_in_failing


def test_each_try_past_the_free_ones_waits_longer_up_to_a_bound() -> None:
    assert [wait_before_check(tries, 1) for tries in range(1, FREE_USER_TRIES + 1)] == [0] * FREE_USER_TRIES
    waits = [wait_before_check(FREE_USER_TRIES + n, 1) for n in range(1, 8)]
    assert waits == [1, 2, 4, 8, MAX_USER_DELAY, MAX_USER_DELAY, MAX_USER_DELAY]
    assert wait_before_check(10_000, 1) == MAX_USER_DELAY  # a username attacked elsewhere: a delay, not a lockout
    assert wait_before_check(1, FREE_ADDRESS_TRIES) == 0
    assert wait_before_check(1, FREE_ADDRESS_TRIES + 1) == 1
    assert wait_before_check(1, 10_000) == MAX_ADDRESS_DELAY
    assert wait_before_check(10_000, 1, most=3) == 3  # JOBS_LOGIN_MAX_DELAY_SECONDS


def test_tries_are_counted_per_key_and_start_over_after_the_window(engine: sa.Engine) -> None:
    assert record_try(engine, [user_key('Ann'), address_key('10.0.0.1')]) == [1, 1]
    assert record_try(engine, [user_key(' ann '), address_key('10.0.0.2')]) == [2, 1]
    forgive(engine, [user_key('ann')])
    assert record_try(engine, [user_key('ann')]) == [2]
    with engine.begin() as connection:
        connection.execute(sa.update(THROTTLE).values(last_try_at=utcnow() - WINDOW - timedelta(seconds=1)))
    assert record_try(engine, [user_key('ann'), address_key('10.0.0.1')]) == [1, 1]
    with engine.connect() as connection:
        keys = [row.key for row in connection.execute(sa.select(THROTTLE))]
    assert not any('ann' in key or '10.0.0' in key for key in keys)  # only digests are stored


def test_parallel_tries_each_get_their_own_count(engine: sa.Engine) -> None:
    """No check-then-record race: twelve tries at once are numbered 1 to 12, so the late ones wait."""
    counts: list[int] = []
    start = threading.Barrier(12)

    def attempt() -> None:
        start.wait()
        counts.extend(record_try(engine, [user_key('alice')]))

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(counts) == list(range(1, 13))
    assert sum(1 for count in counts if wait_before_check(count, 1) == 0) == FREE_USER_TRIES


async def test_the_right_password_still_logs_in_after_failures_only_delayed(
    user: User, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for attempt in range(FREE_USER_TRIES):
        await log_in_failing(user, ADMIN[0], f'guess-{attempt}')
        await user.should_see('Invalid username or password')
    await log_in_failing(user, ADMIN[0], 'guess-again')
    await user.should_see('each try now waits 1 s.')
    await user.should_see('Invalid username or password', retries=100)
    started = time.monotonic()
    await log_in(user)  # the 7th try on the name: waits 2 s, then succeeds
    assert time.monotonic() - started >= 2
    assert (await user.http_client.get('/api/jobs')).status_code == 200
    assert not any('guess-' in record.getMessage() for record in caplog.records)  # passwords are never logged


async def test_each_test_starts_with_no_counted_tries(user: User, services: Services) -> None:
    """The counts live in the app's database, which every test gets fresh: nothing carries over between tests."""
    with services.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(THROTTLE)).scalar() == 0
    await log_in(user)
    with services.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.sum(THROTTLE.c.tries))).scalar() == 0  # a success is taken back


async def test_session_cookie_is_http_only_and_same_site(user: User) -> None:
    response = await user.http_client.get('/login')
    cookie = response.headers['set-cookie'].lower()
    assert 'httponly' in cookie
    assert 'samesite=lax' in cookie


def counted_keys(services: Services) -> set[str]:
    with services.engine.connect() as connection:
        return {row.key for row in connection.execute(sa.select(THROTTLE))}


async def test_forwarded_for_is_ignored_without_trusted_proxies(user: User, services: Services) -> None:
    user.http_client.headers['X-Forwarded-For'] = '198.51.100.7'  # made up by the client
    await log_in_failing(user, ADMIN[0], 'wrong')
    keys = counted_keys(services)
    assert key_digest(address_key('127.0.0.1')) in keys and key_digest(address_key('198.51.100.7')) not in keys


@pytest.fixture
def behind_proxy(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('JOBS_TRUSTED_PROXIES', '10.0.0.0/8, 127.0.0.1')  # the test client's address is the proxy


@pytest.mark.usefixtures('behind_proxy')
async def test_behind_a_trusted_proxy_each_client_address_is_counted(user: User, services: Services) -> None:
    user.http_client.headers['X-Forwarded-For'] = '203.0.113.5, 198.51.100.7, 10.1.2.3'
    await log_in_failing(user, ADMIN[0], 'wrong')
    keys = counted_keys(services)
    assert key_digest(address_key('198.51.100.7')) in keys  # the last address no trusted proxy added
    assert key_digest(address_key('127.0.0.1')) not in keys and key_digest(address_key('203.0.113.5')) not in keys


@pytest.fixture
def short_delay(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('JOBS_LOGIN_MAX_DELAY_SECONDS', '1')


@pytest.mark.usefixtures('short_delay')
async def test_the_longest_wait_follows_the_setting(user: User) -> None:
    for attempt in range(FREE_USER_TRIES + 1):
        await log_in_failing(user, ADMIN[0], f'guess-{attempt}')
        await user.should_see('Invalid username or password', retries=100)
    await log_in_failing(user, ADMIN[0], 'guess-again')  # the 7th try would wait 2 s, the setting says 1
    await user.should_see('each try now waits 1 s.')
