"""One progress scale per job: steps map their own progress onto the job's percent, which never goes back.

A handler may declare its steps' weights (``ctx.plan``); each step's ``done of total`` then fills that step's share
of the job. Without a plan, ``done of total`` is the job's own fraction. The ETA comes from the rate observed since
the first report. Pure bookkeeping (no I/O, any thread): the context decides when to write it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

MIN_ETA_PERCENT = 1.0  # below this much progress since the first report, a rate says nothing yet


class ProgressScale:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._spans: dict[str, tuple[float, float]] = {}
        self._span = (0.0, 100.0)  # the share of the job the step under way fills
        self.percent = 0.0
        self._start: tuple[float, float] | None = None  # (time, percent) of the first report
        self.reported = False

    def plan(self, weights: Mapping[str, float]) -> None:
        """Declare the job's steps (subtask names, in order) and their relative weights."""
        total = sum(weights.values()) or 1.0
        start = 0.0
        with self._lock:
            self._spans.clear()
            for name, weight in weights.items():
                share = 100.0 * weight / total
                self._spans[name] = (start, start + share)
                start += share
            self._span = (0.0, 0.0)

    def enter(self, step: str) -> None:
        """A step starts: its reports fill its share (an unplanned step of a planned job moves nothing)."""
        with self._lock:
            if self._spans:
                self._span = self._spans.get(step, (self.percent, self.percent))
                self._raise(self._span[0])

    def leave(self, step: str) -> None:
        """A step ended: the job is at least at the end of its share."""
        with self._lock:
            if step in self._spans:
                self._raise(self._spans[step][1])

    def report(self, done: int, total: int) -> float:
        """The step (or job) did ``done`` of ``total``; returns the job's percent."""
        fraction = min(max(done / total, 0.0), 1.0) if total > 0 else 0.0
        with self._lock:
            start, end = self._span
            self._raise(start + (end - start) * fraction)
            return self.percent

    def eta(self) -> float | None:
        """Seconds left at the rate observed so far, or None while it is not known."""
        with self._lock:
            if self._start is None:
                return None
            started_at, started_percent = self._start
            gained = self.percent - started_percent
            if gained < MIN_ETA_PERCENT:
                return None
            elapsed = self._clock() - started_at
            return round(max(0.0, (100.0 - self.percent) * elapsed / gained), 1)

    def _raise(self, percent: float) -> None:
        percent = min(percent, 100.0)
        if self._start is None:
            self._start = (self._clock(), self.percent)
        self.reported = True
        self.percent = max(self.percent, percent)
