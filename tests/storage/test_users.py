"""Users: argon2 hashes, authentication, login sessions, first-start admin."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.storage import users
from app.storage.users import (
    SESSION,
    UserError,
    authenticate,
    bootstrap_admin,
    create_user,
    end_session,
    ensure_system_user,
    list_users,
    session_user,
    set_password,
    start_session,
)


def test_passwords_are_hashed_with_argon2_and_checked(engine) -> None:  # type: ignore[no-untyped-def]
    user = create_user(engine, username='ann', password='s3cret')
    assert user.password_hash.startswith('$argon2')
    assert 's3cret' not in user.password_hash
    assert authenticate(engine, username='ann', password='s3cret') is not None
    assert authenticate(engine, username='ann', password='wrong') is None
    assert authenticate(engine, username='nobody', password='s3cret') is None


def test_duplicate_and_reserved_names_are_refused(engine) -> None:  # type: ignore[no-untyped-def]
    create_user(engine, username='ann', password='pw')
    with pytest.raises(UserError, match='already exists'):
        create_user(engine, username='ann', password='other')
    with pytest.raises(UserError, match='reserved'):
        create_user(engine, username='system', password='pw')


def test_set_password_replaces_the_old_one(engine) -> None:  # type: ignore[no-untyped-def]
    create_user(engine, username='ann', password='old')
    set_password(engine, username='ann', password='new')
    assert authenticate(engine, username='ann', password='old') is None
    assert authenticate(engine, username='ann', password='new') is not None
    with pytest.raises(UserError, match='No user'):
        set_password(engine, username='ghost', password='x')


def test_bootstrap_uses_configured_admin_once(engine) -> None:  # type: ignore[no-untyped-def]
    assert bootstrap_admin(engine, username='boss', password='pw-from-env') is None
    assert [(u.username, u.is_admin) for u in list_users(engine)] == [('boss', True)]
    assert bootstrap_admin(engine, username='other', password='x') is None
    assert [u.username for u in list_users(engine)] == ['boss']


def test_bootstrap_without_settings_creates_admin_with_random_password(engine) -> None:  # type: ignore[no-untyped-def]
    generated = bootstrap_admin(engine, username='', password='')
    assert generated is not None and len(generated) >= 12
    assert authenticate(engine, username='admin', password=generated) is not None


def test_system_user_cannot_log_in_and_is_not_listed(engine) -> None:  # type: ignore[no-untyped-def]
    ensure_system_user(engine)
    assert authenticate(engine, username='system', password='!') is None
    assert list_users(engine) == []


def test_session_is_started_looked_up_and_ended(engine) -> None:  # type: ignore[no-untyped-def]
    ann = create_user(engine, username='ann', password='pw', is_admin=True)
    assert ann.id is not None
    assert session_user(engine, 'browser-1') is None
    start_session(engine, key='browser-1', user_id=ann.id)
    found = session_user(engine, 'browser-1')
    assert found is not None and (found.id, found.username, found.is_admin) == (ann.id, 'ann', True)
    assert session_user(engine, 'browser-2') is None
    end_session(engine, 'browser-1')
    assert session_user(engine, 'browser-1') is None
    end_session(engine, 'browser-1')  # ending twice is harmless


def test_sessions_keep_only_a_hash_of_the_browser_key(engine) -> None:  # type: ignore[no-untyped-def]
    ann = create_user(engine, username='ann', password='pw')
    assert ann.id is not None
    start_session(engine, key='secret-browser-id', user_id=ann.id)
    with engine.connect() as connection:
        [stored] = connection.execute(sa.select(SESSION.c.id)).scalars().all()
    assert 'secret-browser-id' not in stored and len(stored) == 64
    assert session_user(engine, stored) is None  # the stored value is no key itself


def test_logging_in_again_in_the_same_browser_replaces_its_session(engine) -> None:  # type: ignore[no-untyped-def]
    ann = create_user(engine, username='ann', password='pw')
    bob = create_user(engine, username='bob', password='pw')
    assert ann.id is not None and bob.id is not None
    start_session(engine, key='browser', user_id=ann.id)
    start_session(engine, key='browser', user_id=bob.id)
    found = session_user(engine, 'browser')
    assert found is not None and found.username == 'bob'
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(SESSION)).scalar() == 1


def test_set_password_ends_every_session_of_that_user_only(engine) -> None:  # type: ignore[no-untyped-def]
    ann = create_user(engine, username='ann', password='old')
    bob = create_user(engine, username='bob', password='pw')
    assert ann.id is not None and bob.id is not None
    for key in ('ann-laptop', 'ann-phone'):
        start_session(engine, key=key, user_id=ann.id)
    start_session(engine, key='bob-laptop', user_id=bob.id)
    set_password(engine, username='ann', password='new')
    assert session_user(engine, 'ann-laptop') is None and session_user(engine, 'ann-phone') is None
    assert session_user(engine, 'bob-laptop') is not None


def test_deleting_a_user_deletes_their_sessions(engine) -> None:  # type: ignore[no-untyped-def]
    ann = create_user(engine, username='ann', password='pw')
    assert ann.id is not None
    start_session(engine, key='browser', user_id=ann.id)
    with engine.begin() as connection:
        connection.execute(sa.text('DELETE FROM "user" WHERE id = :id'), {'id': ann.id})
    assert session_user(engine, 'browser') is None
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(SESSION)).scalar() == 0


def test_last_seen_is_written_at_most_once_a_minute(engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ann = create_user(engine, username='ann', password='pw')
    assert ann.id is not None
    start_session(engine, key='browser', user_id=ann.id)

    def last_seen() -> object:
        with engine.connect() as connection:
            return connection.execute(sa.select(SESSION.c.last_seen_at)).scalar()

    started = last_seen()
    session_user(engine, 'browser')
    assert last_seen() == started  # a request right after logging in writes nothing
    now = users.utcnow() + timedelta(minutes=2)
    monkeypatch.setattr(users, 'utcnow', lambda: now)
    session_user(engine, 'browser')
    assert last_seen() == now


def test_expired_sessions_are_ended_and_their_users_told(engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ann = create_user(engine, username='ann', password='pw')
    bob = create_user(engine, username='bob', password='pw')
    cy = create_user(engine, username='cy', password='pw')
    assert ann.id is not None and bob.id is not None and cy.id is not None
    for key, user_id in (('ann-idle', ann.id), ('bob-fresh', bob.id), ('cy-old', cy.id)):
        start_session(engine, key=key, user_id=user_id)
    now = users.utcnow()
    with engine.begin() as connection:  # ann unused for 31 minutes; cy logged in 3 days ago, used just now
        connection.execute(sa.update(SESSION).where(SESSION.c.user_id == ann.id)
                           .values(last_seen_at=now - timedelta(minutes=31)))  # fmt: skip
        connection.execute(sa.update(SESSION).where(SESSION.c.user_id == cy.id)
                           .values(created_at=now - timedelta(days=3)))  # fmt: skip
    before = users.auth_versions(engine)
    limits = {'idle': timedelta(minutes=30) - users.SEEN_INTERVAL, 'max_age': timedelta(days=2)}
    assert users.end_expired_sessions(engine, **limits) == 2
    assert [session_user(engine, key, **limits) is not None for key in ('ann-idle', 'bob-fresh', 'cy-old')] == [
        False,
        True,
        False,
    ]
    after = users.auth_versions(engine)
    assert [after[u.id] - before[u.id] for u in (ann, bob, cy)] == [1, 0, 1]  # their open pages re-check
    assert users.end_expired_sessions(engine, **limits) == 0
