"""BrowserNotifier: a button that switches the browser's own notifications on, and shows them for finished jobs."""

from __future__ import annotations

from nicegui import ui


class BrowserNotifier(ui.element, component='browser_notifier.js'):
    def show(self, title: str, body: str, url: str) -> None:
        """A system notification (if the user switched them on in this browser); clicking it opens ``url``."""
        self.run_method('show', title, body, url)
