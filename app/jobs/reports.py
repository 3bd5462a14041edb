"""CSV reports that jobs build row by row (spreadsheet-safe cells), and the names of output files."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

# A cell starting with one of these is run as a formula by spreadsheets; a leading quote keeps it text.
FORMULA_STARTS = ('=', '+', '-', '@', '\t', '\r')


def utc_stamp() -> str:
    """The current UTC time as used in output file names: ``YYYYmmdd-HHMMSS``."""
    return datetime.now(UTC).strftime('%Y%m%d-%H%M%S')


def quantity(count: int, noun: str) -> str:
    """``1 job``, ``2,500 jobs``: a count with its noun in the right number."""
    return f'{count:,} {noun}' if count == 1 else f'{count:,} {noun}s'


class CsvReport:
    """A CSV file written incrementally; its methods block, so call them through ``ctx.run_blocking``."""

    def __init__(self, path: Path, header: Sequence[str]) -> None:
        self.path = path
        self.rows = 0
        self._file = path.open('w', newline='', encoding='utf-8')
        self._writer = csv.writer(self._file)
        self._writer.writerow(header)

    def write(self, rows: Iterable[Sequence[object]]) -> None:
        """Append rows; text cells that a spreadsheet would run as a formula are quoted."""
        for row in rows:
            self._writer.writerow([safe_cell(value) for value in row])
            self.rows += 1

    def write_plain(self, text: str, rows: int) -> None:
        """Append ``rows`` lines already formatted as CSV and spreadsheet-safe (``safe_cell``), each ending in CRLF."""
        self._file.write(text)
        self.rows += rows

    def close(self) -> Path:
        """Finish the file and return its path (to hand to ``ctx.add_output``)."""
        self._file.close()
        return self.path

    def discard(self) -> None:
        """Close and delete the file if it was not handed over (after an error)."""
        self._file.close()
        self.path.unlink(missing_ok=True)


def safe_cell(value: object) -> object:
    """``value`` with a leading ``'`` if it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
