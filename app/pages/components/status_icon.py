"""StatusIcon: a job or subtask status as an icon named by its text, as the grids show it."""

from __future__ import annotations

from nicegui import ui

from app.pages.display import status_look


class StatusIcon(ui.element):
    """The glyph is drawn by CSS (``.glyph::before``), so the page's text holds only the status itself:
    a script or a screen reader reading "Failed" does not read the icon's ligature name ("cancel Failed")."""

    def __init__(self, status: str) -> None:
        super().__init__('span')
        self.props['role'] = 'img'
        self.set_status(status)

    @property
    def status_text(self) -> str:
        return str(self.props['aria-label'])

    def set_status(self, status: str) -> None:
        """Show ``status``: icon, colour, and its text as aria-label and title."""
        look = status_look(status)
        self.classes(replace=f'material-icons glyph job-status job-status--{look.css}')
        self.props.update({'aria-label': look.text, 'title': look.text, 'data-icon': look.icon})
