"""User accounts: argon2 password hashes, look-ups, login sessions and the first-start admin."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, SQLModel, select

from app.storage.db import session, upsert
from app.storage.models import User, utcnow

SYSTEM_USERNAME = 'system'
_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the timing of both failures alike.
_DUMMY_HASH = _hasher.hash('not-a-real-password')
USER = SQLModel.metadata.tables['user']
SESSION = SQLModel.metadata.tables['user_session']
# A session's last_seen_at is written at most this often, so requests stay reads.
SEEN_INTERVAL = timedelta(minutes=1)
TICKET_LIFETIME = timedelta(minutes=1)
SESSION_IDLE = timedelta(minutes=720)  # defaults of JOBS_SESSION_IDLE_MINUTES and JOBS_SESSION_MAX_DAYS
SESSION_MAX_AGE = timedelta(days=14)


class UserError(ValueError):
    """A user operation that cannot be done, with a message for the person asking."""


def hash_password(password: str) -> str:
    """An argon2 hash of ``password``."""
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
    """Replace a user's password (an admin's reset, the CLI); every session of theirs ends, on every node."""
    if not password:
        raise UserError('The password must not be empty')
    with session(engine) as db:
        user = db.exec(select(User).where(User.username == username)).first()
        if user is None or username == SYSTEM_USERNAME:
            raise UserError(f'No user "{username}"')
        user.password_hash = hash_password(password)
        db.exec(sa.delete(SESSION).where(SESSION.c.user_id == user.id))  # logged out everywhere
        _bump(db, user)
        db.commit()


def change_password(engine: sa.Engine, *, user_id: int, current: str, new: str, keep_session: str) -> None:
    """A user changes their own password: ``current`` must be right; their other sessions end (not ``keep_session``,
    the browser key of the one asking)."""
    if not new:
        raise UserError('The new password must not be empty')
    with session(engine) as db:
        user = db.get(User, user_id)
        if user is None or user.disabled_at is not None:
            raise UserError('Your account is not active')
        if not _verify(user.password_hash, current):
            raise UserError('The current password is not correct')
        user.password_hash = hash_password(new)
        db.exec(sa.delete(SESSION).where(SESSION.c.user_id == user.id, SESSION.c.id != _digest(keep_session)))
        _bump(db, user)
        db.commit()


def set_disabled(engine: sa.Engine, *, username: str, disabled: bool, by: User | None = None) -> User:
    """Disable (or enable again) a user. Disabling ends every session and stops every token of theirs at once; the
    last active admin cannot be disabled, nor can admins disable themselves (``by``: who asks; None for the CLI)."""
    with session(engine) as db:
        user = _person(db, username)
        if disabled and user.disabled_at is None:
            if by is not None and by.id == user.id:
                raise UserError('You cannot disable yourself')
            if user.is_admin and _active_admins(db) <= 1:
                raise UserError('The last active admin cannot be disabled')
            user.disabled_at = utcnow()
            db.exec(sa.delete(SESSION).where(SESSION.c.user_id == user.id))
        elif not disabled:
            user.disabled_at = None
        _bump(db, user)
        db.commit()
        db.refresh(user)
        return user


def set_admin(engine: sa.Engine, *, username: str, is_admin: bool, by: User | None = None) -> User:
    """Give or take the admin role; the last active admin keeps it, and admins cannot demote themselves."""
    with session(engine) as db:
        user = _person(db, username)
        if not is_admin and user.is_admin:
            if by is not None and by.id == user.id:
                raise UserError('You cannot remove your own admin role')
            if user.disabled_at is None and _active_admins(db) <= 1:
                raise UserError('The last active admin cannot lose the admin role')
        user.is_admin = is_admin
        _bump(db, user)
        db.commit()
        db.refresh(user)
        return user


def _person(db: Session, username: str) -> User:
    user = db.exec(select(User).where(User.username == username.strip())).first()
    if user is None or user.username == SYSTEM_USERNAME:
        raise UserError(f'No user "{username}"')
    return user


def _active_admins(db: Session) -> int:
    active = USER.c.is_admin & USER.c.disabled_at.is_(None) & (USER.c.username != SYSTEM_USERNAME)
    return int(db.connection().execute(sa.select(sa.func.count()).select_from(USER).where(active)).scalar_one())


def _bump(db: Session, user: User) -> None:
    """Open pages of ``user`` re-check their session and role (app.pages.revocation watches this number)."""
    user.auth_version = (user.auth_version or 0) + 1
    db.add(user)


def auth_versions(engine: sa.Engine) -> dict[int, int]:
    """Every user's auth_version: a change means their sessions or role changed (one small query)."""
    with engine.connect() as connection:
        return {
            int(row.id): int(row.auth_version) for row in connection.execute(sa.select(USER.c.id, USER.c.auth_version))
        }


def authenticate(engine: sa.Engine, *, username: str, password: str) -> User | None:
    """The user with these credentials, or None."""
    with session(engine) as db:
        user = db.exec(select(User).where(User.username == username.strip())).first()
    if user is None or user.username == SYSTEM_USERNAME:
        _verify(_DUMMY_HASH, password)
        return None
    return user if _verify(user.password_hash, password) and user.disabled_at is None else None


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


