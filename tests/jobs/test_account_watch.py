"""Account changes made by another process (another node, the CLI) reach this process's change feed."""

from __future__ import annotations

import sqlalchemy as sa

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
