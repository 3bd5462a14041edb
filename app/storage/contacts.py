"""Contact queries: batched upsert by e-mail, count and the most recently changed contacts."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, func, select

from app.storage.db import session
from app.storage.models import Contact, UTCDateTime, utcnow


class ContactData(NamedTuple):
    """One validated contact to write; ``email`` is already lower-cased. A tuple: imports build millions."""

    name: str
    email: str
    phone: str | None = None
    company: str | None = None


ContactRow = tuple[str, str, str | None, str | None]  # name, e-mail, phone, company ('' or None: empty)


Upserted = tuple[int, bool]  # (contact_id, created): plain tuples, an import makes a million of them


def upsert_contacts(engine: sa.Engine, *, contacts: Sequence[ContactRow]) -> list[Upserted]:
    """Create or update contacts by e-mail in one transaction; returns (contact_id, created) per contact, in order.

    The e-mails must be unique within ``contacts``. INSERT .. ON CONFLICT keeps concurrent imports of the same
    addresses from failing on the unique index.
    """
    if not contacts:
        return []
    with engine.begin() as connection:
        dialect = connection.dialect.name
        if dialect == 'postgresql':
            outcomes = _upsert_postgresql(connection, contacts)
        elif dialect == 'sqlite':
            outcomes = _upsert_sqlite(connection, contacts)
        else:
            raise NotImplementedError(f'Upserting contacts is not supported on {dialect}')
    return [outcomes[contact[1]] for contact in contacts]


# Each batch is one statement with its rows in a few parameters (arrays on PostgreSQL, one JSON text on SQLite):
# several times faster than a VALUES list the driver must build, or than binding every row's timestamps.
_UPDATE = """
    ON CONFLICT (email) DO UPDATE
    SET name = excluded.name, phone = excluded.phone, company = excluded.company, updated_at = excluded.updated_at
"""
# ``xmax = 0`` holds for the rows this statement inserted, not for the ones it updated. An empty phone or company
# is stored as NULL (``nullif``), so callers may pass '' (imports do: no row is rebuilt to say None) or None.
_POSTGRESQL_UPSERT = sa.text(f"""
    INSERT INTO contact (name, email, phone, company, created_at, updated_at)
    SELECT name, email, nullif(phone, ''), nullif(company, ''), :now, :now
    FROM unnest(:names, :emails, :phones, :companies) AS batch(name, email, phone, company)
    {_UPDATE} RETURNING email, id, xmax = 0
""").bindparams(
    sa.bindparam('now', type_=UTCDateTime()),
    *(sa.bindparam(name, type_=postgresql.ARRAY(sa.Text)) for name in ('names', 'emails', 'phones', 'companies')),
)
# On SQLite the rows travel as one JSON text of ContactRow arrays. ``WHERE true`` tells the parser that ON CONFLICT
# belongs to the INSERT, not to a join.
_SQLITE_ROWS = """
    INSERT INTO contact (name, email, phone, company, created_at, updated_at)
    SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), nullif(json_extract(value, '$[2]'), ''),
           nullif(json_extract(value, '$[3]'), ''), :now, :now
    FROM json_each(:rows) WHERE true
