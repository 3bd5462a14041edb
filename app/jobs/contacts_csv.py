"""The contacts CSV rules, without a database: file checks, the header, row validation, streamed in one pass."""

from __future__ import annotations

import codecs
import csv
import functools
import io
import operator
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

from app.jobs.reports import CsvReport
from app.storage.contacts import ContactBatch, ContactRow, to_json

COLUMNS = ('name', 'email', 'phone', 'company')
REQUIRED = ('name', 'email')
ERROR_HEADER = ('line', 'column', 'value', 'error')
MAX_TEXT = 200
MB = 1024 * 1024
CHUNK = MB  # bytes read at a time by the first pass
BLOCK = 256 * 1024  # characters validated at a time (progress is reported after each)
PHONE = re.compile(r'[0-9 +\-()]{7,20}')
_ATOM = r"[\w!#$%&'*+/=?^`{|}~-]+"
_LABEL = r'[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?'  # letters and digits, inner hyphens
# The lookahead: at most 64 characters before the @ (the local part holds no @ of its own).
EMAIL = re.compile(rf'(?=[^@]{{1,64}}@){_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+(?:[^\W\d_]{{2,}}|xn--[\w-]+)')

# The fast path's record (see ``fast_record``): cells already trimmed, no quotes. The e-mail is a plain-ASCII case of
# EMAIL (so lower-casing changes neither its length nor its validity), with the same length limits.
_TRIMMED = rf'[^\s,"](?:[^,"\r\n]{{0,{MAX_TEXT - 2}}}[^\s,"])?'  # 1 to MAX_TEXT characters, none of them , " or \n
_ASCII_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^`{|}~_-]+"
_ASCII_LABEL = r'[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
_FAST_CELLS = {
    'name': _TRIMMED,
    'email': rf'(?![^,\r]{{255}})(?=[^@,]{{1,64}}@){_ASCII_ATOM}(?:\.{_ASCII_ATOM})*@(?:{_ASCII_LABEL}\.)+'
    r'(?:[A-Za-z]{2,}|xn--[A-Za-z0-9_-]+)',
    'phone': r'(?:[0-9+\-()][0-9 +\-()]{5,18}[0-9+\-()])?',
    'company': f'(?:{_TRIMMED})?',
}
_OTHER_CELL = r'[^,"\r\n]*'
# What a JSON string may not hold as it is, besides the quote and the line breaks no plain cell has: the backslash
# and the other control characters.
_NEEDS_ESCAPE = re.compile(r'[\\\x00-\x09\x0b\x0c\x0e-\x1f]')

Progress = Callable[[int, int], None]
Sink = Callable[[ContactBatch], None]  # takes each batch of valid rows
VALID_BATCH = 5000  # valid rows handed over at a time, and written to the contact table at a time

MAX_REPORT_VALUE = 1000  # characters of a value copied into the error report; longer ones are cut, with a mark
CUT_MARK = '…[cut]'
NOT_UTF8_BUT_UTF16 = 'The file is not UTF-8 text (it is UTF-16, "Unicode text"): save it as "CSV UTF-8"'
MAX_FIELD_BYTES = (1 << 31) - 1  # as large as the csv module allows on every platform


class FileProblem(ValueError):
    """The file as a whole cannot be imported; the message tells the person who uploaded it why."""


class BadCsv(FileProblem):
    """The csv module could not read a record; ``lines_read`` is how many lines it had read by then."""

    def __init__(self, message: str, lines_read: int) -> None:
        super().__init__(message)
        self.lines_read = lines_read


@dataclass(frozen=True, slots=True)
class Layout:
    """What the first pass learned: the column of each contract field and about how many lines there are."""

    columns: dict[str, int]
    size: int
    lines: int
    width: int  # cells in the header row

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
    """Check size, binary data and UTF-8 in one streaming pass, then map the header and look for a data row;
    raises FileProblem. A file with quotes is also read through once by the csv module, so that a broken quote is
    found here: rows are written while they are validated, and a file that cannot be read must write none.

    ``progress`` hears bytes read of the size after every chunk (it may raise to stop the pass).
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise FileProblem('The uploaded file is missing from the file store') from None
    if size > limit:
        raise FileProblem(f'The file is larger than the limit of {limit // MB} MB')
    lines, quoted = _check_text(path, progress or _ignore, size)
    with open_text(path) as file:
        read = records(file)
        for _line, cells in read:
            layout = Layout(columns=map_header(cells), size=size, lines=lines, width=len(cells))
            break
        else:
            raise FileProblem('The file is empty')
        rows = False
        for _record in read:  # a file with quotes is read to its end: BadCsv at the first record it cannot read
            rows = True
            if not quoted:
                break
    if not rows:
        raise FileProblem('The file has a header but no data rows')
    return layout


def validate_rows(path: Path, layout: Layout, *, valid: Sink, errors: Path, progress: Progress) -> Summary:
    """Check every record: valid ones go to ``valid`` in batches of VALID_BATCH, problems go to ``errors``.

    Streams block by block, so memory stays flat however long the file is; only the e-mails seen so far are kept.
    ``progress`` hears the line reached after every block (it may raise to stop).
    """
    report = CsvReport(errors, ERROR_HEADER)
    checker = _Checker(layout, valid, report)
    try:
        with open_text(path) as file:
            text, total = _Text(file), layout.lines
            while block := text.take():
                checker.block(block, text)
                total = max(total, checker.line - 1)
                progress(checker.line - 1, total)
        checker.flush()
    finally:
        report.close()
    return checker.summary


class _Text:
    """A text file in blocks of whole lines, about ``BLOCK`` characters each."""

    def __init__(self, file: IO[str]) -> None:
        self._file = file
        self._rest = ''
        self.ended = False

    def take(self) -> str:
        """The next whole lines ('' at the end): they end with a line break, unless the file does not."""
        parts = [self._rest]
        while not self.ended:
            chunk = self._file.read(BLOCK)
            if not chunk:
                self.ended = True
                break
            # The last line break in the chunk; a carriage return at its very end may be the first half of \r\n.
            cut = max(chunk.rfind('\n'), chunk.rfind('\r', 0, len(chunk) - 1)) + 1
            if cut:
                parts.append(chunk[:cut])
                self._rest = chunk[cut:]
                return ''.join(parts)
            parts.append(chunk)
        self._rest = ''
        return ''.join(parts)


def count_lines(text: str) -> int:
    """The lines of ``text`` as the csv module counts them: \n, \r\n and a bare \r each end one."""
    ends = text.count('\n') + text.count('\r') - text.count('\r\n')
    return ends + (not text.endswith(('\n', '\r')))


_NAME, _EMAIL, _PHONE, _COMPANY = map(operator.itemgetter, range(4))


class _Checker:
    """The rules of ``check_record`` over whole blocks: the common block, plain lines of valid records, is checked
    by one compiled pattern per line and a few set operations; anything else goes record by record through the csv
    module, which has the last word on what the file says."""

    def __init__(self, layout: Layout, sink: Sink, report: CsvReport) -> None:
        self.summary = Summary()
        self.report = report
        self.line = 1  # the number of the next block's first line
        self.seen: dict[str, int] = {}  # e-mail -> line that claimed it
        self._header = True  # the first record is the header, which inspect_file mapped
        self._positions = layout.positions
        self._fast = fast_record(layout)
        self._fast_block = fast_block(layout)
        self._width = layout.width
        self._values = operator.methodcaller('group', *(self._fast.groupindex[name] for name in COLUMNS))
        self._sink = sink
        # The valid rows not handed over yet: where each came from, its e-mail, and its values as JSON arrays (kept
        # as text, not as a million tuples the garbage collector would walk again and again).
        self._lines: list[int] = []
        self._emails: list[str] = []
        self._parts: list[str] = []

    def block(self, block: str, text: _Text) -> None:
        if '"' not in block and block.count('\r') == block.count('\r\n'):
            self._plain(block)
        else:
            self._quoted(block, text)

    def _plain(self, block: str) -> None:
        """Lines without quotes or bare carriage returns: each line is one record, its cells split at commas."""
        if not self._header and self._fast_block.fullmatch(block) and not _NEEDS_ESCAPE.search(block):
            # The common block: every line a valid record (duplicates aside). One pattern matched the whole block,
            # and str.split, slicing and joins do the rest: no Python object per row but its cells.
            cells = block.replace('\r\n', '\n').rstrip('\n').replace('\n', ',').split(',')
            count = len(cells) // self._width
            columns = [
                cells[index :: self._width] if index < self._width else [''] * count for index in self._positions
            ]
            columns[1] = emails = list(map(str.lower, columns[1]))
            if self._claim(emails, self.line):
                first = self.line
                self.line += count
                self.summary.records += count
                self._stage(range(first, self.line), emails, functools.partial(json_rows, columns))
                return
        self._line_by_line(block)

    def _line_by_line(self, block: str) -> None:
        """``_plain`` line by line: one pattern per line, and the csv module's rules for lines it does not match."""
        lines = block.split('\n')
        if not lines[-1]:
            lines.pop()  # the block ended with a line break
        first, matches = self.line, list(map(self._fast.fullmatch, lines))
        self.line += len(lines)
        if not self._header and all(matches):
            # No row is built in Python: the values are taken, lower-cased and zipped by C loops.
            values = list(map(self._values, cast('list[re.Match[str]]', matches)))
            emails = list(map(str.lower, map(_EMAIL, values)))
            if self._claim(emails, first):
                self.summary.records += len(values)
                contacts = zip(map(_NAME, values), emails, map(_PHONE, values), map(_COMPANY, values), strict=True)
                self._stage(range(first, self.line), emails, _encoder(list(contacts)))
                return
        for number, line, match in zip(range(first, self.line), lines, matches, strict=True):
            if match is not None and not self._header:
                self._record(number, list(self._values(match)), checked=True)
                continue
            cells = [cell.strip() for cell in line.removesuffix('\r').split(',')]
            if any(cells):
                self._cells(number, cells)

    def _claim(self, emails: list[str], first: int) -> bool:
        """Claim the e-mails of a run of lines from ``first`` on, if none was seen before, nor twice among them."""
        seen, before = self.seen, len(self.seen)
        if not seen.keys().isdisjoint(emails):
            return False
        seen.update(zip(emails, range(first, first + len(emails)), strict=True))
        if len(seen) - before == len(emails):
            return True
        for email in emails:  # one of them came twice: give them all back, the lines go one by one
            seen.pop(email, None)
        return False

    def _quoted(self, block: str, text: _Text) -> None:
        """Quoted values (which may hold commas and line breaks) or bare carriage returns: the csv module reads it.
        A quoted value may go on past the block: then the block takes the next one too, and is read again."""
        while True:
            try:
                parsed = list(records(io.StringIO(block, newline=''), first=self.line))
                break
            except BadCsv as error:
                if error.lines_read < count_lines(block) or text.ended:
                    raise
                block += text.take()
        self.line += count_lines(block)
        for number, cells in parsed:
            self._cells(number, cells)

    def _cells(self, line: int, cells: list[str]) -> None:
        if self._header:
            self._header = False
            return
        self._record(line, [cells[index] if index < len(cells) else '' for index in self._positions])

    def _record(self, line: int, values: list[str], *, checked: bool = False) -> None:
        """One record's values in COLUMNS order; ``checked``: the fast pattern matched them, only duplicates remain."""
        summary = self.summary
        summary.records += 1
        if checked and (address := values[1].lower()) not in self.seen:
            self.seen[address] = line
            problems = []
        else:
            problems = check_record(values, line, self.seen)
        if problems:
            summary.rejected += 1
            summary.problems += len(problems)
            self.report.write((line, p.column, clip(p.value), p.error) for p in problems)
        else:
            name, email, phone, company = values
            address = email.lower()
            self._stage((line,), [address], _encoder([(name, address, phone, company)]))

    def _stage(self, lines: Sequence[int], emails: list[str], rows: Callable[[int, int], str]) -> None:
        """Add valid rows to the batch under way, handing it over each time it holds VALID_BATCH rows; ``rows``
        gives rows [start, end) as JSON arrays, without the enclosing array's brackets."""
        start = 0
        while start < len(lines):
            end = start + min(VALID_BATCH - len(self._lines), len(lines) - start)
            self._lines.extend(lines[start:end])
            self._emails.extend(emails[start:end])
            self._parts.append(rows(start, end))
            start = end
            if len(self._lines) == VALID_BATCH:
                self.flush()

    def flush(self) -> None:
        """Hand over the batch under way, if it holds any row."""
        if self._lines:
            self._sink(ContactBatch(self._lines, self._emails, f'[{",".join(self._parts)}]'))
            self._lines, self._emails, self._parts = [], [], []


def _encoder(contacts: list[ContactRow]) -> Callable[[int, int], str]:
    """``_stage``'s rows of a list of contacts, encoded by the json module."""
    return lambda start, end: to_json(contacts[start:end])[1:-1]  # the rows without the array's brackets


_ROW_END = '\n'  # no plain cell holds a line break


def json_rows(columns: Sequence[list[str]], start: int, end: int) -> str:
    """Rows [start, end) of the columns (in COLUMNS order) as JSON arrays, comma-separated: what ``to_json`` makes
    of their ContactRows without the enclosing brackets, for cells that need no escaping (no quote, backslash or
    control character). One join and one replace, whatever the number of rows."""
    flat = [_ROW_END] * ((len(COLUMNS) + 1) * (end - start))
    for place, column in enumerate(columns):
        flat[place :: len(COLUMNS) + 1] = column[start:end]
    joined = '","'.join(flat).removesuffix(f'","{_ROW_END}')
    return '["' + joined.replace(f'","{_ROW_END}","', '"],["') + '"]'


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


def fast_record(layout: Layout) -> re.Pattern[str]:
    """A pattern for one line of the file that ``check_record`` would find valid, cells and all, for the common
    case: as many cells as the header, none quoted or padded, an ASCII e-mail. Its named groups are the values in
    COLUMNS (a column the file lacks matches ''). A line it does not match is not necessarily invalid: it goes
    through the csv module and ``check_record``. Only duplicates are left to check."""
    absent = ''.join(f'(?P<{name}>)' for name in COLUMNS if name not in layout.columns)
    return re.compile(_fast_cells(layout, named=True) + r'\r?' + absent)


def fast_block(layout: Layout) -> re.Pattern[str]:
    """A pattern for whole lines of the file each of which ``fast_record`` matches (a line break after each, but
    perhaps after the last, which ends the file)."""
    line = _fast_cells(layout, named=False)
    return re.compile(rf'(?:{line}\r?\n)*+(?:{line}\r?)?')


def _fast_cells(layout: Layout, *, named: bool) -> str:
    columns = {index: name for name, index in layout.columns.items()}
    return ','.join(
        (f'(?P<{columns[index]}>{_FAST_CELLS[columns[index]]})' if named else f'(?:{_FAST_CELLS[columns[index]]})')
        if index in columns
        else _OTHER_CELL
        for index in range(layout.width)
    )


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


def records(file: IO[str], *, first: int = 1) -> Iterator[tuple[int, list[str]]]:
    """Non-blank records with the line each starts on (``first`` is the file's first line; the header is line 1) and
    their values trimmed.

    A record whose cells are all empty (a blank line, or Excel's trailing ``,,,``) counts as blank.
    """
    # The csv module refuses fields over 128 KiB by default; a long value should be a rejected row, not a broken
    # file. The upload limit already bounds how much can arrive.
    csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD_BYTES))
    reader = csv.reader(file, strict=True)
    previous = first - 1  # the last physical line of the previous record, blank ones included
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise BadCsv(
                f'The file is not valid CSV: {error} (in the record starting on line {previous + 1})', reader.line_num
            ) from None
        line, previous = previous + 1, first - 1 + reader.line_num
        cells = [cell.strip() for cell in row]
        if any(cells):
            yield line, cells


def _ignore(_done: int, _total: int) -> None:
    pass


def _check_text(path: Path, progress: Progress, size: int) -> tuple[int, bool]:
    """Reject NUL bytes and invalid UTF-8, chunk by chunk; returns the number of lines (for progress) and whether
    the file has a quote anywhere."""
    # The incremental decoder keeps a character cut in two by a chunk boundary until the next chunk completes it.
    decoder = codecs.getincrementaldecoder('utf-8')()
    newlines, last, read, quoted = 0, b'', 0, False
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
            quoted = quoted or b'"' in chunk
    _decode(decoder, b'', newlines, final=True)
    return newlines + (last != b'\n'), quoted


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
