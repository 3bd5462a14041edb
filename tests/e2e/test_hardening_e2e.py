"""HTTP hardening against the real server (uvicorn): the websocket handshake from another origin is refused."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.e2e.conftest import Server

SOCKET = '/_nicegui_ws/socket.io/?EIO=4&transport=websocket'


async def handshake(server: Server, origin: str) -> int:
    """The HTTP status of the websocket handshake (101 when it is accepted)."""
    url = server.url.replace('http://', 'ws://') + SOCKET
    try:
        async with connect(url, origin=origin, open_timeout=10):  # type: ignore[arg-type]
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


def test_the_websocket_refuses_other_origins_and_answers_carry_the_headers(server: Server) -> None:
    assert in_own_loop(handshake(server, 'https://evil.example')) == 403
    assert in_own_loop(handshake(server, server.url)) == 101
    page = httpx.get(f'{server.url}/login')
    assert page.headers['x-frame-options'] == 'SAMEORIGIN' and page.headers['x-content-type-options'] == 'nosniff'
    api = httpx.get(f'{server.url}/api/jobs')
    assert api.status_code == 401 and api.headers['cache-control'] == 'no-store'


def in_own_loop(coroutine: Coroutine[Any, Any, int]) -> int:
    """Run ``coroutine`` in a thread of its own: Playwright's sync API keeps an event loop running in this one."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
