"""The contacts CSV rules, without a database: file checks, the header, row validation, streamed in one pass."""

from __future__ import annotations

import codecs
import csv
import marshal
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from app.jobs.reports import CsvReport
from app.storage.contacts import ContactRow

COLUMNS = ('name', 'email', 'phone', 'company')
REQUIRED = ('name', 'email')
ERROR_HEADER = ('line', 'column', 'value', 'error')
MAX_TEXT = 200
MB = 1024 * 1024
CHUNK = MB
PROGRESS_EVERY = 1000  # records between progress reports
PHONE = re.compile(r'[0-9 +\-()]{7,20}')
_ATOM = r"[\w!#$%&'*+/=?^`{|}~-]+"
_LABEL = r'[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?'  # letters and digits, inner hyphens
# The lookahead: at most 64 characters before the @ (the local part holds no @ of its own).
EMAIL = re.compile(rf'(?=[^@]{{1,64}}@){_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+(?:[^\W\d_]{{2,}}|xn--[\w-]+)')

Progress = Callable[[int, int], None]
ValidBatch = tuple[list[int], list[ContactRow]]  # the lines of the valid records, and their contacts
VALID_BATCH = 5000  # valid rows per record of the valid-rows file

MAX_REPORT_VALUE = 1000  # characters of a value copied into the error report; longer ones are cut, with a mark
CUT_MARK = '…[cut]'
NOT_UTF8_BUT_UTF16 = 'The file is not UTF-8 text (it is UTF-16, "Unicode text"): save it as "CSV UTF-8"'
MAX_FIELD_BYTES = (1 << 31) - 1  # as large as the csv module allows on every platform


class FileProblem(ValueError):
    """The file as a whole cannot be imported; the message tells the person who uploaded it why."""


@dataclass(frozen=True, slots=True)
class Layout:
    """What the first pass learned: the column of each contract field and about how many lines there are."""

    columns: dict[str, int]
    size: int
    lines: int

    @property
    def positions(self) -> tuple[int, ...]:
        """The cell index of each of COLUMNS; an absent column gets an index past any row, so it reads as ''."""
        return tuple(self.columns.get(name, sys.maxsize) for name in COLUMNS)


@dataclass(frozen=True, slots=True)
class Problem:
    column: str
    value: str
    error: str


@dataclass(slots=True)
class Summary:
    records: int = 0  # non-blank data records
    rejected: int = 0
    problems: int = 0

    @property
    def valid(self) -> int:
        return self.records - self.rejected


