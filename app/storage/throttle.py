"""Login tries per key (a username, a client address), counted in the database: every node sees one count.

A try is counted *before* its password is checked, in one atomic statement (an upsert that increments the count
and returns it), so parallel tries each get their own, growing number: there is no moment between checking and
recording for a burst of tries to slip through. A try that turns out to be right is taken back (``forgive``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import SQLModel

from app.storage.db import upsert
from app.storage.models import utcnow

THROTTLE = SQLModel.metadata.tables['login_throttle']
WINDOW = timedelta(minutes=15)  # a key untried this long starts again from zero


def record_try(engine: sa.Engine, keys: Sequence[str]) -> list[int]:
    """Count a login try on each key; returns, per key, the number of tries in the current window, this one
    included."""
    now = utcnow()
    stale = THROTTLE.c.last_try_at < now - WINDOW
    counts = []
    with engine.begin() as connection:
        for key in keys:
            statement = upsert(engine, THROTTLE).values(key=key_digest(key), tries=1, last_try_at=now)
            statement = statement.on_conflict_do_update(
                index_elements=['key'],
                set_={'tries': sa.case((stale, 1), else_=THROTTLE.c.tries + 1), 'last_try_at': now},
            )
            counts.append(int(connection.execute(statement.returning(THROTTLE.c.tries)).scalar_one()))
    return counts


def forgive(engine: sa.Engine, keys: Sequence[str]) -> None:
    """Take back one counted try on each key (it was a successful login, not a guess); drop the counts of keys
    untried for a whole window, which would start from zero anyway."""
    with engine.begin() as connection:
        connection.execute(
            sa.update(THROTTLE)
            .where(THROTTLE.c.key.in_([key_digest(key) for key in keys]), THROTTLE.c.tries > 0)
            .values(tries=THROTTLE.c.tries - 1)
        )
        connection.execute(sa.delete(THROTTLE).where(THROTTLE.c.last_try_at < utcnow() - WINDOW))


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
