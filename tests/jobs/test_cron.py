"""Schedules read like crontab: 0 and 7 are Sunday; malformed expressions are refused clearly."""

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from app.config import Settings
from app.cron import crontab_trigger

SATURDAY = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ('cron', 'expected'),
    [
        ('0 4 * * 0', datetime(2026, 11, 29, 4, 0, tzinfo=UTC)),  # Sunday, not Monday
        ('0 4 * * 7', datetime(2026, 11, 29, 4, 0, tzinfo=UTC)),
        ('0 4 * * 1-5', datetime(2026, 11, 30, 4, 0, tzinfo=UTC)),  # next weekday is Monday
        ('0 4 * * 0-6', datetime(2026, 11, 29, 4, 0, tzinfo=UTC)),
        ('30 13 * * *', datetime(2026, 11, 28, 13, 30, tzinfo=UTC)),
        ('0 2 * * sat', datetime(2026, 12, 5, 2, 0, tzinfo=UTC)),
    ],
)
def test_next_fire_time_follows_crontab(cron: str, expected: datetime) -> None:
    assert crontab_trigger(cron).get_next_fire_time(None, SATURDAY) == expected


@pytest.mark.parametrize('cron', ['0 4 * *', 'every day', '61 * * * *'])
def test_bad_schedule_setting_is_refused_with_its_name(cron: str) -> None:
    with pytest.raises(ValidationError, match='backup_cron'):
        Settings(_env_file=None, backup_cron=cron)  # type: ignore[call-arg]


async def test_exclusive_launch_refuses_a_second_run(services) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from app.jobs.service import AlreadyRunning
    from app.storage.users import create_user

    owner = create_user(services.engine, username='ann', password='pw')
    params = {'delay': 0.3}
    first, second = await asyncio.gather(
        services.jobs.launch(
            'test_steps', description='a', run_by_id=owner.id, run_at='/', params=params, exclusive=True
        ),
        services.jobs.launch(
            'test_steps', description='b', run_by_id=owner.id, run_at='/', params=params, exclusive=True
        ),
        return_exceptions=True,
    )
    assert sorted(type(result).__name__ for result in (first, second)) == ['AlreadyRunning', 'int']
    await services.jobs.wait_idle()
    assert isinstance(await services.jobs.launch('test_steps', description='c', run_by_id=owner.id, run_at='/',
                                                 exclusive=True), int)  # fmt: skip
    assert AlreadyRunning
    await services.jobs.wait_idle()
