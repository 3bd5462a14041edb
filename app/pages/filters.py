"""The filter bar above the job grids; its values live in the URL so a filtered view can be shared."""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

FILTERS = ('status', 'job', 'run_by', 'since', 'until', 'q')
STATUS_OPTIONS = {'': 'Any status', 'in_progress': 'In Progress', 'completed': 'Completed', 'failed': 'Failed'}


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
        jobs = {'': 'Any job', **{name: name for name in job_names}}
        with ui.row().classes('w-full items-end gap-3 q-px-md q-pt-sm wrap'):
            self._select('status', 'Status', STATUS_OPTIONS)
            self._select('job', 'Job', jobs)
            if admin:
                self._input('run_by', 'Run By').classes('w-32')
            self._input('since', 'Started from').props('type=date stack-label').classes('w-40')
            self._input('until', 'Started until').props('type=date stack-label').classes('w-40')
            self._input('q', 'Search description or job ID').props('debounce=300 clearable').classes('w-64')
            ui.button('Clear filters', icon='filter_alt_off', on_click=self._clear).props('flat no-caps dense')

    def _select(self, name: str, label: str, options: dict[str, str]) -> ui.select:
        value = self._values.get(name, '')
        return ui.select(
            options, label=label, value=value if value in options else '', on_change=lambda e: self._set(name, e.value)
        ).classes('w-40')

    def _input(self, name: str, label: str) -> ui.input:
        return ui.input(label, value=self._values.get(name, ''), on_change=lambda e: self._set(name, e.value))

    def _set(self, name: str, value: str | None) -> None:
        value = (value or '').strip()
        if self._values.get(name, '') != value:
            self._values[name] = value
            self._on_change(dict(self._values))

    def _clear(self) -> None:
        if any(self._values.values()):
            self._values = dict.fromkeys(FILTERS, '')
            self._on_change(dict(self._values))
            ui.navigate.reload()
