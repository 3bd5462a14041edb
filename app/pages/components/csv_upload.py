"""CsvUpload: NiceGUI's upload with an accessible "+" button (see csv_upload.js)."""

from __future__ import annotations

from typing import Any

from nicegui import ui


class CsvUpload(ui.upload, component='csv_upload.js'):
    def __init__(self, *, add_label: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._props['add-label'] = add_label
