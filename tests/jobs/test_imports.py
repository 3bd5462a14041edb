"""The Contacts Import job end to end: real CSV files, the real job runtime, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.jobs import contacts_csv, imports
from app.services import Services
from app.storage import jobs as queries
from app.storage.contacts import Written, count_contacts, write_batch
from app.storage.jobs import NewFile
from app.storage.models import FileRole, User
from app.storage.users import list_users
from tests.conftest import ADMIN, find_contact

DATA = Path(__file__).parents[1] / 'data'
ERROR_HEADER = 'line,column,value,error\r\n'
RESULT_HEADER = 'line,email,action,contact_id\r\n'


@dataclass
class Run:
    detail: dict[str, Any]
    files: dict[str, str]  # file name -> text

    @property
    def subtasks(self) -> list[tuple[str, str, str]]:
        return [(s['name'], s['status'], s['message']) for s in self.detail['subtasks']]

    def rows(self, filename: str) -> list[list[str]]:
        return list(csv.reader(io.StringIO(self.files[filename], newline='')))


async def run_import(services: Services, data: bytes, filename: str = 'contacts.csv') -> Run:
    admin = admin_user(services)
    assert admin.id is not None
    stored = services.files.save_bytes(data)
    job_id = await services.jobs.launch(
        'contacts_import',
        description=f'Import of {filename}',
        run_by_id=admin.id,
        run_at='/imports',
        input_files=[NewFile(role=FileRole.INPUT, filename=filename, stored=stored)],
    )
    await services.jobs.wait_idle()
    detail = queries.get_job(services.engine, viewer=admin, job_id=job_id)
    assert detail is not None
    files = {}
    for file in detail['files']:
        if file['role'] != FileRole.INPUT:
            job_file = queries.get_file(services.engine, viewer=admin, file_id=file['id'])
            assert job_file is not None
            files[file['filename']] = services.files.path(job_file.relative_path).read_bytes().decode()
    return Run(detail, files)


def admin_user(services: Services) -> User:
    return next(user for user in list_users(services.engine) if user.username == ADMIN[0])


async def test_counts_read_in_the_right_number(sqlite_services: Services) -> None:
    run = await run_import(sqlite_services, b'name,email\nAda,ada@x.org\n')
    assert run.subtasks[1:3] == [
        ('Validate rows', 'completed', '1 row valid'),
        ('Write contacts', 'completed', '1 created, 0 updated'),
    ]


async def test_clean_file_imports_every_row(services: Services) -> None:
    data = (DATA / 'contacts-clean.csv').read_bytes()
    run = await run_import(services, data, 'contacts-clean.csv')
    assert run.detail['status'] == 'completed' and run.detail['error'] is None
    assert run.detail['job'] == 'Contacts Import' and run.detail['category'] == 'import'
    assert run.detail['run_at'] == '/imports'
    assert run.subtasks == [
        ('Read file', 'completed', f'{len(data)} bytes; columns: name, email, phone, company'),
        ('Validate rows', 'completed', '3 rows valid'),
        ('Write contacts', 'completed', '3 created, 0 updated'),
        ('Write reports', 'completed', 'contacts-clean-result.csv'),
    ]
    ids = [find_contact(services.engine, email=email) for email in ('ada@example.org', 'grace@example.org', 'al@x.io')]
    assert all(contact is not None for contact in ids)
    assert run.files == {
        'contacts-clean-result.csv': RESULT_HEADER
        + ''.join(f'{line},{c.email},created,{c.id}\r\n' for line, c in zip((2, 3, 4), ids, strict=True) if c)
    }
    grace = find_contact(services.engine, email='grace@example.org')
    assert grace is not None and (grace.name, grace.phone, grace.company) == ('Grace Hopper', '(555) 010-0199', None)
    assert count_contacts(services.engine) == 3
    assert (run.detail['progress_done'], run.detail['progress_total']) == (3, 3)


async def test_rejected_rows_are_reported_and_valid_rows_still_written(services: Services) -> None:
    data = (
        (
            'name,email,phone,company\n'
            'Ada,ada@x.org,+44 20 7946 0000,Engines\n'  # 2 fine
            ',not-an-email,12,\n'  # 3: three problems, in column order
            'Bob,ADA@x.org,,\n'  # 4: duplicate of line 2 (compared lower-cased, reported as read)
            '  Carol  ,  Carol@X.org  ,,' + 'C' * 201 + '\n'  # 5: company too long
            'Dan,dan@x.org,,\n'  # 6 fine
        ).encode()
    )
    run = await run_import(services, data)
    assert run.detail['status'] == 'failed'
    assert run.detail['error'] == '3 of 5 rows rejected'
    assert run.subtasks == [
        ('Read file', 'completed', f'{len(data)} bytes; columns: name, email, phone, company'),
        ('Validate rows', 'failed', '3 of 5 rows rejected'),
        ('Write contacts', 'completed', '2 created, 0 updated'),
        ('Write reports', 'completed', 'contacts-result.csv, contacts-errors.csv'),
    ]
    assert run.files['contacts-errors.csv'] == ERROR_HEADER + (
        '3,name,,Name is required\r\n'
        '3,email,not-an-email,Not a valid e-mail address\r\n'
        '3,phone,12,"Phone must be 7 to 20 characters of digits, spaces and + - ( )"\r\n'
        '4,email,ADA@x.org,Duplicate e-mail address: already used on line 2\r\n'
        f'5,company,{"C" * 201},Company is longer than 200 characters\r\n'
    )
    assert [row[:3] for row in run.rows('contacts-result.csv')] == [
        ['line', 'email', 'action'],
        ['2', 'ada@x.org', 'created'],
        ['6', 'dan@x.org', 'created'],
    ]
    assert count_contacts(services.engine) == 2
    assert find_contact(services.engine, email='carol@x.org') is None


async def test_reimport_updates_instead_of_duplicating(services: Services) -> None:
    first = await run_import(services, b'name,email,company\nAda,ada@x.org,Old\nBob,bob@x.org,\n')
    second = await run_import(services, b'name,email,company\nAda Lovelace,ADA@x.org,New\nCy,cy@x.org,\n')
    assert second.detail['status'] == 'completed'
    ada_id = first.rows('contacts-result.csv')[1][3]
    assert second.rows('contacts-result.csv')[1:] == [
        ['2', 'ada@x.org', 'updated', ada_id],
        ['3', 'cy@x.org', 'created', second.rows('contacts-result.csv')[2][3]],
    ]
    assert second.subtasks[2] == ('Write contacts', 'completed', '1 created, 1 updated')
    ada = find_contact(services.engine, email='ada@x.org')
    assert ada is not None and (ada.name, ada.company) == ('Ada Lovelace', 'New')
    assert count_contacts(services.engine) == 3


# (case, file, the subtask that fails, message); one run of services for all, which keeps the suite fast
UNREADABLE = [
    ('latin-1', 'name,email\nJosé,jose@x.org\n'.encode('latin-1'), 'Read file',
     'The file is not UTF-8 text (invalid byte on line 2): save it as "CSV UTF-8"'),
    ('empty', b'', 'Read file', 'The file is empty'),
    ('blank', b'\xef\xbb\xbf\r\n \n', 'Read file', 'The file is empty'),
    ('header only', b'name,email,phone\n\n', 'Read file', 'The file has a header but no data rows'),
    ('no header', b'Ada,ada@x.org\nBob,bob@x.org\n', 'Read file',
     'The file has no header row: its first line must name the columns, e.g. name,email,phone'),
    ('no email', b'name,phone\nAda,1234567\n', 'Read file', 'The header has no "email" column'),
    ('no columns', b'full name,e-mail\nAda,ada@x.org\n', 'Read file', 'The header has no "name" or "email" column'),
    ('semicolons', b'name;email\nAda;ada@x.org\n', 'Read file',
     'The file is not comma-separated: separate the columns with commas'),
    ('twice', b'name,email,Email\nAda,a@x.org,b@x.org\n', 'Read file',
     'The header names the column "email" more than once'),
    ('binary', b'PK\x03\x04\x14\x00\x06\x00binary', 'Read file', 'The file contains binary data, not CSV text'),
    ('unclosed quote', b'name,email\nAda,ada@x.org\n"Bob,bob@x.org\n', 'Read file',
     'The file is not valid CSV: unexpected end of data (in the record starting on line 3)'),
    ('late quote', b'name,email\n' + b''.join(b'P%d,p%d@x.org\n' % (n, n) for n in range(12_000)) + b'"B,b@x.org\n',
     'Read file', 'The file is not valid CSV: unexpected end of data (in the record starting on line 12002)'),
]  # fmt: skip


async def test_unreadable_files_fail_with_a_line_zero_report(sqlite_services: Services) -> None:
    for case, data, step, message in UNREADABLE:
        run = await run_import(sqlite_services, data, 'people.csv')
        assert (run.detail['status'], run.detail['error']) == ('failed', message), case
        steps = ['Read file'] if step == 'Read file' else ['Read file', 'Validate rows']
        statuses = [(name, 'completed') for name in steps[:-1]] + [(step, 'failed'), ('Write reports', 'completed')]
        assert [subtask[:2] for subtask in run.subtasks] == statuses, case
        assert run.subtasks[len(steps) - 1][2] == message, case
        assert run.files == {'people-errors.csv': ERROR_HEADER + f'0,,,{_quoted(message)}\r\n'}, case
    assert count_contacts(sqlite_services.engine) == 0


async def test_file_over_the_size_limit_is_not_read(sqlite_services: Services) -> None:
    sqlite_services.settings.max_upload_mb = 1
    data = b'name,email\n' + b'Ada,ada@x.org\n' * (1024 * 1024 // 14 + 1)
    run = await run_import(sqlite_services, data)
    assert run.detail['error'] == 'The file is larger than the limit of 1 MB'
    assert run.subtasks[0] == ('Read file', 'failed', 'The file is larger than the limit of 1 MB')
    assert run.files == {'contacts-errors.csv': ERROR_HEADER + '0,,,The file is larger than the limit of 1 MB\r\n'}


async def test_each_value_is_stored_as_written_whichever_way_its_block_was_read(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small blocks, so that most go the fast way (a whole block of valid lines at once); the columns in another
    # order, one unknown; names with characters that JSON escapes or that are not ASCII; a quoted block between.
    monkeypatch.setattr(contacts_csv, 'BLOCK', 64)
    plain = [f'p{n}@x.org,note {n},P {n},555 {n:04},Co {n}' for n in range(30)]
    special = [
        'zoe@x.org,,Zoë Ærø,+47 1234567,Ærø AS',
        'back@x.org,C:\\Temp,Back\\slash,,Back\\slash Inc',
        'tab@x.org,,In\ttab,,',
        'CAPS@X.ORG,,Caps,,',
        'quote@x.org,,"Quoted, name",,',
    ]
    lines = ['email,notes,name,phone,company', *plain[:15], *special, *plain[15:]]
    run = await run_import(services, ('\r\n'.join(lines) + '\r\n').encode())
    assert run.detail['status'] == 'completed', run.detail['error']
    assert run.subtasks[2] == ('Write contacts', 'completed', '35 created, 0 updated')
    stored = {}
    for email in ('zoe@x.org', 'back@x.org', 'tab@x.org', 'caps@x.org', 'quote@x.org', 'p0@x.org', 'p29@x.org'):
        contact = find_contact(services.engine, email=email)
        assert contact is not None, email
        stored[email] = (contact.name, contact.phone, contact.company)
    assert stored == {
        'zoe@x.org': ('Zoë Ærø', '+47 1234567', 'Ærø AS'),
        'back@x.org': ('Back\\slash', None, 'Back\\slash Inc'),
        'tab@x.org': ('In\ttab', None, None),
        'caps@x.org': ('Caps', None, None),
        'quote@x.org': ('Quoted, name', None, None),
        'p0@x.org': ('P 0', '555 0000', 'Co 0'),
        'p29@x.org': ('P 29', '555 0029', 'Co 29'),
    }
    assert [row[:3] for row in run.rows('contacts-result.csv')[1:]] == [
        [str(line), email, 'created']
        for line, email in enumerate([f'p{n}@x.org' for n in range(15)]
                                     + ['zoe@x.org', 'back@x.org', 'tab@x.org', 'caps@x.org', 'quote@x.org']
                                     + [f'p{n}@x.org' for n in range(15, 30)], start=2)
    ]  # fmt: skip


async def test_cells_a_spreadsheet_would_run_get_a_leading_quote(sqlite_services: Services) -> None:
    data = (
        b'name,email,phone\n'
        b'=HYPERLINK(1),-bob@x.org,+1 555 0100\n'  # valid: stored as is, e-mail quoted in the result
        b',@evil.org,=1+2\n'  # rejected: each value quoted in the error report, the empty one left empty
        b',x@x.org,-1\n'
    )
    run = await run_import(sqlite_services, data)
    assert run.rows('contacts-result.csv')[1][:3] == ['2', "'-bob@x.org", 'created']
    assert run.rows('contacts-errors.csv')[1:] == [
        ['3', 'name', '', 'Name is required'],
        ['3', 'email', "'@evil.org", 'Not a valid e-mail address'],
        ['3', 'phone', "'=1+2", 'Phone must be 7 to 20 characters of digits, spaces and + - ( )'],
        ['4', 'name', '', 'Name is required'],
        ['4', 'phone', "'-1", 'Phone must be 7 to 20 characters of digits, spaces and + - ( )'],
    ]
    bob = find_contact(sqlite_services.engine, email='-bob@x.org')
    assert bob is not None and (bob.name, bob.phone) == ('=HYPERLINK(1)', '+1 555 0100')


async def test_line_numbers_count_quoted_newlines_and_blank_lines(sqlite_services: Services) -> None:
    data = (
        b'name,email,phone,company\r\n'  # 1
        b'"Ada\r\nLovelace",ada@x.org,,\r\n'  # 2-3
        b'\r\n'  # 4: blank, no report, not counted
        b'Bob,bad-email,,"Multi\nline\nCo"\r\n'  # 5-7
        b',,,\r\n'  # 8: blank cells only
        b',carol@x.org,,\r\n'  # 9
    )
    run = await run_import(sqlite_services, data)
    assert run.rows('contacts-errors.csv')[1:] == [
        ['5', 'email', 'bad-email', 'Not a valid e-mail address'],
        ['9', 'name', '', 'Name is required'],
    ]
    assert run.rows('contacts-result.csv')[1][:3] == ['2', 'ada@x.org', 'created']
    assert run.subtasks[1] == ('Validate rows', 'failed', '2 of 3 rows rejected')
    ada = find_contact(sqlite_services.engine, email='ada@x.org')
    assert ada is not None and ada.name == 'Ada\r\nLovelace'


async def test_bom_any_case_any_order_and_unknown_columns(sqlite_services: Services) -> None:
    data = '\ufeff Company ,Notes,EMAIL,Name\nAcme,ignored,Ada@X.org,Ada\n'.encode()
    run = await run_import(sqlite_services, data)
    assert run.detail['status'] == 'completed'
    assert run.subtasks[0][2] == f'{len(data)} bytes; columns: company, email, name'
    ada = find_contact(sqlite_services.engine, email='ada@x.org')
    assert ada is not None and (ada.name, ada.company, ada.phone) == ('Ada', 'Acme', None)


async def test_first_row_claims_an_email_even_when_rejected(sqlite_services: Services) -> None:
    run = await run_import(sqlite_services, b'name,email\n,dup@x.org\nDup,DUP@x.org\nOk,ok@x.org\n')
    assert run.rows('contacts-errors.csv')[1:] == [
        ['2', 'name', '', 'Name is required'],
        ['3', 'email', 'DUP@x.org', 'Duplicate e-mail address: already used on line 2'],
    ]
    assert run.detail['error'] == '2 of 3 rows rejected'
    assert count_contacts(sqlite_services.engine) == 1


def _quoted(cell: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([cell])
    return buffer.getvalue().removesuffix('\r\n')


async def test_database_failure_keeps_written_batches_and_still_reports(
    sqlite_services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def flaky_write(engine: Any, batch: Any) -> Any:
        calls.append(len(batch.contacts))
        if len(calls) == 2:
            raise RuntimeError('database is locked')
        return write_batch(engine, batch)

    monkeypatch.setattr(contacts_csv, 'VALID_BATCH', 2)
    monkeypatch.setattr(imports, 'write_batch', flaky_write)
    run = await run_import(sqlite_services, b'name,email\nA,a@x.org\nB,b@x.org\nC,c@x.org\n')
    assert run.detail['error'] == 'Writing contacts failed: database is locked'
    assert run.subtasks[2:] == [
        ('Write contacts', 'failed', 'Writing contacts failed: database is locked'),
        ('Write reports', 'completed', 'contacts-result.csv'),
    ]
    assert [row[:3] for row in run.rows('contacts-result.csv')[1:]] == [
        ['2', 'a@x.org', 'created'],
        ['3', 'b@x.org', 'created'],
    ]
    assert count_contacts(sqlite_services.engine) == 2


async def test_shutdown_mid_import_stops_the_worker_and_cleans_up(sqlite_services: Services) -> None:
    data = b'name,email\n' + b''.join(b'P%d,p%d@x.org\n' % (n, n) for n in range(200_000))
    admin = admin_user(sqlite_services)
    assert admin.id is not None
    stored = sqlite_services.files.save_bytes(data)
    job_id = await sqlite_services.jobs.launch(
        'contacts_import',
        description='big',
        run_by_id=admin.id,
        run_at='/imports',
        input_files=[NewFile(role=FileRole.INPUT, filename='big.csv', stored=stored)],
    )
    for _ in range(500):  # until the import is in its long step
        if any(s['name'] == 'Validate rows' for s in _detail(sqlite_services, admin, job_id)['subtasks']):
            break
        await asyncio.sleep(0.02)
    await sqlite_services.jobs.stop(grace=0)
    detail = _detail(sqlite_services, admin, job_id)
    assert (detail['status'], detail['error']) == ('failed', queries.INTERRUPTED)
    assert detail['subtasks'][-1]['status'] == 'failed'
    temp_dir = sqlite_services.files.root / '.tmp'
    for _ in range(500):  # the worker thread notices the stop at its next progress report (slow under load)
        if not any(temp_dir.iterdir()):
            break
        await asyncio.sleep(0.02)
    assert list(temp_dir.iterdir()) == []


def _detail(services: Services, viewer: User, job_id: int) -> dict[str, Any]:
    found = queries.get_job(services.engine, viewer=viewer, job_id=job_id)
    assert found is not None
    return found


def test_result_lines_are_what_csv_writer_writes_and_spreadsheet_safe() -> None:
    emails = ['ada@x.org', "o'hara@x.io", '=cmd@x.org', '+1@x.org', '-dash@x.org', 'josé@exämple.de', 'a{b}|c~d@x.org']
    written = Written(range(2, 9), emails, [True, False, True, True, False, True, False], range(10, 17))
    expected = io.StringIO(newline='')
    writer = csv.writer(expected)
    for line, email, created, contact_id in zip(written.lines, emails, written.created, written.ids, strict=True):
        safe = "'" + email if email[0] in '=+-@' else email
        writer.writerow([line, safe, 'created' if created else 'updated', contact_id])
    assert imports.result_lines(written) == expected.getvalue()
    assert imports.result_lines(Written([5], ['plain@x.org'], [True], [7])) == '5,plain@x.org,created,7\r\n'
