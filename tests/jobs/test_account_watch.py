"""Account changes made by another process (another node, the CLI) reach this process's change feed."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.jobs import accounts
from app.jobs.accounts import AccountWatch
from app.jobs.events import AccountChanged, ChangeFeed
from app.storage import users
from app.storage.db import create_engine
from app.threads import Threads


async def test_changes_by_another_process_are_published_once(engine: sa.Engine) -> None:
    ann = users.create_user(engine, username='ann', password='pw')
    bob = users.create_user(engine, username='bob', password='pw', is_admin=True)
    users.create_user(engine, username='cy', password='pw', is_admin=True)
    feed, threads = ChangeFeed(), Threads(2)
    seen: list[int] = []
    feed.subscribe(lambda change: seen.append(change.user_id) if isinstance(change, AccountChanged) else None)
    watch = AccountWatch(engine=engine, feed=feed, threads=threads)
    other = create_engine(engine.url.render_as_string(hide_password=False))  # "another node"
    try:
        await watch.check()  # the first look only remembers
        assert seen == []
        users.start_session(other, key='browser', user_id=ann.id or 0)
        await watch.check()
        assert seen == []  # logging in changes nothing for open pages
        users.end_session(other, 'browser')
        users.set_admin(other, username='bob', is_admin=False)
        await watch.check()
        assert sorted(seen) == sorted([ann.id, bob.id])
        await watch.check()
        assert len(seen) == 2  # published once
        dan = users.create_user(other, username='dan', password='pw')
        users.set_disabled(other, username='dan', disabled=True)  # new since the last look, and changed already
        await watch.check()
        assert seen[-1] == dan.id
    finally:
        other.dispose()
        threads.stop()


async def test_the_running_watch_ends_expired_sessions_and_tells_the_pages(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(accounts, 'SWEEP_INTERVAL', 0.05)
    ann = users.create_user(engine, username='ann', password='pw')
    users.start_session(engine, key='browser', user_id=ann.id or 0)
    feed, threads = ChangeFeed(), Threads(2)
    seen: list[int] = []
    feed.subscribe(lambda change: seen.append(change.user_id) if isinstance(change, AccountChanged) else None)
    watch = AccountWatch(engine=engine, feed=feed, threads=threads, session_limits={'idle': timedelta(minutes=30)})
    watch.start()
    try:
        await asyncio.sleep(0.3)
        assert seen == [] and users.session_user(engine, 'browser') is not None  # a fresh session stays
        with engine.begin() as connection:
            connection.execute(sa.update(users.SESSION).values(last_seen_at=users.utcnow() - timedelta(hours=1)))
        for _ in range(60):
            if seen:
                break
            await asyncio.sleep(0.05)
        assert seen == [ann.id]
        with engine.connect() as connection:
            assert connection.execute(sa.select(sa.func.count()).select_from(users.SESSION)).scalar() == 0
    finally:
        await watch.stop()
        threads.stop()
