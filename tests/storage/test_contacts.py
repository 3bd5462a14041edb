"""Contact upserts by e-mail in batches, counted and listed newest first, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from app.storage.contacts import ContactData, count_contacts, recent_contacts, upsert_contacts
from tests.conftest import find_contact


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
