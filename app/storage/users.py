"""User accounts: argon2 password hashes, look-ups and the first-start admin."""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import select

from app.storage.db import session
from app.storage.models import User

SYSTEM_USERNAME = 'system'
_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the timing of both failures alike.
_DUMMY_HASH = _hasher.hash('not-a-real-password')


class UserError(ValueError):
    """A user operation that cannot be done, with a message for the person asking."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(engine: sa.Engine, *, username: str, password: str, is_admin: bool = False) -> User:
    """Create a user; raises UserError for a taken name or an empty password."""
    username = username.strip()
    if not username:
        raise UserError('The username must not be empty')
    if username == SYSTEM_USERNAME:
        raise UserError(f'"{SYSTEM_USERNAME}" is reserved for scheduled tasks')
    if not password:
        raise UserError('The password must not be empty')
    with session(engine) as db:
        if db.exec(select(User).where(User.username == username)).first():
            raise UserError(f'User "{username}" already exists')
        user = User(username=username, password_hash=hash_password(password), is_admin=is_admin)
        db.add(user)
        db.commit()
        return user


def set_password(engine: sa.Engine, *, username: str, password: str) -> None:
    """Replace a user's password; raises UserError for an unknown user or an empty password."""
    if not password:
        raise UserError('The password must not be empty')
    with session(engine) as db:
        user = db.exec(select(User).where(User.username == username)).first()
        if user is None or username == SYSTEM_USERNAME:
            raise UserError(f'No user "{username}"')
        user.password_hash = hash_password(password)
        db.commit()


def authenticate(engine: sa.Engine, *, username: str, password: str) -> User | None:
    """The user with these credentials, or None."""
    with session(engine) as db:
        user = db.exec(select(User).where(User.username == username.strip())).first()
    if user is None or user.username == SYSTEM_USERNAME:
        _verify(_DUMMY_HASH, password)
        return None
    return user if _verify(user.password_hash, password) else None


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


_USER_BY_ID = sa.select(User.__table__).where(sa.column('id') == sa.bindparam('user_id'))  # type: ignore[attr-defined]


def get_user(engine: sa.Engine, user_id: int) -> User | None:
    """Every page and API request reads its user: one plain query, no ORM session."""
    with engine.connect() as connection:
        row = connection.execute(_USER_BY_ID, {'user_id': user_id}).first()
    return User(**row._mapping) if row is not None else None


def list_users(engine: sa.Engine) -> list[User]:
    with session(engine) as db:
        return list(db.exec(select(User).where(User.username != SYSTEM_USERNAME).order_by(User.username)))


def ensure_system_user(engine: sa.Engine) -> User:
    """The account scheduled tasks run as; it has no usable password."""
    with session(engine) as db:
        user = db.exec(select(User).where(User.username == SYSTEM_USERNAME)).first()
        if user is None:
            user = User(username=SYSTEM_USERNAME, password_hash='!', is_admin=True)
            db.add(user)
            db.commit()
        return user


def bootstrap_admin(engine: sa.Engine, *, username: str, password: str) -> str | None:
    """Create the first admin when no person has an account yet.

    Returns the generated password when one had to be made up (to be shown once), else None.
    """
    if list_users(engine):
        return None
    generated = None
    if not (username and password):
        username = username or 'admin'
        password = generated = secrets.token_urlsafe(12)
    create_user(engine, username=username, password=password, is_admin=True)
    return generated
