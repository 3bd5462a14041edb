"""LocalTime: a UTC timestamp that the browser shows in its own time zone, labelled with the zone."""

from __future__ import annotations

from nicegui import ui


class LocalTime(ui.element, component='local_time.js'):
    def __init__(self, value: str | None, *, relative: bool = False, clock: bool = False) -> None:
        """``value``: an ISO 8601 time with its offset, or None (shows nothing); ``relative`` adds "5 minutes ago";
        ``clock`` shows only the time of day ("03:00 CET")."""
        super().__init__()
        self._props['value'] = value or ''
        self._props['relative'] = relative
        self._props['clock'] = clock

    def set_value(self, value: str | None) -> None:
        if self._props['value'] != (value or ''):
            self._props['value'] = value or ''
            self.update()
