"""Handing memory back to the system at quiet moments, and keeping glibc's heaps few.

CPython keeps freed objects for reuse and glibc keeps freed heap pages, so a process stays at its high-water mark
unless it asks otherwise. The server asks at two quiet moments: when start-up is done (the migration and the
first password hash have come and gone) and once no page is open any more (the pages' elements were freed when
their tabs closed). A collection takes some 100 ms at start-up size, so it is never done while someone watches.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import os
from collections.abc import Callable
from typing import Any

# glibc gives each thread that allocates its own heap ("arena", up to 8 per core) and keeps what each one freed for
# that heap alone. The server's threads take turns on the GIL, so two arenas serve them as fast (bench: Import, same
# figure) and the memory freed by one thread is there for the others (bench: idle memory, 0.6 MB less).
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # mallopt's parameter number (malloc.h)

# After the last open page is gone: long enough for a reload or the next page of the same person to connect.
QUIET_SECONDS = 2.0


def return_freed_memory() -> None:
    """Collect garbage cycles, then let glibc hand its free heap pages back."""
    gc.collect()
    _glibc('malloc_trim', 0)


def limit_malloc_arenas() -> None:
    """Keep MALLOC_ARENAS heaps unless MALLOC_ARENA_MAX says otherwise; call before any thread starts."""
    if 'MALLOC_ARENA_MAX' not in os.environ:
        _glibc('mallopt', _M_ARENA_MAX, MALLOC_ARENAS)


def _glibc(function: str, *args: Any) -> None:
    """Call one of glibc's memory functions; elsewhere (no glibc) there is nothing to tune."""
    with contextlib.suppress(OSError, AttributeError):
        getattr(ctypes.CDLL('libc.so.6'), function)(*args)


class TrimWhenUnwatched:
    """Returns freed memory once no page has been open for ``quiet_seconds``; call ``page_gone`` as each page goes.

    ``watched`` tells whether a page is open now (in the web app: a NiceGUI client with a live connection).
    """

    def __init__(self, watched: Callable[[], bool], quiet_seconds: float = QUIET_SECONDS) -> None:
        self.watched = watched
        self.quiet_seconds = quiet_seconds
        self._pending: asyncio.TimerHandle | None = None
        self.trims = 0

    def page_gone(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
        self._pending = asyncio.get_running_loop().call_later(self.quiet_seconds, self._trim_if_unwatched)

    def _trim_if_unwatched(self) -> None:
        self._pending = None
        if self.watched():
            return  # someone is watching: their page's next collection would wait for our 100 ms
        return_freed_memory()
        self.trims += 1
