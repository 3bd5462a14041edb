"""Crontab expressions as APScheduler triggers, with crontab's weekday numbering."""

from __future__ import annotations

import re

from apscheduler.triggers.cron import CronTrigger

DAY_NAMES = ('sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun')


def crontab_trigger(cron: str) -> CronTrigger:
    """A UTC trigger for ``minute hour day month weekday [second]``; 0 and 7 are Sunday as in crontab.

    The optional sixth field (seconds) follows croniter, which the cluster executor's schedules use.

    APScheduler 3 counts weekday 0 as Monday, so numbers are turned into day names first.
    Raises ValueError with a readable message for a malformed expression.
    """
    fields = cron.split()
    if len(fields) not in (5, 6):
        raise ValueError(f'expected 5 crontab fields (minute hour day month weekday), got {len(fields)}: {cron!r}')
    minute, hour, day, month, weekday, second = (*fields, '0')[:6]
    # Name every number except step sizes; a range starting on Sunday is split, as APScheduler ranges run Mon..Sun.
    weekday = re.sub(r'(?<![/\d])[0-7](?!\d)', lambda match: DAY_NAMES[int(match.group())], weekday)
    weekday = re.sub(r'\bsun-(\w+)', r'sun,mon-\1', weekday)
    return CronTrigger(
        second=second, minute=minute, hour=hour, day=day, month=month, day_of_week=weekday, timezone='UTC'
    )
