"""Revocation on open pages: a page keeps checking that the session that built it still stands.

Every logged-in page (``layout.frame``) gets a guard holding the browser's session key and the user as last read.
When the user's account changes (``AccountChanged``: logout, password change, disabling, a role change, here or on
another node, app.jobs.accounts), the guard reads the session again: if it ended, the page goes to /login and pushes
nothing more; if the role changed, pushed rows follow the new role (``LiveUpdates`` filters with ``guard.user``) and
an admin-only page goes to Job Management. Uploads are refused unless they come from the browser whose session
built the page and that session still stands (``check_upload``, the upload handlers' ``guard.check``).
"""

from __future__ import annotations

import asyncio
import weakref

from nicegui import Client, background_tasks, context, ui

from app.jobs.events import AccountChanged, Change
from app.pages.display import JOBS_PATH, login_path
from app.services import Services
from app.storage.models import User
from app.storage.users import session_user

_guards: weakref.WeakKeyDictionary[Client, SessionGuard] = weakref.WeakKeyDictionary()


class SessionGuard:
    def __init__(self, services: Services, user: User, key: str, *, admin_page: bool = False) -> None:
        self.user = user
        self.key = key  # the browser id whose session built the page
        self.ended = False
        self._services = services
        self._admin_page = admin_page
        client = context.client
        # Weakly: _guards holds the guard as long as its client lives, so a strong reference back to the client
        # would keep both (and the whole page) in memory forever.
        self._client = weakref.ref(client)
        self._path = client.request.url.path if client.request is not None else '/'
        self._idle = asyncio.Event()
        self._idle.set()
        _guards[client] = self
        services.feed.subscribe(self._receive)  # unsubscribed by NiceGUI when the page's client goes away

    @staticmethod
    def of(client: Client) -> SessionGuard | None:
        return _guards.get(client)

    async def settled(self) -> None:
        """Wait while a re-check is under way (pushes wait for it, so they follow the new role)."""
        await self._idle.wait()

    def _receive(self, change: Change) -> None:
        if isinstance(change, AccountChanged) and change.user_id == self.user.id and not self.ended:
            self._idle.clear()
            background_tasks.create(self.check(), name='session re-check')

    async def check(self) -> User | None:
        """Read the session again: the current user, or None when it ended (the page then goes to /login)."""
        if self.ended:
            return None
        self._idle.clear()
        try:
            services = self._services
            fresh = await services.threads.run(
                session_user, services.engine, self.key, **services.settings.session_limits
            )
        finally:
            self._idle.set()
        if fresh is None or fresh.id != self.user.id:
            self.end()
            return None
        demoted = self.user.is_admin and not fresh.is_admin
        self.user = fresh
        client = self._client()
        if demoted and self._admin_page and client is not None and not client.is_deleted:
            with client:
                ui.navigate.to(JOBS_PATH)  # this page is for admins only
        return fresh

    def end(self, *, navigate: bool = True) -> None:
        """The session ended: push nothing more; the page goes to /login unless ``navigate`` is False (a page that
        navigates itself) or a newer page replaced it in its browser tab."""
        self.ended = True
        self._idle.set()
        self._services.feed.unsubscribe(self._receive)
        client = self._client()
        if navigate and client is not None and not client.is_deleted and not _replaced(client):
            with client:
                ui.navigate.to(login_path(self._path))


def _replaced(client: Client) -> bool:
    """Whether a newer page took the client's place in its browser tab."""
    tab, created = client.tab_id, client.created
    return tab is not None and any(
        other.tab_id == tab and other.created > created for other in Client.instances.values() if other is not client
    )


async def check_upload(services: Services, client_id: str, key: str) -> bool:
    """An upload to a page's upload route: only from the browser whose session built the page, while it stands."""
    client = Client.instances.get(client_id)
    guard = SessionGuard.of(client) if client is not None else None
    if guard is None or guard.ended or guard.key != key:
        return False
    return await guard.check() is not None


async def page_user() -> User | None:
    """In an event handler: the user of the session that built the page, read now (None once it ended)."""
    guard = SessionGuard.of(context.client)
    return await guard.check() if guard is not None else None


def page_session_key() -> str | None:
    """The browser key of the session that built the page (event handlers)."""
    guard = SessionGuard.of(context.client)
    return guard.key if guard is not None else None
