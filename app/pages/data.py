"""Reading through the storage layer from pages without blocking the event loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from nicegui import run

T = TypeVar('T')


class ShuttingDown(RuntimeError):
    """The server is stopping and no longer runs queries for pages."""


async def fetch(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run a blocking storage call in NiceGUI's I/O pool (queries may themselves return None)."""
    boxed = await run.io_bound(lambda: (function(*args, **kwargs),))
    if boxed is None:  # io_bound's way of saying the app is stopping
        raise ShuttingDown
    return boxed[0]
