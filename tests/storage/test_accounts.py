"""Accounts: disabling, roles with the last-admin rules, own password changes, last login, API tokens."""

from datetime import timedelta

import pytest

from app.storage import tokens, users
from app.storage.models import utcnow
from app.storage.users import UserError, authenticate, create_user, session_user, start_session


def _versions(engine, user_id: int) -> int:  # type: ignore[no-untyped-def]
    return users.auth_versions(engine)[user_id]


def test_a_disabled_user_cannot_log_in_and_loses_sessions_and_tokens_until_enabled(engine) -> None:  # type: ignore[no-untyped-def]
    create_user(engine, username='boss', password='pw', is_admin=True)
    ann = create_user(engine, username='ann', password='pw')
    assert ann.id is not None
    start_session(engine, key='browser-ann', user_id=ann.id)
    secret = tokens.create_token(engine, username='ann', name='ci').secret
    before = _versions(engine, ann.id)
    users.set_disabled(engine, username='ann', disabled=True)
    assert _versions(engine, ann.id) > before  # open pages re-check
    assert authenticate(engine, username='ann', password='pw') is None
    assert session_user(engine, 'browser-ann') is None
    assert tokens.token_user(engine, secret) is None
    users.set_disabled(engine, username='ann', disabled=False)
    assert authenticate(engine, username='ann', password='pw') is not None
    assert session_user(engine, 'browser-ann') is None  # sessions ended for good
    assert tokens.token_user(engine, secret) is not None  # a token works again with its user


def test_the_last_active_admin_can_be_neither_disabled_nor_demoted_nor_can_admins_do_it_to_themselves(engine) -> None:  # type: ignore[no-untyped-def]
    boss = create_user(engine, username='boss', password='pw', is_admin=True)
    with pytest.raises(UserError, match='last active admin'):
        users.set_disabled(engine, username='boss', disabled=True)
    with pytest.raises(UserError, match='last active admin'):
        users.set_admin(engine, username='boss', is_admin=False)
    second = create_user(engine, username='deputy', password='pw', is_admin=True)
    with pytest.raises(UserError, match='yourself'):
        users.set_disabled(engine, username='boss', disabled=True, by=boss)
    with pytest.raises(UserError, match='your own'):
        users.set_admin(engine, username='boss', is_admin=False, by=boss)
    users.set_disabled(engine, username='deputy', disabled=True, by=boss)
    with pytest.raises(UserError, match='last active admin'):  # a disabled admin does not count
        users.set_admin(engine, username='boss', is_admin=False, by=second)
    users.set_disabled(engine, username='deputy', disabled=False, by=boss)
    assert not users.set_admin(engine, username='boss', is_admin=False, by=second).is_admin
    assert users.set_admin(engine, username='boss', is_admin=True, by=second).is_admin
    with pytest.raises(UserError, match='No user'):
        users.set_admin(engine, username='system', is_admin=False)


def test_changing_the_own_password_needs_the_current_one_and_ends_the_other_sessions(engine) -> None:  # type: ignore[no-untyped-def]
    ann = create_user(engine, username='ann', password='old')
    assert ann.id is not None
    start_session(engine, key='here', user_id=ann.id)
    start_session(engine, key='elsewhere', user_id=ann.id)
    with pytest.raises(UserError, match='not correct'):
        users.change_password(engine, user_id=ann.id, current='wrong', new='new', keep_session='here')
    users.change_password(engine, user_id=ann.id, current='old', new='new', keep_session='here')
    assert session_user(engine, 'here') is not None
    assert session_user(engine, 'elsewhere') is None
    assert authenticate(engine, username='ann', password='new') is not None


def test_logging_in_records_the_time_and_logging_out_tells_open_pages(engine) -> None:  # type: ignore[no-untyped-def]
    ann = create_user(engine, username='ann', password='pw')
    assert ann.id is not None and ann.last_login_at is None
    start_session(engine, key='b', user_id=ann.id)
    listed = {u.username: u for u in users.list_users(engine)}
    assert listed['ann'].last_login_at is not None
    before = _versions(engine, ann.id)
    users.end_session(engine, 'b')
    assert _versions(engine, ann.id) == before + 1


def test_token_lifecycle_create_use_revoke_expire(engine) -> None:  # type: ignore[no-untyped-def]
    ann = create_user(engine, username='ann', password='pw')
    assert ann.id is not None
    new = tokens.create_token(engine, user_id=ann.id, name='cron')
    assert new.secret.startswith('jm_') and len(new.secret) > 40
    assert new.secret not in new.token.token_hash
    user = tokens.token_user(engine, new.secret)
    assert user is not None and user.username == 'ann'
    used = tokens.list_tokens(engine, user_id=ann.id)[0].last_used_at
    assert used is not None
    tokens.token_user(engine, new.secret)
    assert tokens.list_tokens(engine, user_id=ann.id)[0].last_used_at == used  # no write per request
    assert tokens.token_user(engine, new.secret + 'x') is None
    assert tokens.token_user(engine, 'not-a-token') is None
    assert not tokens.revoke_token(engine, user_id=ann.id + 1, token_id=new.token.id or 0)  # not theirs
    assert tokens.revoke_token(engine, user_id=ann.id, token_id=new.token.id or 0)
    assert tokens.token_user(engine, new.secret) is None
    soon = tokens.create_token(engine, user_id=ann.id, name='short', expires_at=utcnow() + timedelta(seconds=1))
    assert tokens.token_user(engine, soon.secret) is not None
    with engine.begin() as connection:
        connection.execute(tokens.TOKEN.update().values(expires_at=utcnow() - timedelta(seconds=1)))
    assert tokens.token_user(engine, soon.secret) is None
    with pytest.raises(UserError, match='future'):
        tokens.create_token(engine, user_id=ann.id, name='past', expires_at=utcnow() - timedelta(days=1))
    with pytest.raises(UserError, match='name'):
        tokens.create_token(engine, user_id=ann.id, name='  ')
