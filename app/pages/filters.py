"""The filter bar above the job grids; its values live in the URL so a filtered view can be shared.

On a phone the fields fold behind a "Filters" button that says how many are set.
"""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from app.pages.display import STATUS_LOOKS

FILTERS = ('status', 'job', 'run_by', 'since', 'until', 'q')
STATUS_OPTIONS = {'': 'Any status', **{status: look.text for status, look in STATUS_LOOKS.items()}}


class FilterBar:
    """Status, job type, run by (admins: a searchable list of users), start date range and free text; calls
    ``on_change`` with all values."""

    def __init__(
        self,
        values: dict[str, str],
        *,
        job_names: list[str],
        usernames: list[str] | None,
        on_change: Callable[[dict[str, str]], None],
    ) -> None:
        self._on_change = on_change
        self._values = dict(values)
        self._fields: dict[str, ui.select | ui.input] = {}
        self._clearing = False
        self.toggle = (
            ui.button(on_click=self._fold).props('outline no-caps icon=filter_list').classes('filters-toggle q-mx-md')
        )
        with ui.row().classes('filter-fields w-full items-end gap-3 q-px-md q-pt-sm wrap') as self.fields:
            self._select('status', 'Status', STATUS_OPTIONS)
            self.jobs = self._select('job', 'Job', self._job_options(job_names))
            if usernames is not None:  # admins see everyone's jobs, so they may narrow to one person's
                people = {'': 'Anyone', **{name: name for name in usernames}}
                self._select('run_by', 'Run By', people).props('use-input input-debounce=0 fill-input hide-selected')
            self._input('since', 'Started from').props('type=date stack-label').classes('w-40')
            self._input('until', 'Started until').props('type=date stack-label').classes('w-40')
            self._input('q', 'Search description or job ID').props('debounce=300 clearable').classes('w-64')
            ui.button('Clear filters', icon='filter_alt_off', on_click=self.clear).props('flat no-caps dense')
        self._show_count()

    def set_jobs(self, job_names: list[str]) -> None:
        """Offer these job names (those of the open tab); a chosen job that is not among them is cleared."""
        options = self._job_options(job_names)
        self.jobs.set_options(options, value=self.jobs.value if self.jobs.value in options else '')

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
        self._changed()

    @staticmethod
    def _job_options(job_names: list[str]) -> dict[str, str]:
        return {'': 'Any job', **{name: name for name in job_names}}

    def _select(self, name: str, label: str, options: dict[str, str]) -> ui.select:
        value = self._values.get(name, '')
        if value and value not in options:  # e.g. a user who no longer exists, from a bookmarked link
            options = {**options, value: value}
        select = ui.select(options, label=label, value=value, on_change=lambda e: self._set(name, e.value))
        self._fields[name] = select.classes('w-40')
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
                self._changed()

    def _changed(self) -> None:
        self._show_count()
        self._on_change(dict(self._values))

    def _show_count(self) -> None:
        count = sum(1 for value in self._values.values() if value)
        self.toggle.set_text(f'Filters ({count})' if count else 'Filters')

    def _fold(self) -> None:
        self.fields.classes(toggle='filter-fields--open')
