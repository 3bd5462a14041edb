"""Contact queries: batches created or updated by e-mail, count and the most recently changed contacts."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlmodel import col, func, select

from app.storage.db import session
from app.storage.models import Contact, UTCDateTime, utcnow

ContactRow = tuple[str, str, str | None, str | None]  # name, e-mail, phone, company ('' or None: empty)

# Each batch is one statement with its rows in one JSON text, which the database parses itself: several times
# faster than a VALUES list the driver must build, or than binding every row's values and timestamps.
_UPDATE = """
    ON CONFLICT (email) DO UPDATE
    SET name = excluded.name, phone = excluded.phone, company = excluded.company, updated_at = excluded.updated_at
"""
# On SQLite the rows travel as one JSON text of ContactRow arrays. ``WHERE true`` tells the parser that ON CONFLICT
# belongs to the INSERT, not to a join.
_SQLITE_ROWS = """
    INSERT INTO contact (name, email, phone, company, created_at, updated_at)
    SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), nullif(json_extract(value, '$[2]'), ''),
           nullif(json_extract(value, '$[3]'), ''), :now, :now
    FROM json_each(:rows) WHERE true
"""
_INSERT_NEW = f'{_SQLITE_ROWS} ON CONFLICT (email) DO NOTHING'  # see _write_batch_sqlite
_UPSERT_BATCH = f'{_SQLITE_ROWS} {_UPDATE}'
_SQLITE_TIME = sa.DateTime().bind_processor(sqlite.dialect()) or str


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
    with engine.begin() as connection:
        [outcomes] = connection.execute(_POSTGRESQL_BATCH, {'rows': batch.contacts, 'now': utcnow()}).one()
    ids, created = zip(*outcomes, strict=True)
    if len(ids) != len(batch.lines):
        raise RuntimeError(f'{len(batch.lines) - len(ids)} contacts of the batch are missing after writing it')
    return Written(batch.lines, batch.emails, created, ids)


# PostgreSQL reads the batch's JSON itself, and answers with one JSON value of [id, created] in the batch's order:
# no array of a million strings built in Python, no row per contact on the way back.
_POSTGRESQL_BATCH = sa.text(f"""
    WITH batch AS (SELECT row, place FROM json_array_elements(CAST(:rows AS json)) WITH ORDINALITY AS b(row, place)),
    written AS (
        INSERT INTO contact (name, email, phone, company, created_at, updated_at)
        SELECT row->>0, row->>1, nullif(row->>2, ''), nullif(row->>3, ''), :now, :now FROM batch ORDER BY place
        {_UPDATE} RETURNING email, id, xmax = 0 AS created)
    SELECT json_agg(json_build_array(written.id, written.created) ORDER BY batch.place)
    FROM batch JOIN written ON written.email = batch.row->>1
""").bindparams(sa.bindparam('now', type_=UTCDateTime()))


def _write_batch_sqlite(engine: sa.Engine, batch: ContactBatch) -> Written:
    """SQLite parses the batch and inserts it without the GIL, so validation goes on meanwhile; each call that
    returns to Python waits for the GIL, so there are few: an all-new batch, the common one, takes three."""
    now = _SQLITE_TIME(UTCDateTime().process_bind_param(utcnow(), engine.dialect))
    data, rows, lines, emails = batch.contacts, len(batch.lines), batch.lines, batch.emails
    with engine.connect() as connection:
        driver = connection.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        level, driver.isolation_level = driver.isolation_level, None  # BEGIN IMMEDIATE is ours, not pysqlite's
        cursor = driver.cursor()
        try:
            cursor.execute('BEGIN IMMEDIATE')  # no other writer until COMMIT: the ids below are this batch's
            try:
                # New rows take ids one above the highest so far, in order: when all of them are new, the last id
                # tells every id.
                cursor.execute(_INSERT_NEW, {'rows': data, 'now': now})
                inserted, last = cursor.rowcount, cursor.lastrowid or 0
                if inserted < rows:  # some existed: update those, then read every id back in one value
                    cursor.execute(_UPSERT_BATCH, {'rows': data, 'now': now})
                    [(ids_json,)] = cursor.execute(_BATCH_IDS, {'rows': data}).fetchall()
                cursor.execute('COMMIT')
            except BaseException:
                driver.rollback()
                raise
        finally:
            cursor.close()
            driver.isolation_level = level
    if inserted == rows:
        return Written(lines, emails, [True] * inserted, range(last - inserted + 1, last + 1))
    ids = [contact_id for _place, contact_id in sorted(json.loads(ids_json))]
    if len(ids) != rows:
        raise RuntimeError(f'{rows - len(ids)} contacts of the batch are missing after writing it')
    # The rows this batch inserted have the ids just below ``last`` (the upsert after it inserts none).
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
