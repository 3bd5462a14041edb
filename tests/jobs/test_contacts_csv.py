"""The contacts CSV rules on their own: field checks, header mapping, line numbers, UTF-8 and streaming."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from app.jobs import contacts_csv
from app.jobs.contacts_csv import (
    COLUMNS,
    FileProblem,
    Problem,
    check_record,
    inspect_file,
    is_email,
    map_header,
    records,
)
from app.storage.contacts import ContactBatch


def problems(**values: str) -> list[tuple[str, str]]:
    return [(p.column, p.error) for p in check_record([values.get(c, '') for c in COLUMNS], 2, {})]


@pytest.mark.parametrize(
    'address',
    [
        'ada@example.org',
        'a.b+tag@sub.example.co.uk',
        "o'hara@x.io",
        'josé@exämple.de',
        'x@xn--p1ai.xn--p1ai',
        'x' * 64 + '@x.org',
    ],
)
def test_valid_email_addresses(address: str) -> None:
    assert is_email(address)


@pytest.mark.parametrize(
    'address',
    ['plain', 'a@b', 'a@b.c', 'a@@b.org', 'a b@x.org', '.a@x.org', 'a..b@x.org', 'a@-x.org', 'a@x..org', 'a@x.org.',
     'Ada <ada@x.org>', 'a@x_y.org', 'a@x.123', 'x' * 65 + '@x.org', 'a@' + 'x' * 250 + '.org'],
)  # fmt: skip
def test_invalid_email_addresses(address: str) -> None:
    assert not is_email(address)


def test_field_limits_are_inclusive() -> None:
    assert problems(name='n' * 200, email='a@x.org', phone='1234567', company='c' * 200) == []
    assert problems(name='n', email='a@x.org', phone='+1 (555) 010-0199 12') == []  # 20 characters
    assert problems(name='n' * 201, email='a@x.org', phone='123456', company='c' * 201) == [
        ('name', 'Name is longer than 200 characters'),
        ('phone', 'Phone must be 7 to 20 characters of digits, spaces and + - ( )'),
        ('company', 'Company is longer than 200 characters'),
    ]
    assert problems(name='n', email='a@x.org', phone='1' * 21) == [
        ('phone', 'Phone must be 7 to 20 characters of digits, spaces and + - ( )')
    ]
    assert problems(name='n', email='a@x.org', phone='555-CALL-NOW') != []


def test_missing_values_and_columns_are_required_or_optional() -> None:
    assert problems(name='', email='') == [('name', 'Name is required'), ('email', 'E-mail is required')]
    assert problems(name='Ada', email='ada@x.org') == []  # no phone or company column at all


def test_email_is_claimed_lower_cased_by_the_first_line() -> None:
    seen: dict[str, int] = {}
    assert check_record(['', 'Ada@X.org', '', ''], 2, seen) == [Problem('name', '', 'Name is required')]
    assert seen == {'ada@x.org': 2}
    assert check_record(['Ada', 'ADA@x.ORG', '', ''], 7, seen) == [
        Problem('email', 'ADA@x.ORG', 'Duplicate e-mail address: already used on line 2')
    ]
    assert check_record(['Bad', 'bad', '', ''], 8, seen) == [Problem('email', 'bad', 'Not a valid e-mail address')]
    assert seen == {'ada@x.org': 2}


def test_header_names_are_trimmed_and_case_insensitive() -> None:
    assert map_header(['id', 'EMAIL', 'Name', 'Phone', 'notes', 'COMPANY']) == {
        'email': 1,
        'name': 2,
        'phone': 3,
        'company': 5,
    }
    with pytest.raises(FileProblem, match='no "name" column'):
        map_header(['email', 'company'])


def test_record_lines_follow_quoted_newlines_blank_lines_and_bare_carriage_returns() -> None:
    text = 'name,email\r"a\nb",x\n\n  ,  \r\nc,"d\r\n\r\ne"\nlast,row'
    assert list(records(io.StringIO(text, newline=''))) == [
        (1, ['name', 'email']),
        (2, ['a\nb', 'x']),
        (6, ['c', 'd\r\n\r\ne']),
        (9, ['last', 'row']),
    ]


def test_utf8_split_across_chunks_is_fine_but_a_bad_byte_is_located(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(contacts_csv, 'CHUNK', 7)  # cut multi-byte characters at chunk boundaries
    good = tmp_path / 'good.csv'
    good.write_text('name,email\nZoë Ærø ✓,z@x.org\n€€€€,e@x.org\n', encoding='utf-8')
    layout = inspect_file(good, limit=1000)
    assert (layout.columns, layout.lines) == ({'name': 0, 'email': 1}, 3)
    bad = tmp_path / 'bad.csv'
    bad.write_bytes('name,email\nZoë,z@x.org\n'.encode() + b'Caf\xe9,c@x.org\n')
    with pytest.raises(FileProblem, match=r'invalid byte on line 3'):
        inspect_file(bad, limit=1000)
    truncated = tmp_path / 'truncated.csv'
    truncated.write_bytes(b'name,email\nA,a@x.org\xe2\x82')
    with pytest.raises(FileProblem, match=r'invalid byte on line 2'):
        inspect_file(truncated, limit=1000)


def test_whole_file_problems_are_found_before_any_row_is_validated(tmp_path: Path) -> None:
    # Rows are written while they are validated, so what makes a whole file unreadable must show in the first pass.
    late_quote = tmp_path / 'late.csv'
    late_quote.write_text('name,email\n' + ''.join(f'P{n},p{n}@x.org\n' for n in range(20_000)) + '"Bad,bad@x.org\n')
    with pytest.raises(FileProblem, match=r'unexpected end of data \(in the record starting on line 20002\)'):
        inspect_file(late_quote, limit=10**7)
    stray_quote = tmp_path / 'stray.csv'
    stray_quote.write_text('name,email\n"Ada" Lovelace,ada@x.org\n')
    with pytest.raises(FileProblem, match=r'not valid CSV: .* \(in the record starting on line 2\)'):
        inspect_file(stray_quote, limit=1000)
    header_only = tmp_path / 'header.csv'
    header_only.write_text('name,email\n\n,\n')
    with pytest.raises(FileProblem, match='The file has a header but no data rows'):
        inspect_file(header_only, limit=1000)
    quoted = tmp_path / 'quoted.csv'
    quoted.write_text('name,email\n"Cole, Jr.",cole@x.org\n"Multi\nline",m@x.org\n')
    assert inspect_file(quoted, limit=1000).columns == {'name': 0, 'email': 1}


def test_validation_streams_rows_and_reports_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(contacts_csv, 'BLOCK', 100)  # about six lines a block
    monkeypatch.setattr(contacts_csv, 'VALID_BATCH', 10)
    source = tmp_path / 'many.csv'
    source.write_text('name,email\n' + ''.join(f'P{n},p{n}@x.org\n' for n in range(25)) + ',\n,nobody\n')
    errors = tmp_path / 'errors.csv'
    calls: list[tuple[int, int]] = []
    batches: list[ContactBatch] = []
    summary = contacts_csv.validate_rows(
        source, inspect_file(source, limit=10_000), valid=batches.append, errors=errors,
        progress=lambda *a: calls.append(a),
    )  # fmt: skip
    assert (summary.records, summary.rejected, summary.problems, summary.valid) == (26, 1, 2, 25)
    assert len(calls) >= 4 and calls == sorted(calls) and calls[-1] == (28, 28)  # block by block, to the end
    assert [len(batch.lines) for batch in batches] == [10, 10, 5]  # handed over in batches, the rest at the end
    assert [line for batch in batches for line in batch.lines] == list(range(2, 27))
    assert json.loads(batches[0].contacts)[:2] == [['P0', 'p0@x.org', '', ''], ['P1', 'p1@x.org', '', '']]
    assert all(batch.emails == [row[1] for row in json.loads(batch.contacts)] for batch in batches)
    assert errors.read_text().splitlines() == [
        'line,column,value,error',
        '28,name,,Name is required',
        '28,email,nobody,Not a valid e-mail address',
    ]


# Lines the fast path must take exactly as the csv module and check_record do: padded, quoted (with commas, quotes
# and line breaks inside), too long, duplicated in any case, non-ASCII, bare carriage returns, blank, short, long.
TRICKY = [
    'Ada,ada@x.org,+44 1234567,Engines',
    ' Bob ,  BOB@X.ORG ,, ',
    'bob again,bob@x.org,,',
    '"Cole, Jr.",cole@x.org,"555 0101",""',
    '"Multi\nline ""name""",multi@x.org,,',
    'N' * 200 + ',long@x.org,,' + 'C' * 200,
    'N' * 201 + ',toolong@x.org,,' + 'C' * 201,
    ',noname@x.org,,',
    'Zoë,zoë@exämple.de,,Ærø',
    'Caps,CAPS@Example.ORG,,',
    'caps,caps@example.org,,',
    'Pho,pho@x.org, 5551234 ,',
    'Bad,pho2@x.org,555-CALL-NOW,',
    'Eq,=cmd@x.org,,',
    'Loc,' + 'l' * 64 + '@x.org,,',
    'Loc2,' + 'l' * 65 + '@x.org,,',
    'Dom,d@' + 'd' * 63 + '.org,,',
    'Dom2,d@' + 'd' * 64 + '.org,,',
    'Len,' + 'a' * 60 + '@' + ('b' * 60 + '.') * 3 + 'ccc,,',
    'Xn,x@xn--p1ai.XN--P1AI,,',
    'Under,u@x_y.org,,',
    '',
    ',,,',
    '   ,  ,,',
    'Short,short@x.org',
    'Wide,wide@x.org,,,extra',
    'Tab,\ttab@x.org,,',
    'Cr,cr@x.org\r,,',
    'Back\\slash,back@x.org,,C:\\Temp',  # characters JSON escapes: the rows still arrive as they were written
    'In\ttab,intab@x.org,,',
    'Zoë Ærø,zoe@x.org,,Ærø AS',
]