"""
# An updated row keeps its created_at, so ``created_at = updated_at`` marks the rows this statement inserted.
_SQLITE_UPSERT = f'{_SQLITE_ROWS} {_UPDATE} RETURNING email, id, created_at = updated_at'
_INSERT_NEW = f'{_SQLITE_ROWS} ON CONFLICT (email) DO NOTHING'  # see _write_batch_sqlite
_UPSERT_BATCH = f'{_SQLITE_ROWS} {_UPDATE}'

_SQLITE_TIME = sa.DateTime().bind_processor(sqlite.dialect()) or str


def _upsert_postgresql(connection: sa.Connection, contacts: Sequence[ContactRow]) -> dict[str, Upserted]:
    rows = connection.execute(
        _POSTGRESQL_UPSERT,
        {
            'now': utcnow(),
            'names': [c[0] for c in contacts],
            'emails': [c[1] for c in contacts],
            'phones': [c[2] for c in contacts],
            'companies': [c[3] for c in contacts],
        },
    )
    return {email: (contact_id, created) for email, contact_id, created in rows}


def _upsert_sqlite(connection: sa.Connection, contacts: Sequence[ContactRow]) -> dict[str, Upserted]:
    # Straight to the driver: SQLAlchemy's per-row result handling cost more than the upsert itself.
    now = _SQLITE_TIME(UTCDateTime().process_bind_param(utcnow(), connection.dialect))
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(_SQLITE_UPSERT, {'now': now, 'rows': to_json(contacts)})
        return {email: (contact_id, bool(created)) for email, contact_id, created in cursor.fetchall()}
    finally:
        cursor.close()


class ContactBatch(NamedTuple):
    """Validated contacts to write, with the line each came from and its e-mail (lower-case, unique in the batch)."""

    lines: Sequence[int]
    emails: Sequence[str]
    contacts: str  # a JSON array of ContactRow arrays (see to_json): one text, not a tuple per contact


class Written(NamedTuple):
    """What became of a batch of contacts, in its order."""

    lines: Sequence[int]
    emails: Sequence[str]
    created: Sequence[bool]  # False: an existing contact was updated
    ids: Sequence[int]


to_json = json.JSONEncoder(check_circular=False, separators=(',', ':')).encode  # plain tuples of str, int, None


def write_batch(engine: sa.Engine, batch: ContactBatch) -> Written:
    """Create or update a batch of contacts, in one transaction."""
    if not batch.lines:
        return Written((), (), (), ())
    if engine.dialect.name == 'sqlite':
        return _write_batch_sqlite(engine, batch)
    outcomes = upsert_contacts(engine, contacts=json.loads(batch.contacts))  # PostgreSQL: arrays, see above
    ids, created = zip(*outcomes, strict=True)
    return Written(batch.lines, batch.emails, created, ids)


def _write_batch_sqlite(engine: sa.Engine, batch: ContactBatch) -> Written:
    """The common batch, all new contacts, is one statement: SQLite parses the batch and inserts it without the
    GIL, so validation goes on meanwhile. Each call that returns to Python waits for the GIL, so there are few."""
    now = _SQLITE_TIME(UTCDateTime().process_bind_param(utcnow(), engine.dialect))
    data, rows, lines, emails = batch.contacts, len(batch.lines), batch.lines, batch.emails
    with engine.connect() as connection:
        driver = connection.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        level, driver.isolation_level = driver.isolation_level, None  # no implicit BEGIN: one call less
        cursor = driver.cursor()
        try:
            # Autocommit: one statement is its own transaction. New rows take ids one above the highest so far, in
            # order, and nothing else writes meanwhile: when all of them are new, the last id tells every id.
            cursor.execute(_INSERT_NEW, {'rows': data, 'now': now})
            inserted, last = cursor.rowcount, cursor.lastrowid or 0
            if inserted == rows:
                return Written(lines, emails, [True] * inserted, range(last - inserted + 1, last + 1))
            # Some already existed: update those (and, harmlessly, the new ones with what they hold), then read
            # every id back in one value. The rows this batch inserted have the ids just below ``last``.
            driver.execute('BEGIN IMMEDIATE')
            try:
                cursor.execute(_UPSERT_BATCH, {'rows': data, 'now': now})
                [(ids_json,)] = cursor.execute(_BATCH_IDS, {'rows': data}).fetchall()
                driver.commit()
            except BaseException:
                driver.rollback()
                raise
        finally:
            cursor.close()
            driver.isolation_level = level
    ids = [contact_id for _place, contact_id in sorted(json.loads(ids_json))]
    if len(ids) != rows:
        raise RuntimeError(f'{rows - len(ids)} contacts of the batch are missing after writing it')
    created = [last - inserted < contact_id <= last for contact_id in ids] if inserted else [False] * len(ids)
    return Written(lines, emails, created, ids)


# Each row's place in the batch and its id, as one JSON array: one row through Python, not one per contact.
_BATCH_IDS = """
    SELECT json_group_array(json_array(b.key, c.id))
    FROM json_each(:rows) AS b JOIN contact AS c ON c.email = json_extract(b.value, '$[1]')
"""


def count_contacts(engine: sa.Engine) -> int:
    """How many contacts there are."""
    with session(engine) as db:
        return db.exec(select(func.count()).select_from(Contact)).one()


def recent_contacts(engine: sa.Engine, *, limit: int = 10) -> list[Contact]:
    """The ``limit`` most recently created or updated contacts, newest first."""
    with session(engine) as db:
        query = select(Contact).order_by(col(Contact.updated_at).desc(), col(Contact.id).desc()).limit(limit)
        return list(db.exec(query))
