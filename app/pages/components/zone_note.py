"""ZoneNote: says which time zone the times of a grid are shown in (the browser's own)."""

from __future__ import annotations

from nicegui import ui


class ZoneNote(ui.element, component='zone_note.js'):
    pass
