"""Handing memory back to the system at quiet moments.

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
from collections.abc import Callable

# After the last open page is gone: long enough for a reload or the next page of the same person to connect.
QUIET_SECONDS = 2.0


def return_freed_memory() -> None:
    """Collect garbage cycles, then let glibc hand its free heap pages back (a no-op where there is no glibc)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL('libc.so.6').malloc_trim(0)


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
