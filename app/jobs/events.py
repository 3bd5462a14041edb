"""The in-process change feed: every committed job, subtask or file change is published here.

Only the job store (app.jobs.store) publishes job changes, right after they commit; account changes come from
app.jobs.accounts. Pages subscribe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nicegui import Event


@dataclass(frozen=True, slots=True)
class JobChanged:
    """A job's row changed (created, progressed, finished); ``row`` is its API shape."""

    job_id: int
    owner_id: int
    category: str
    row: dict[str, Any] = field(hash=False)


@dataclass(frozen=True, slots=True)
class DetailChanged:
    """A job's subtasks or files changed; only its detail page cares."""

    job_id: int
    owner_id: int
    category: str


@dataclass(frozen=True, slots=True)
class Resync:
    """Changes may have been missed (the cross-node relay reconnected): every open page re-reads its data."""


@dataclass(frozen=True, slots=True)
class AccountChanged:
    """A user's sessions, password, status or role changed (here or on another node, app.jobs.accounts): their open
    pages re-check their session and role (app.pages.session_guard)."""

    user_id: int


Change = JobChanged | DetailChanged | Resync | AccountChanged


class ChangeFeed:
    """Publishes changes to subscribers; a subscription made in a page dies with its client.

    NiceGUI (half a second to import) is loaded at the first publish or subscription, so the command line, which
    builds the same services but never runs a job or shows a page, starts without it.
    """

    def __init__(self) -> None:
        self._subscribers: Event[Change] | None = None

    @property
    def _event(self) -> Event[Change]:
        if self._subscribers is None:
            from nicegui import Event

            self._subscribers = Event()
        return self._subscribers

    def publish(self, change: Change) -> None:
        """Hand a change to every subscriber (call only after the change is committed)."""
        self._event.emit(change)

    def subscribe(self, callback: Any) -> None:
        """Call ``callback(change)`` for every change from now on (made in a page: until its client goes away)."""
        self._event.subscribe(callback, expect_args=True)

    def unsubscribe(self, callback: Any) -> None:
        """Stop calling ``callback``."""
        self._event.unsubscribe(callback)
