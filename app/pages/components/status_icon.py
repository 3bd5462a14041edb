"""StatusIcon: a job or subtask status as an icon named by its text, as the grids show it."""

from __future__ import annotations

from nicegui import ui

from app.pages.display import status_look


class StatusIcon(ui.icon):
    def __init__(self, status: str) -> None:
        super().__init__('')
        self.classes('job-status')
        self.props['role'] = 'img'
        self.set_status(status)

    def set_status(self, status: str) -> None:
        """Show ``status``: icon, colour, and its text as aria-label and title."""
        look = status_look(status)
        self.name = look.icon
        self.classes(replace=f'job-status job-status--{look.css}')
        self.props.update({'aria-label': look.text, 'title': look.text})
