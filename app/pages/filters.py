"""The filter bar above the job grids; its values live in the URL so a filtered view can be shared."""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from app.pages.display import STATUS_LOOKS

FILTERS = ('status', 'job', 'run_by', 'since', 'until', 'q')
STATUS_OPTIONS = {'': 'Any status', **{status: look.text for status, look in STATUS_LOOKS.items()}}


class FilterBar:
    """Status, job type, run by (admins), start date range and free text; calls ``on_change`` with all values."""

    def __init__(
        self,
        values: dict[str, str],
        *,
        job_names: list[str],
        admin: bool,
        on_change: Callable[[dict[str, str]], None],
    ) -> None:
        self._on_change = on_change
        self._values = dict(values)
        self._fields: dict[str, ui.select | ui.input] = {}
        self._clearing = False
        jobs = {'': 'Any job', **{name: name for name in job_names}}
        with ui.row().classes('w-full items-end gap-3 q-px-md q-pt-sm wrap'):
            self._select('status', 'Status', STATUS_OPTIONS)
            self._select('job', 'Job', jobs)
            if admin:
                self._input('run_by', 'Run By').classes('w-32')
            self._input('since', 'Started from').props('type=date stack-label').classes('w-40')
            self._input('until', 'Started until').props('type=date stack-label').classes('w-40')
            self._input('q', 'Search description or job ID').props('debounce=300 clearable').classes('w-64')
            ui.button('Clear filters', icon='filter_alt_off', on_click=self.clear).props('flat no-caps dense')

    def _select(self, name: str, label: str, options: dict[str, str]) -> ui.select:
        value = self._values.get(name, '')
        select = ui.select(
            options, label=label, value=value if value in options else '', on_change=lambda e: self._set(name, e.value)
        ).classes('w-40')
        self._fields[name] = select
        return select

    def _input(self, name: str, label: str) -> ui.input:
        field = ui.input(label, value=self._values.get(name, ''), on_change=lambda e: self._set(name, e.value))
        self._fields[name] = field
        return field

    def _set(self, name: str, value: str | None) -> None:
        value = (value or '').strip()
        if self._values.get(name, '') != value:
            self._values[name] = value
            if not self._clearing:
                self._on_change(dict(self._values))

    def clear(self) -> None:
        """Empty every filter: one change for the grids, not one per field."""
        if not any(self._values.values()):
            return
        self._clearing = True
        try:
            for field in self._fields.values():
                field.set_value('')
        finally:
            self._clearing = False
        self._values = dict.fromkeys(FILTERS, '')
        self._on_change(dict(self._values))
