"""A page the browser has left is freed: the server's memory does not grow with every page ever viewed."""

from __future__ import annotations

import asyncio
import gc
import weakref

from nicegui import Client, app
from nicegui.testing import User

from app.memory import TrimWhenUnwatched
from tests.pages.conftest import log_in


async def test_a_page_nobody_shows_any_more_is_freed(user: User) -> None:
    await log_in(user)
    pages = []
    for path in ('/imports', '/settings/maintenance/jobs', '/settings/account'):
        client = await user.open(path)
        pages.append(weakref.ref(client))
    await user.open('/settings/maintenance/overview')  # the browser moved on
    for page in pages:
        client = page()
        assert client is not None
        client.delete()  # what NiceGUI does once a page's browser is gone past the reconnect timeout
    del client
    for _ in range(40):  # a deleted page's outbox task ends on its next turn
        await asyncio.sleep(0.05)
        gc.collect()
        if all(page() is None for page in pages):
            break
    assert [page() for page in pages] == [None, None, None]


async def test_memory_goes_back_to_the_system_once_no_page_is_open(user: User) -> None:
    trim: TrimWhenUnwatched = app.state.memory_trim
    trim.quiet_seconds = 0.05
    await log_in(user)
    await user.open('/imports')
    last = await user.open('/settings/maintenance/jobs')
    before = trim.trims
    for client in list(Client.instances.values()):
        if client is not last:
            client.delete()  # tabs closed, past their reconnect timeout
    await asyncio.sleep(0.3)
    assert trim.trims == before  # one page is still open: nothing may pause it for a collection

    last.delete()
    await asyncio.sleep(0.3)
    assert trim.trims == before + 1  # several pages went, one hand-back once the quiet time passed
