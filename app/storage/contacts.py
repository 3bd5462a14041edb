"""Contact queries: batched upsert by e-mail, count and the most recently changed contacts."""

from __future__ import annotations

import json
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


def count_contacts(engine: sa.Engine) -> int:
    """How many contacts there are."""
    with session(engine) as db:
        return db.exec(select(func.count()).select_from(Contact)).one()


def recent_contacts(engine: sa.Engine, *, limit: int = 10) -> list[Contact]:
    """The ``limit`` most recently created or updated contacts, newest first."""
    with session(engine) as db:
        query = select(Contact).order_by(col(Contact.updated_at).desc(), col(Contact.id).desc()).limit(limit)
        return list(db.exec(query))
