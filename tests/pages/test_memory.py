"""A page the browser has left is freed: the server's memory does not grow with every page ever viewed."""

from __future__ import annotations

import asyncio
import gc
import weakref

from nicegui.testing import User

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
