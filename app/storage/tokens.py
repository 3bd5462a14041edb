"""API tokens for scripts: ``Authorization: Bearer jm_...`` with the visibility of the token's user.

A token is shown once when it is made; the database keeps only its SHA-256 (tokens are long random strings, so a
fast hash is enough). ``last_used_at`` is written at most once a minute, so using a token stays a read.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import SQLModel, select

from app.storage.db import session
from app.storage.models import ApiToken, User, utcnow
from app.storage.users import SYSTEM_USERNAME, UserError

PREFIX = 'jm_'
MAX_NAME = 100
USED_INTERVAL = timedelta(minutes=1)
TOKEN = SQLModel.metadata.tables['api_token']
USER = SQLModel.metadata.tables['user']


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # the token itself: shown once, never stored


def create_token(
    engine: sa.Engine, *, user_id: int | None = None, username: str | None = None, name: str,
    expires_at: datetime | None = None,
) -> NewToken:  # fmt: skip
    """A new token for the user (by id or name); raises UserError for an empty name or an unknown user."""
    name = name.strip()
    if not name:
        raise UserError('The token needs a name')
    if len(name) > MAX_NAME:
        raise UserError(f'The name is longer than {MAX_NAME} characters')
    if expires_at is not None and expires_at <= utcnow():
        raise UserError('The expiry date must be in the future')
    with session(engine) as db:
        query = select(User).where(User.id == user_id) if user_id is not None else select(User).where(
            User.username == (username or '').strip()
        )  # fmt: skip
        user = db.exec(query).first()
        if user is None or user.username == SYSTEM_USERNAME:
            raise UserError(f'No user "{username if username is not None else user_id}"')
        if user.disabled_at is not None:
            raise UserError(f'User "{user.username}" is disabled')
        secret = PREFIX + secrets.token_urlsafe(32)
        assert user.id is not None
        token = ApiToken(user_id=user.id, name=name, token_hash=digest(secret), expires_at=expires_at)
        db.add(token)
        db.commit()
        db.refresh(token)
        return NewToken(token, secret)


_TOKEN_USER = (
    sa.select(USER, TOKEN.c.id.label('token_id'), TOKEN.c.last_used_at.label('token_used_at'))
    .join(TOKEN, TOKEN.c.user_id == USER.c.id)
    .where(
        TOKEN.c.token_hash == sa.bindparam('digest'),
        USER.c.disabled_at.is_(None),
        sa.or_(TOKEN.c.expires_at.is_(None), TOKEN.c.expires_at > sa.bindparam('now')),
    )
)


def token_user(engine: sa.Engine, secret: str) -> User | None:
    """The user of a valid token, or None (unknown, revoked, expired, or the user is disabled)."""
    if not secret.startswith(PREFIX):
        return None
    now = utcnow()
    with engine.connect() as connection:
        row = connection.execute(_TOKEN_USER, {'digest': digest(secret), 'now': now}).first()
    if row is None:
        return None
    values = dict(row._mapping)
    token_id, used_at = values.pop('token_id'), values.pop('token_used_at')
    if used_at is None or now - used_at >= USED_INTERVAL:
        with engine.begin() as connection:
            connection.execute(sa.update(TOKEN).where(TOKEN.c.id == token_id).values(last_used_at=now))
    return User(**values)


def list_tokens(engine: sa.Engine, *, user_id: int) -> list[ApiToken]:
    """The user's tokens, newest first (expired ones too, until revoked)."""
    with session(engine) as db:
        query = select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc())  # type: ignore[union-attr]
        return list(db.exec(query))


def revoke_token(engine: sa.Engine, *, user_id: int, token_id: int) -> bool:
    """Delete one of the user's tokens; False when it is not theirs or already gone."""
    with engine.begin() as connection:
        result = connection.execute(sa.delete(TOKEN).where(TOKEN.c.id == token_id, TOKEN.c.user_id == user_id))
    return bool(result.rowcount)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def expiry_of_day(value: str) -> datetime | None:
    """The expiry of a token chosen as a day (YYYY-MM-DD): it works through that day (UTC). Empty: never."""
    if not value.strip():
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise UserError('Choose the expiry date as YYYY-MM-DD') from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)


def last_day(expires_at: datetime) -> str:
    """The day a token was set to expire on (YYYY-MM-DD, UTC): the last day it works (see ``expiry_of_day``)."""
    return (expires_at.astimezone(UTC) - timedelta(microseconds=1)).date().isoformat()
