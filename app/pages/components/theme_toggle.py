"""ThemeToggle: the header button that picks light, dark or the browser's preference, kept per browser."""

from __future__ import annotations

from nicegui import ui


class ThemeToggle(ui.element, component='theme_toggle.js'):
    pass