_SESSION_USER = (
    sa.select(USER, SESSION.c.last_seen_at, SESSION.c.created_at.label('session_created_at'))
    .join(SESSION, SESSION.c.user_id == USER.c.id)
    .where(SESSION.c.id == sa.bindparam('digest'), USER.c.disabled_at.is_(None))
)


def start_session(engine: sa.Engine, *, key: str, user_id: int, login: bool = True) -> None:
    """Log the browser with the secret ``key`` in as the user, replacing a session it had; only a hash is stored.

    ``login``: a person logged in (their last login time is recorded); False for a login ticket.
    """
    now = utcnow()
    statement = upsert(engine, SESSION).values(id=_digest(key), user_id=user_id, created_at=now, last_seen_at=now)
    # An upsert: two clicks on "Log in" at once must not fail on the primary key.
    new = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=['id'],
        set_={'user_id': new.user_id, 'created_at': new.created_at, 'last_seen_at': new.last_seen_at},
    )
    with engine.begin() as connection:
        connection.execute(statement)
        if login:
            connection.execute(sa.update(USER).where(USER.c.id == user_id).values(last_login_at=now))


def session_user(
    engine: sa.Engine, key: str, *, idle: timedelta = SESSION_IDLE, max_age: timedelta = SESSION_MAX_AGE
) -> User | None:
    """The user the browser with ``key`` is logged in as, or None; every request asks: one plain query, no ORM.

    A session unused for ``idle`` (JOBS_SESSION_IDLE_MINUTES) or started more than ``max_age`` ago
    (JOBS_SESSION_MAX_DAYS) is over: it is deleted, whatever the cookie says.
    """
    digest = _digest(key)
    with engine.connect() as connection:
        row = connection.execute(_SESSION_USER, {'digest': digest}).first()
    if row is None:
        return None
    values = dict(row._mapping)
    now = utcnow()
    last_seen, created = values.pop('last_seen_at'), values.pop('session_created_at')
    if now - last_seen >= idle + SEEN_INTERVAL or now - created >= max_age:
        end_session(engine, key)
        return None
    if now - last_seen >= SEEN_INTERVAL:
        with engine.begin() as connection:
            connection.execute(sa.update(SESSION).where(SESSION.c.id == digest).values(last_seen_at=utcnow()))
    return User(**values)


def end_expired_sessions(
    engine: sa.Engine, *, idle: timedelta = SESSION_IDLE, max_age: timedelta = SESSION_MAX_AGE
) -> int:
    """End the sessions ``session_user`` would refuse now (unused for ``idle``, or older than ``max_age``), so the
    open pages of a browser that makes no more requests go to /login too (their users' auth_version moves)."""
    now = utcnow()
    return _end_sessions(
        engine, sa.or_(SESSION.c.last_seen_at <= now - idle - SEEN_INTERVAL, SESSION.c.created_at <= now - max_age)
    )


def end_session(engine: sa.Engine, key: str) -> None:
    """Log the browser with ``key`` out, on every node (its open pages go to /login)."""
    _end_sessions(engine, SESSION.c.id == _digest(key))


def _end_sessions(engine: sa.Engine, which: sa.ColumnElement[bool]) -> int:
    """Delete the sessions ``which`` selects and move their users' auth_version (the account watch of every node
    then sends their open pages to /login); returns how many ended."""
    with engine.begin() as connection:
        ended = connection.execute(sa.delete(SESSION).where(which).returning(SESSION.c.user_id)).all()
        if users := {row.user_id for row in ended}:
            connection.execute(sa.update(USER).where(USER.c.id.in_(users)).values(auth_version=USER.c.auth_version + 1))
    return len(ended)


def issue_login_ticket(engine: sa.Engine, *, user_id: int, browser: str) -> str:
    """A one-time ticket that completes a login over HTTP, where the browser gets a fresh id (``redeem``).

    The ticket is bound to the ``browser`` (NiceGUI's browser id) that typed the password: sent to anyone else's
    browser, it does not log that browser into the account (the login-ticket swap of issue 13).
    """
    ticket = secrets.token_urlsafe(32)
    start_session(engine, key=_ticket_key(ticket, browser), user_id=user_id, login=False)
    return ticket


def redeem_login_ticket(engine: sa.Engine, ticket: str, *, browser: str) -> int | None:
    """The user id of a ticket issued in the last minute to this ``browser``, or None; a ticket works once."""
    statement = sa.delete(SESSION).where(SESSION.c.id == _digest(_ticket_key(ticket, browser)))
    with engine.begin() as connection:
        row = connection.execute(statement.returning(SESSION.c.user_id, SESSION.c.created_at)).first()
    if row is None or utcnow() - row.created_at > TICKET_LIFETIME:
        return None
    return int(row.user_id)


def _ticket_key(ticket: str, browser: str) -> str:
    return f'login-ticket:{browser}:{ticket}'  # never a browser id (those are UUIDs), so a ticket is no session


def _digest(key: str) -> str:
    """What the database holds instead of the browser's key: reading the table gives no usable cookie."""
    return hashlib.sha256(key.encode()).hexdigest()


def list_users(engine: sa.Engine) -> list[User]:
    """Every user, system user excluded."""
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
