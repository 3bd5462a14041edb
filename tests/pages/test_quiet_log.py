"""A page whose browser never answers over its websocket leaves no traceback in the log (issue 13)."""

import asyncio
import logging

import pytest
from nicegui.testing import User

from tests.pages.conftest import log_in


async def test_a_page_that_never_answers_javascript_logs_no_traceback(
    user: User, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await log_in(user)
    user.javascript_rules.clear()  # the simulated browser answers no JavaScript, like a tab closed at once
    await user.open('/imports')
    await user.should_see('Contacts Import')
    await asyncio.sleep(1.5)  # past NiceGUI's 1 s wait for a JavaScript answer
    noisy = [r for r in caplog.records if 'did not respond' in r.getMessage() or r.exc_info]
    assert noisy == []