@pytest.mark.parametrize('newline', ['\n', '\r\n', '\r'])
@pytest.mark.parametrize('block', [7, 64, 100_000])
def test_block_validation_reads_the_file_as_the_csv_module_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, newline: str, block: int
) -> None:
    monkeypatch.setattr(contacts_csv, 'BLOCK', block)
    source = tmp_path / 'tricky.csv'
    plain = [f'P{n},p{n}@x.org,555 {n:04},Co {n}' for n in range(40)]
    lines = ['Name,Email,Phone,Company', *plain[:20], *TRICKY, *plain[20:], *TRICKY[:3]]
    source.write_bytes(newline.join(lines).encode() + newline.encode())
    errors = tmp_path / 'errors.csv'
    layout = inspect_file(source, limit=10**6)
    batches: list[ContactBatch] = []
    summary = contacts_csv.validate_rows(source, layout, valid=batches.append, errors=errors, progress=lambda *a: None)

    # The reference: every record through the csv module and check_record, one at a time.
    seen: dict[str, int] = {}
    expected_valid, expected_problems, records_count = [], [], 0
    with contacts_csv.open_text(source) as file:
        rows = records(file)
        next(rows)
        for line, cells in rows:
            values = [cells[i] if i < len(cells) else '' for i in layout.positions]
            records_count += 1
            found = check_record(values, line, seen)
            expected_problems += [[str(line), p.column, p.value, p.error] for p in found]
            if not found:
                name, email, phone, company = values
                expected_valid.append((line, name, email.lower(), phone, company))  # as JSON gives them back
    assert summary.records == records_count
    staged = [
        (line, *row) for batch in batches for line, row in zip(batch.lines, json.loads(batch.contacts), strict=True)
    ]
    assert staged == expected_valid
    with errors.open(newline='', encoding='utf-8') as file:
        reported = list(csv.reader(file))[1:]
    assert [row[:2] + row[3:] for row in reported] == [
        [line, column, error] for line, column, _value, error in expected_problems
    ]
    assert len(expected_valid) > 40 and len(expected_problems) > 10  # both paths were exercised