def inspect_file(path: Path, *, limit: int, progress: Progress | None = None) -> Layout:
    """Check size, binary data and UTF-8 in one streaming pass, then map the header; raises FileProblem.

    ``progress`` hears bytes read of the size after every chunk (it may raise to stop the pass).
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise FileProblem('The uploaded file is missing from the file store') from None
    if size > limit:
        raise FileProblem(f'The file is larger than the limit of {limit // MB} MB')
    lines = _check_text(path, progress or _ignore, size)
    with open_text(path) as file:
        for _line, cells in records(file):
            return Layout(columns=map_header(cells), size=size, lines=lines)
    raise FileProblem('The file is empty')


def validate_rows(path: Path, layout: Layout, *, valid: Path, errors: Path, progress: Progress) -> Summary:
    """Check every record: valid ones go to ``valid`` in batches (read them with ``valid_batches``), problems to
    ``errors``.

    Streams, so memory stays flat however long the file is; only the e-mails seen so far are kept.
    """
    summary = Summary()
    seen: dict[str, int] = {}  # e-mail -> line that claimed it
    total, last, positions = layout.lines, 0, layout.positions
    report = CsvReport(errors, ERROR_HEADER)
    lines: list[int] = []
    contacts: list[ContactRow] = []
    try:
        with open_text(path) as file, valid.open('wb') as valid_file:
            rows = records(file)
            next(rows, None)  # the header, mapped by inspect_file
            for line, cells in rows:
                values = [cells[index] if index < len(cells) else '' for index in positions]
                problems = check_record(values, line, seen)
                summary.records += 1
                if problems:
                    summary.rejected += 1
                    summary.problems += len(problems)
                    report.write((line, p.column, clip(p.value), p.error) for p in problems)
                else:
                    name, email, phone, company = values
                    lines.append(line)
                    contacts.append((name, email.lower(), phone or None, company or None))
                    if len(lines) == VALID_BATCH:
                        _write_batch(valid_file, (lines, contacts))
                        lines, contacts = [], []
                if summary.records % PROGRESS_EVERY == 0:
                    total = max(total, line)
                    progress(line, total)
                last = line
            if lines:
                _write_batch(valid_file, (lines, contacts))
    finally:
        report.close()
    if summary.records == 0:
        raise FileProblem('The file has a header but no data rows')
    total = max(total, last)
    progress(total, total)
    return summary


def valid_batches(path: Path) -> Iterator[ValidBatch]:
    """The valid rows ``validate_rows`` wrote, batch by batch (marshal: a temp file of our own, read back in C)."""
    with path.open('rb') as file:
        while size := int.from_bytes(file.read(8), 'little'):
            yield marshal.loads(file.read(size))


def _write_batch(file: IO[bytes], batch: ValidBatch) -> None:
    """One length-prefixed marshal record (``marshal.load`` on a file reads it piece by piece: slow)."""
    data = marshal.dumps(batch)
    file.write(len(data).to_bytes(8, 'little'))
    file.write(data)


def clip(value: str) -> str:
    """A value as the error report shows it: a rejected 5 MB cell is not copied whole (``MAX_REPORT_VALUE``)."""
    return value if len(value) <= MAX_REPORT_VALUE else value[:MAX_REPORT_VALUE] + CUT_MARK


def check_record(values: Sequence[str], line: int, seen: dict[str, int]) -> list[Problem]:
    """The problems of one record (values in COLUMNS order); a valid e-mail not seen before is claimed for ``line``."""
    name, email, phone, company = values
    address = email.lower()
    if (0 < len(name) <= MAX_TEXT and len(company) <= MAX_TEXT and address not in seen
            and (not phone or PHONE.fullmatch(phone)) and is_email(address)):  # fmt: skip
        seen[address] = line  # the common case, checked in one go
        return []
    problems: list[Problem] = []
    if not name:
        problems.append(Problem('name', name, 'Name is required'))
    elif len(name) > MAX_TEXT:
        problems.append(Problem('name', name, f'Name is longer than {MAX_TEXT} characters'))
    if not email:
        problems.append(Problem('email', email, 'E-mail is required'))
    elif not is_email(address):
        problems.append(Problem('email', email, 'Not a valid e-mail address'))
    elif address in seen:
        problems.append(Problem('email', email, f'Duplicate e-mail address: already used on line {seen[address]}'))
    else:
        seen[address] = line
    if phone and not PHONE.fullmatch(phone):
        problems.append(Problem('phone', phone, 'Phone must be 7 to 20 characters of digits, spaces and + - ( )'))
    if len(company) > MAX_TEXT:
        problems.append(Problem('company', company, f'Company is longer than {MAX_TEXT} characters'))
    return problems


def is_email(address: str) -> bool:
    """A pragmatic address check: dot-atom local part (at most 64 characters), a domain with a real TLD."""
    return len(address) <= 254 and EMAIL.fullmatch(address) is not None


def map_header(cells: list[str]) -> dict[str, int]:
    """The column index of each contract field in a header row (names trimmed, any case); unknown ones ignored."""
    columns: dict[str, int] = {}
    for index, cell in enumerate(cells):
        name = cell.lower()
        if name in COLUMNS:
            if name in columns:
                raise FileProblem(f'The header names the column "{name}" more than once')
            columns[name] = index
    if not columns and len(cells) == 1 and (';' in cells[0] or '\t' in cells[0]):
        raise FileProblem('The file is not comma-separated: separate the columns with commas')
    if not columns and any('@' in cell for cell in cells):  # an e-mail address on line 1: data, not a header
        raise FileProblem('The file has no header row: its first line must name the columns, e.g. name,email,phone')
    missing = [f'"{name}"' for name in REQUIRED if name not in columns]
    if missing:
        raise FileProblem(f'The header has no {" or ".join(missing)} column')
    return columns


def open_text(path: Path) -> IO[str]:
    """The file as text for the csv module; ``utf-8-sig`` drops a BOM, ``newline=''`` keeps quoted newlines."""
    return path.open(encoding='utf-8-sig', newline='')


def records(file: IO[str]) -> Iterator[tuple[int, list[str]]]:
    """Non-blank records with the line each starts on (the header is line 1) and their values trimmed.

    A record whose cells are all empty (a blank line, or Excel's trailing ``,,,``) counts as blank.
    """
    # The csv module refuses fields over 128 KiB by default; a long value should be a rejected row, not a broken
    # file. The upload limit already bounds how much can arrive.
    csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD_BYTES))
    reader = csv.reader(file, strict=True)
    previous = 0  # the last physical line of the previous record, blank ones included
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise FileProblem(
                f'The file is not valid CSV: {error} (in the record starting on line {previous + 1})'
            ) from None
        line, previous = previous + 1, reader.line_num
        cells = [cell.strip() for cell in row]
        if any(cells):
            yield line, cells


def _ignore(_done: int, _total: int) -> None:
    pass


def _check_text(path: Path, progress: Progress, size: int) -> int:
    """Reject NUL bytes and invalid UTF-8, chunk by chunk; returns the number of lines (for progress)."""
    # The incremental decoder keeps a character cut in two by a chunk boundary until the next chunk completes it.
    decoder = codecs.getincrementaldecoder('utf-8')()
    newlines, last, read = 0, b'', 0
    with path.open('rb') as file:
        while chunk := file.read(CHUNK):
            if newlines == 0 and looks_utf16(chunk):
                raise FileProblem(NOT_UTF8_BUT_UTF16)
            read += len(chunk)
            progress(read, max(size, read))
            if b'\x00' in chunk:
                raise FileProblem('The file contains binary data, not CSV text')
            _decode(decoder, chunk, newlines)
            newlines, last = newlines + chunk.count(b'\n'), chunk[-1:]
    _decode(decoder, b'', newlines, final=True)
    return newlines + (last != b'\n')


def looks_utf16(start: bytes) -> bool:
    """Whether the file's first bytes are UTF-16 (or UTF-32) text: a byte-order mark, or NUL bytes in every other
    position, as Latin text saved as "Unicode text" has them (Excel's and Notepad's UTF-16 exports)."""
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # also the UTF-32 marks
        return True
    sample = start[:4096]
    if len(sample) < 4 or sample.count(0) < len(sample) // 4:
        return False
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    return max(even, odd) >= 0.9 * (even + odd)


def _decode(decoder: codecs.IncrementalDecoder, data: bytes, newlines: int, *, final: bool = False) -> None:
    """Decode the next chunk; invalid UTF-8 is a FileProblem naming the line of the first bad byte."""
    try:
        decoder.decode(data, final)
    except UnicodeDecodeError as error:
        # error.object is the decoder's held-back bytes (never a newline) followed by ``data``.
        raise _not_utf8(newlines + error.object[: error.start].count(b'\n') + 1) from None


def _not_utf8(line: int) -> FileProblem:
    return FileProblem(f'The file is not UTF-8 text (invalid byte on line {line}): save it as "CSV UTF-8"')
