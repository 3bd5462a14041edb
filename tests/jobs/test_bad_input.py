"""The bad-input catalogue beyond the basics: each case gets a clear message and leaves nothing half-done."""

from __future__ import annotations

from app.services import Services
from app.storage.contacts import count_contacts
from tests.conftest import find_contact
from tests.jobs.test_imports import run_import

HOSTILE = '<img src=x onerror="alert(1)">'
HOSTILE_CSV = HOSTILE.replace('"', '""')


async def test_utf16_is_refused_as_not_utf8(sqlite_services: Services) -> None:
    run = await run_import(sqlite_services, 'name,email\nAda,ada@x.org\n'.encode('utf-16'))
    assert run.detail['status'] == 'failed'
    assert 'UTF-8' in run.detail['error'] or 'binary' in run.detail['error']
    assert count_contacts(sqlite_services.engine) == 0


async def test_a_one_megabyte_line_and_ten_thousand_columns(sqlite_services: Services) -> None:
    long_name = 'x' * 1024 * 1024
    wide_header = 'name,email,' + ','.join(f'extra{n}' for n in range(10_000))
    wide_row = 'Wide,wide@x.org,' + ','.join('v' for _ in range(10_000))
    data = f'{wide_header}\n{long_name},long@x.org\n{wide_row}\n'.encode()
    run = await run_import(sqlite_services, data)
    assert run.detail['status'] == 'failed'
    assert run.detail['error'] == '1 of 2 rows rejected'
    errors = run.rows('contacts-errors.csv')
    assert [row[:2] for row in errors[1:]] == [['2', 'name']]
    assert find_contact(sqlite_services.engine, email='wide@x.org') is not None  # unknown columns ignored


async def test_nul_bytes_are_refused_as_binary(sqlite_services: Services) -> None:
    run = await run_import(sqlite_services, b'name,email\nAda\x00,ada@x.org\n')
    assert (run.detail['status'], run.detail['error']) == ('failed', 'The file contains binary data, not CSV text')
    assert count_contacts(sqlite_services.engine) == 0


async def test_html_is_stored_as_text_and_unicode_kept_exactly(sqlite_services: Services) -> None:
    data = (
        f'name,email,company\n"{HOSTILE_CSV}",html@x.org,"<script>alert(2)</script>"\n'
        'Zoë Ångström 山田 🚀,zoe@x.org,Ünïcødé GmbH\n'
    ).encode()
    run = await run_import(sqlite_services, data)
    assert run.detail['status'] == 'completed', run.detail['error']
    html = find_contact(sqlite_services.engine, email='html@x.org')
    assert html is not None and (html.name, html.company) == (HOSTILE, '<script>alert(2)</script>')
    zoe = find_contact(sqlite_services.engine, email='zoe@x.org')
    assert zoe is not None and (zoe.name, zoe.company) == ('Zoë Ångström 山田 🚀', 'Ünïcødé GmbH')
