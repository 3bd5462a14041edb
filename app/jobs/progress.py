"""One progress scale per job: steps map their own progress onto the job's percent, which never goes back.

A handler may declare its steps' weights (``ctx.plan``); each step's ``done of total`` then fills that step's share
of the job (steps that run at the same time each fill their own). Without a plan, ``done of total`` is the job's
own fraction. The ETA comes from the rate observed since the first report. Pure bookkeeping (no I/O, any thread):
the context decides when to write it.
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
        self._shares: dict[str, float] = {}  # planned step -> its share of the job, in percent
        self._filled: dict[str, float] = {}  # planned step -> the fraction of its share done
        self._running: list[str] = []  # steps entered and not yet left, in the order they started
        self.percent = 0.0
        self._start: tuple[float, float] | None = None  # (time, percent) of the first report
        self.reported = False

    def plan(self, weights: Mapping[str, float]) -> None:
        """Declare the job's steps (subtask names, in order) and their relative weights."""
        total = sum(weights.values()) or 1.0
        with self._lock:
            self._shares = {name: 100.0 * weight / total for name, weight in weights.items()}
            self._filled = dict.fromkeys(self._shares, 0.0)

    def enter(self, step: str) -> None:
        """A step starts: the planned steps before it that are not still running count as done (an unplanned step
        of a planned job moves nothing). Steps may overlap: each fills its own share."""
        with self._lock:
            self._running.append(step)
            if step in self._shares:
                for name in self._shares:
                    if name == step:
                        break
                    if name not in self._running:
                        self._filled[name] = 1.0
                self._raise_to_filled()

    def leave(self, step: str) -> None:
        """A step ended: its share is full."""
        with self._lock:
            if step in self._running:
                self._running.remove(step)
            if step in self._shares:
                self._filled[step] = 1.0
                self._raise_to_filled()

    def report(self, done: int, total: int, step: str | None = None) -> float:
        """``step`` (by default the one that started last) did ``done`` of ``total``; returns the job's percent.
        Without a plan, this is the job's own fraction."""
        fraction = min(max(done / total, 0.0), 1.0) if total > 0 else 0.0
        with self._lock:
            if not self._shares:
                self._raise(100.0 * fraction)
                return self.percent
            name = step if step is not None else (self._running[-1] if self._running else '')
            if name in self._shares:
                self._filled[name] = max(self._filled[name], fraction)
            self._raise_to_filled()
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

    def _raise_to_filled(self) -> None:
        self._raise(sum(share * self._filled[name] for name, share in self._shares.items()))

    def _raise(self, percent: float) -> None:
        percent = min(percent, 100.0)
        if self._start is None:
            self._start = (self._clock(), self.percent)
        self.reported = True
        self.percent = max(self.percent, percent)
