"""Users: argon2 hashes, authentication, first-start admin."""

import pytest

from app.storage.users import (
    UserError,
    authenticate,
    bootstrap_admin,
    create_user,
    ensure_system_user,
    list_users,
    set_password,
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
