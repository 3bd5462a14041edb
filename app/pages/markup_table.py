"""A plain HTML table (Quasar's markup-table look) built from NiceGUI elements: real ``th``/``td`` cells that
screen readers announce as a grid, with buttons inside the rows that are ordinary NiceGUI buttons."""

from __future__ import annotations

from nicegui import ui


class MarkupTable(ui.element):
    def __init__(self, headers: list[str], *, label: str) -> None:
        super().__init__('q-markup-table')
        self.props(f'flat bordered dense wrap-cells aria-label="{label}"').classes('w-full')
        with self:
            with ui.element('thead'), ui.element('tr'):
                for header in headers:
                    with ui.element('th').classes('text-left').props('scope=col'):
                        ui.label(header)
            self.body = ui.element('tbody')

    def clear_rows(self) -> None:
        self.body.clear()

    def row(self) -> ui.element:
        """A new row (enter it, then add one ``cell()`` per header)."""
        with self.body:
            return ui.element('tr')


def cell(text: str | None = None) -> ui.element:
    """A cell of the current row; with ``text`` it shows that text, else enter it to put elements inside."""
    element = ui.element('td')
    if text is not None:
        with element:
            ui.label(text)
    return element
