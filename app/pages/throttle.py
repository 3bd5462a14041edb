"""Slows down password guessing with a growing delay per try, never a long lockout of the right password.

Every try is counted per username and per client address, in the database (app.storage.throttle), so all nodes
share the counts and parallel tries cannot slip through between a check and a record. Past a few free tries,
each try waits before its password is checked: 1 s, then doubling, at most ``MAX_USER_DELAY`` seconds
(``JOBS_LOGIN_MAX_DELAY_SECONDS``) for a username, so someone guessing alice's password elsewhere delays alice's
own login by at most that, and at most ``MAX_ADDRESS_DELAY`` seconds for an address that keeps failing. The wait
comes before the check, so a quick answer never tells a guesser that a password was right. Counts start over
after 15 minutes without tries; a successful login takes its own try back.
"""

from __future__ import annotations

FREE_USER_TRIES = 5
FREE_ADDRESS_TRIES = 20  # an address may be shared by many people (an office behind one NAT)
FIRST_DELAY = 1.0
MAX_USER_DELAY = 10.0  # the default of JOBS_LOGIN_MAX_DELAY_SECONDS
MAX_ADDRESS_DELAY = 60.0


def user_key(username: str) -> str:
    return f'user:{username.strip().lower()}'


def address_key(address: str) -> str:
    return f'address:{address}'


def delay(tries: int, *, free: int, most: float) -> float:
    """Seconds the ``tries``-th try on a key waits before its password is checked."""
    if tries <= free:
        return 0.0
    return min(FIRST_DELAY * 2 ** min(tries - free - 1, 32), most)


def wait_before_check(user_tries: int, address_tries: int, *, most: float = MAX_USER_DELAY) -> float:
    """The wait for a try that is the ``user_tries``-th on its username and ``address_tries``-th from its address;
    ``most`` bounds the wait a username's count can cause (JOBS_LOGIN_MAX_DELAY_SECONDS)."""
    return max(
        delay(user_tries, free=FREE_USER_TRIES, most=most),
        delay(address_tries, free=FREE_ADDRESS_TRIES, most=MAX_ADDRESS_DELAY),
    )