@pytest.mark.parametrize('encoding', ['utf-16', 'utf-16-le', 'utf-16-be', 'utf-32'])
def test_a_utf16_file_is_reported_as_not_utf8_rather_than_binary(tmp_path: Path, encoding: str) -> None:
    """Excel's and Notepad's "Unicode text" (issue 13): the person is told how to save the file instead."""
    path = tmp_path / 'contacts.csv'
    path.write_bytes('name,email\nAda,ada@example.org\n'.encode(encoding))
    with pytest.raises(FileProblem) as raised:
        inspect_file(path, limit=10_000)
    assert 'not UTF-8' in str(raised.value) and '"CSV UTF-8"' in str(raised.value)
    assert 'binary' not in str(raised.value)


def test_binary_data_is_still_called_binary(tmp_path: Path) -> None:
    path = tmp_path / 'picture.csv'
    path.write_bytes(b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00' + bytes(range(256)) * 4)
    with pytest.raises(FileProblem, match='binary data'):
        inspect_file(path, limit=10_000)


def test_a_huge_rejected_value_is_cut_in_the_error_report(tmp_path: Path) -> None:
    source = tmp_path / 'huge.csv'
    source.write_text('name,email\n' + 'N' * 5_000_000 + ',huge@x.org\nOk,ok@x.org\n')
    errors = tmp_path / 'errors.csv'
    valid: list[ContactBatch] = []
    contacts_csv.validate_rows(source, inspect_file(source, limit=10 * 2**20), valid=valid.append, errors=errors,
                               progress=lambda *a: None)  # fmt: skip
    assert valid == [ContactBatch([3], ['ok@x.org'], '[["Ok","ok@x.org","",""]]')]
    line, column, value, error = errors.read_text().splitlines()[1].split(',')
    assert (line, column, error) == ('2', 'name', 'Name is longer than 200 characters')
    assert value == 'N' * contacts_csv.MAX_REPORT_VALUE + '…[cut]'
    assert errors.stat().st_size < 2000
