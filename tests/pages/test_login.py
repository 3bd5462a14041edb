from nicegui.testing import User

from tests.pages.conftest import log_in, log_in_failing


async def test_anonymous_visitor_is_sent_to_login(user: User) -> None:
    await user.open('/settings/maintenance/jobs')
    await user.should_see('Log in')
    await user.should_see('Username')


async def test_login_lands_on_job_management_with_name_in_header(user: User) -> None:
    await log_in(user)
    await user.should_see('Job Management')
    await user.should_see('General')
    await user.should_see(marker='username')
    assert user.find(marker='username').elements.pop().text == 'admin'


async def test_wrong_password_says_so(user: User) -> None:
    await log_in_failing(user, 'admin', 'wrong')
    await user.should_see('Invalid username or password')
    await user.should_not_see('Log out')


async def test_log_out_returns_to_login(user: User) -> None:
    await log_in(user)
    await user.should_see('Log out')
    user.find('Log out').click()
    await user.should_see('Log in')
    await user.open('/imports')
    await user.should_see('Log in')
