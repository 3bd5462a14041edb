"""Contact upserts by e-mail in batches, counted and listed newest first, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import pytest
import sqlalchemy as sa

from app.storage import contacts
from app.storage.contacts import ContactBatch, count_contacts, recent_contacts, to_json, write_batch
from app.storage.models import UTCDateTime
from tests.conftest import find_contact


class ContactData(NamedTuple):
    name: str
    email: str
    phone: str | None = None
    company: str | None = None


def upsert_contacts(engine: sa.Engine, *, contacts: list[ContactData]) -> list[tuple[int, bool]]:
    """Write ``contacts`` as one batch (lines 2, 3, ...); returns (contact_id, created) of each."""
    written = write_batch(
        engine, ContactBatch(range(2, len(contacts) + 2), [c.email for c in contacts], to_json(contacts))
    )
    assert list(written.emails) == [c.email for c in contacts] and list(written.lines) == list(
        range(2, len(contacts) + 2)
    )
    return list(zip(written.ids, written.created, strict=True))


def test_new_contacts_are_created_in_order(engine: sa.Engine) -> None:
    outcomes = upsert_contacts(
        engine,
        contacts=[ContactData('Ada', 'ada@x.org', '+44 1234567', 'Engines'), ContactData('Bob', 'bob@x.org')],
    )
    assert [created for _id, created in outcomes] == [True, True]
    ada = find_contact(engine, email='ada@x.org')
    assert ada is not None and ada.id == outcomes[0][0]
    assert (ada.name, ada.phone, ada.company) == ('Ada', '+44 1234567', 'Engines')
    assert count_contacts(engine) == 2


def test_existing_email_is_updated_not_duplicated(engine: sa.Engine) -> None:
    [first] = upsert_contacts(engine, contacts=[ContactData('Ada', 'ada@x.org', '1234567', 'Old Co')])
    before = find_contact(engine, email='ada@x.org')
    outcomes = upsert_contacts(
        engine, contacts=[ContactData('Carol', 'carol@x.org'), ContactData('Ada L.', 'ada@x.org', None, 'New Co')]
    )
    assert [(created, contact_id == first[0]) for contact_id, created in outcomes] == [(True, False), (False, True)]
    after = find_contact(engine, email='ada@x.org')
    assert before is not None and after is not None
    assert (after.name, after.phone, after.company) == ('Ada L.', None, 'New Co')
    assert after.created_at == before.created_at and after.updated_at >= before.updated_at
    assert count_contacts(engine) == 2


def test_large_batch_in_one_call(engine: sa.Engine) -> None:
    contacts = [ContactData(f'Person {n}', f'p{n}@x.org') for n in range(5000)]
    assert all(created for _id, created in upsert_contacts(engine, contacts=contacts))
    again = upsert_contacts(engine, contacts=contacts)
    assert not any(created for _id, created in again)
    assert len({contact_id for contact_id, _created in again}) == 5000
    assert count_contacts(engine) == 5000


def test_empty_batch_writes_nothing(engine: sa.Engine) -> None:
    assert upsert_contacts(engine, contacts=[]) == []
    assert write_batch(engine, ContactBatch([], [], '[]')) == ((), (), (), ())
    assert count_contacts(engine) == 0


def test_recent_contacts_are_newest_first_and_limited(engine: sa.Engine) -> None:
    for n in range(12):
        upsert_contacts(engine, contacts=[ContactData(f'Person {n}', f'p{n}@x.org')])
    upsert_contacts(engine, contacts=[ContactData('Person 0 again', 'p0@x.org')])
    recent = recent_contacts(engine, limit=10)
    assert [contact.name for contact in recent[:3]] == ['Person 0 again', 'Person 11', 'Person 10']
    assert len(recent) == 10


def test_text_survives_the_batch_encoding(engine: sa.Engine) -> None:
    tricky = ContactData('Zoë "Z" O\'Brien, Jr.\n', 'zoe@x.org', '+1 (555) 010', 'Ærø \\ {json} [0]')
    upsert_contacts(engine, contacts=[tricky])
    stored = find_contact(engine, email='zoe@x.org')
    assert stored is not None
    assert ContactData(stored.name, stored.email, stored.phone, stored.company) == tricky
    assert stored.created_at.tzinfo is not None


def test_concurrent_upserts_of_the_same_emails_both_succeed(engine: sa.Engine) -> None:
    contacts = [ContactData(f'Person {n}', f'p{n}@x.org') for n in range(2000)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: upsert_contacts(engine, contacts=contacts), range(2)))
    assert [contact_id for contact_id, _ in results[0]] == [contact_id for contact_id, _ in results[1]]
    assert count_contacts(engine) == 2000


def _batch(rows: list[tuple[int, str, str, str | None, str | None]]) -> ContactBatch:
    """Rows as (line, name, e-mail, phone, company)."""
    return ContactBatch([row[0] for row in rows], [row[2] for row in rows], to_json([row[1:] for row in rows]))


def test_a_batch_is_written_and_each_outcome_told(engine: sa.Engine) -> None:
    [(ada_id, _)] = upsert_contacts(engine, contacts=[ContactData('Ada', 'ada@x.org', '1234567', 'Old Co')])
    written = write_batch(engine, _batch([
        (2, 'Bob', 'bob@x.org', None, 'Bob Co'),
        (5, 'Ada L.', 'ada@x.org', None, 'New Co'),
        (9, 'Eve', '=eve@x.org', '555 0100', ''),
    ]))  # fmt: skip
    assert list(written.lines) == [2, 5, 9] and list(written.emails) == ['bob@x.org', 'ada@x.org', '=eve@x.org']
    assert [bool(created) for created in written.created] == [True, False, True]
    bob, ada, eve = (find_contact(engine, email=email) for email in written.emails)
    assert bob is not None and ada is not None and eve is not None
    assert list(written.ids) == [bob.id, ada_id, eve.id] and ada.id == ada_id
    assert (ada.name, ada.phone, ada.company) == ('Ada L.', None, 'New Co')
    assert (eve.phone, eve.company) == ('555 0100', None)
    assert count_contacts(engine) == 3


def test_a_large_batch_of_new_and_existing_contacts_tells_which_is_which(engine: sa.Engine) -> None:
    existing = upsert_contacts(engine, contacts=[ContactData(f'Old {n}', f'p{n}@x.org') for n in range(0, 3000, 7)])
    rows = [(line, f'Person {line - 2}', f'p{line - 2}@x.org', None, None) for line in range(2, 3002)]
    written = write_batch(engine, _batch(rows))
    with engine.connect() as connection:
        table = dict(connection.execute(sa.text('SELECT email, id FROM contact')).all())
    assert list(written.lines) == list(range(2, 3002)) and list(written.emails) == [row[2] for row in rows]
    assert list(written.ids) == [table[row[2]] for row in rows]
    assert [bool(created) for created in written.created] == [(line - 2) % 7 != 0 for line in range(2, 3002)]
    assert {written.ids[n] for n in range(0, 3000, 7)} == {contact_id for contact_id, _ in existing}
    assert find_contact(engine, email='p7@x.org').name == 'Person 7'  # type: ignore[union-attr]
    again = write_batch(engine, _batch(rows))  # all of them exist now: nothing is created
    assert not any(again.created) and list(again.ids) == list(written.ids)


def test_new_contacts_get_the_ids_the_table_gave_them(engine: sa.Engine) -> None:
    """All new: the ids are told without looking each one up; they must still be the table's, even when the
    highest id was deleted (SQLite then hands it out again)."""
    upsert_contacts(engine, contacts=[ContactData(f'Old {n}', f'old{n}@x.org') for n in range(5)])
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM contact WHERE email IN ('old4@x.org', 'old1@x.org')"))
    every_line = [(line, f'New {line}', f'new{line}@x.org', None, None) for line in range(2, 3002)]
    some_lines = [(line, f'Gap {line}', f'gap{line}@x.org', None, None) for line in range(5000, 8000, 3)]
    contiguous = write_batch(engine, _batch(every_line))
    with_gaps = write_batch(engine, _batch(some_lines))
    with engine.connect() as connection:
        table = dict(connection.execute(sa.text('SELECT email, id FROM contact')).all())
    for written, rows in ((contiguous, every_line), (with_gaps, some_lines)):
        assert all(written.created) and list(written.lines) == [row[0] for row in rows]
        assert list(written.emails) == [row[2] for row in rows]
        assert list(written.ids) == [table[email] for email in written.emails]


def test_concurrent_batches_of_the_same_emails_both_succeed(engine: sa.Engine) -> None:
    """Two imports of the same addresses at once: one creates, the other updates the same contacts."""
    rows = [(line, f'Person {line}', f'p{line}@x.org', None, None) for line in range(2, 2002)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: write_batch(engine, _batch(rows)), range(2)))
    assert list(results[0].ids) == list(results[1].ids)
    assert sorted(sum(written.created) for written in results) == [0, 2000]
    assert count_contacts(engine) == 2000


def test_a_batch_that_fails_after_its_rows_went_in_leaves_none_of_them(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch is one transaction: a failure after its rows were inserted (here: while telling their ids) undoes
    them all, so the result report, which lists the batches written, never misses a contact that was created."""
    write_batch(engine, _batch([(2, 'Ada', 'ada@x.org', None, None)]))
    if engine.dialect.name == 'sqlite':  # an existing contact takes the batch through its second statement
        monkeypatch.setattr(contacts, '_BATCH_IDS', 'SELECT json_group_array(1) FROM no_such_table')
    else:
        failing = contacts._POSTGRESQL_BATCH.text.replace('written.created)', 'written.created, 1 / 0)')
        monkeypatch.setattr(
            contacts, '_POSTGRESQL_BATCH', sa.text(failing).bindparams(sa.bindparam('now', type_=UTCDateTime()))
        )
    with pytest.raises(Exception, match=r'no_such_table|division by zero'):
        write_batch(engine, _batch([(2, 'Ada L.', 'ada@x.org', None, None), (3, 'Bob', 'bob@x.org', None, None)]))
    ada = find_contact(engine, email='ada@x.org')
    assert find_contact(engine, email='bob@x.org') is None and ada is not None and ada.name == 'Ada'
    assert count_contacts(engine) == 1
