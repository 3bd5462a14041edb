"""Slows down password guessing: repeated failed logins lock a username or a client for a while."""

from __future__ import annotations

import math
import time
from collections import defaultdict, deque
from collections.abc import Callable

WINDOW_SECONDS = 15 * 60
FREE_ATTEMPTS = 5
FIRST_LOCK_SECONDS = 30
MAX_LOCK_SECONDS = 15 * 60


class LoginThrottle:
    """Counts failures per key (a username or a client address) within a sliding window.

    After ``FREE_ATTEMPTS`` failures a key is locked for 30 s, doubling with every further failure up to
    15 minutes. Kept in memory: a restart forgives, which is acceptable for slowing down guessing.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def retry_after(self, *keys: str) -> int:
        """Seconds until any of ``keys`` may try again (0 when none is locked)."""
        return max((self._lock_remaining(key) for key in keys), default=0)

    def record_failure(self, *keys: str) -> None:
        now = self._clock()
        for key in keys:
            self._prune(key, now)
            self._failures[key].append(now)

    def record_success(self, key: str) -> None:
        self._failures.pop(key, None)

    def _lock_remaining(self, key: str) -> int:
        now = self._clock()
        self._prune(key, now)
        failures = self._failures.get(key)
        if not failures or len(failures) < FREE_ATTEMPTS:
            return 0
        lock = min(FIRST_LOCK_SECONDS * 2 ** (len(failures) - FREE_ATTEMPTS), MAX_LOCK_SECONDS)
        return max(0, math.ceil(failures[-1] + lock - now))

    def _prune(self, key: str, now: float) -> None:
        failures = self._failures.get(key)
        while failures and failures[0] < now - WINDOW_SECONDS:
            failures.popleft()
        if failures is not None and not failures:
            del self._failures[key]
