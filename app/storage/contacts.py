"""Contact queries: batched upsert by e-mail, count and the most recently changed contacts."""

from __future__ import annotations

import json
import operator
import sqlite3
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any, NamedTuple

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


ContactRow = tuple[str, str, str | None, str | None]  # name, e-mail, phone, company: what ContactData holds


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
# ``xmax = 0`` holds for the rows this statement inserted, not for the ones it updated.
_POSTGRESQL_UPSERT = sa.text(f"""
    INSERT INTO contact (name, email, phone, company, created_at, updated_at)
    SELECT name, email, phone, company, :now, :now
    FROM unnest(:names, :emails, :phones, :companies) AS batch(name, email, phone, company)
    {_UPDATE} RETURNING email, id, xmax = 0
""").bindparams(
    sa.bindparam('now', type_=UTCDateTime()),
    *(sa.bindparam(name, type_=postgresql.ARRAY(sa.Text)) for name in ('names', 'emails', 'phones', 'companies')),
)
# ``WHERE true`` tells SQLite's parser that ON CONFLICT belongs to the INSERT, not to a join. An updated row keeps
# its created_at, so ``created_at = updated_at`` marks the rows this statement inserted.
_SQLITE_UPSERT = f"""
    INSERT INTO contact (name, email, phone, company, created_at, updated_at)
    SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
           json_extract(value, '$[3]'), :now, :now
    FROM json_each(:rows) WHERE true
    {_UPDATE} RETURNING email, id, created_at = updated_at
"""
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
        cursor.execute(_SQLITE_UPSERT, {'now': now, 'rows': json.dumps(contacts)})
        return {email: (contact_id, bool(created)) for email, contact_id, created in cursor.fetchall()}
    finally:
        cursor.close()


StagedRow = tuple[int, str, str, str | None, str | None]  # line, name, e-mail, phone, company


class Written(NamedTuple):
    """What became of a run of staged contacts, in line order."""

    lines: Sequence[int]
    emails: Sequence[str]
    created: Sequence[bool]  # False: an existing contact was updated
    ids: Sequence[int]


# Validated contacts wait in an SQLite file of their own (a job's temp file), keyed by the line each came from.
_STAGING_SCHEMA = """CREATE TABLE valid (
    line INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, phone TEXT, company TEXT)"""
_STAGE = """INSERT INTO valid (line, name, email, phone, company)
    SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
           json_extract(value, '$[3]'), json_extract(value, '$[4]')
    FROM json_each(?)"""


_to_json = json.JSONEncoder(check_circular=False, separators=(',', ':')).encode  # plain tuples of str, int, None


class Staging:
    """Validated contacts on their way to the contact table, in a staging SQLite file.

    Each batch goes in as one JSON text that SQLite loads in a thread of its own: it releases the GIL while it
    works, so the caller (validation) goes on meanwhile. One batch is in flight at a time, so memory stays flat.
    """

    def __init__(self, path: Path) -> None:
        self._connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._connection.execute('PRAGMA journal_mode=OFF')  # a scratch file: nothing to recover after a crash
        self._connection.execute('PRAGMA synchronous=OFF')
        self._connection.execute(_STAGING_SCHEMA)
        self._loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix='staging')
        self._loading: Future[Any] | None = None

    def add(self, rows: Sequence[StagedRow]) -> None:
        data = _to_json(rows)
        self._wait()
        self._loading = self._loader.submit(self._connection.execute, _STAGE, (data,))

    def close(self) -> None:
        """Wait for the last batch (its error, if any, is raised here) and close the file."""
        try:
            self._wait()
        finally:
            self._loader.shutdown()
            self._connection.close()

    def _wait(self) -> None:
        if self._loading is not None:
            loading, self._loading = self._loading, None
            loading.result()


def staged_contacts(staging: Path, first: int, last: int) -> list[StagedRow]:
    """The staged contacts from line ``first`` to ``last``, in line order."""
    with closing(sqlite3.connect(f'{staging.as_uri()}?mode=ro', uri=True)) as connection:
        return connection.execute(
            'SELECT line, name, email, phone, company FROM valid WHERE line BETWEEN ? AND ? ORDER BY line',
            (first, last),
        ).fetchall()


def write_staged(engine: sa.Engine, staging: Path, first: int, last: int) -> Written:
    """Create or update the staged contacts from line ``first`` to ``last`` in one transaction."""
    if engine.dialect.name == 'sqlite':
        return _write_staged_sqlite(engine, staging, first, last)
    rows = staged_contacts(staging, first, last)  # PostgreSQL: they travel as arrays (see _upsert_postgresql)
    outcomes = upsert_contacts(engine, contacts=[row[1:] for row in rows])
    ids, created = zip(*outcomes, strict=True) if outcomes else ((), ())
    return Written([row[0] for row in rows], [row[2] for row in rows], created, ids)


def _write_staged_sqlite(engine: sa.Engine, staging: Path, first: int, last: int) -> Written:
    """Straight from the staging file into the table: no contact passes through Python on its way in."""
    now = _SQLITE_TIME(UTCDateTime().process_bind_param(utcnow(), engine.dialect))
    with engine.connect() as connection:
        driver = connection.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        driver.execute('ATTACH DATABASE ? AS staging', (str(staging),))
        try:
            driver.execute('BEGIN IMMEDIATE')  # no other writer between reading the highest id and the upsert
            try:
                written = _upsert_staged(driver, {'first': first, 'last': last, 'now': now})
                driver.commit()
            except BaseException:
                driver.rollback()
                raise
        finally:
            driver.execute('DETACH DATABASE staging')
    return written


def _upsert_staged(driver: sqlite3.Connection, span: dict[str, Any]) -> Written:
    [(before,)] = driver.execute('SELECT coalesce(max(id), 0) FROM main.contact').fetchall()
    driver.execute(_STAGED_UPSERT, span)
    # A new row's id is one above the highest so far, and the rows go in in line order: when every row was new,
    # the ids are before+1, before+2, ... in line order, and no join is needed to tell them.
    [(new, highest)] = driver.execute('SELECT count(*), max(id) FROM main.contact WHERE id > ?', (before,)).fetchall()
    emails = list(map(_FIRST, driver.execute(_STAGED_EMAILS, span).fetchall()))
    if new == len(emails) and highest == before + new:
        if len(emails) == span['last'] - span['first'] + 1:  # no line in between was rejected
            lines: Sequence[int] = range(span['first'], span['last'] + 1)
        else:
            lines = list(map(_FIRST, driver.execute(_STAGED_LINES, span).fetchall()))
        return Written(lines, emails, [True] * new, range(before + 1, before + new + 1))
    span['before'] = before
    rows = driver.execute(_STAGED_WRITTEN, span).fetchall()
    return Written(*(zip(*rows, strict=True) if rows else ((), (), (), ())))


_STAGED_UPSERT = f"""
    INSERT INTO main.contact (name, email, phone, company, created_at, updated_at)
    SELECT name, email, phone, company, :now, :now FROM staging.valid WHERE line BETWEEN :first AND :last
    ORDER BY line
    {_UPDATE}
"""
_STAGED_EMAILS = 'SELECT email FROM staging.valid WHERE line BETWEEN :first AND :last ORDER BY line'
_STAGED_LINES = 'SELECT line FROM staging.valid WHERE line BETWEEN :first AND :last ORDER BY line'
_FIRST = operator.itemgetter(0)
_STAGED_WRITTEN = """
    SELECT v.line, v.email, c.id > :before, c.id
    FROM staging.valid AS v JOIN main.contact AS c ON c.email = v.email
    WHERE v.line BETWEEN :first AND :last ORDER BY v.line
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
