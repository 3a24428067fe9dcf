"""Login throttling: wrong passwords slow the guesser down without locking the officer out.

Three counters, shared by every worker through the database:
- one account from one address: the guesser. Five wrong passwords lock that pair, 30 s
  doubling to 15 min, so 250 guesses in a row are not possible;
- one address, any accounts: a guesser walking through names. Thirty lock it the same way;
- one account from anywhere: guessers spread over many addresses. Twenty lock the account
  for 30 s at most, because an attacker must not be able to keep an officer out for long:
  from their own address the officer still gets in as soon as that short lock ends.

A counter starts again after `WINDOW` without a failure; a correct password clears the
account's counters. Addresses are the peer's (behind a reverse proxy, run uvicorn with
`--proxy-headers` so that is the client's).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from central.clock import utc
from central.models import LoginThrottle

WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class Limit:
    failures: int  # this many within WINDOW lock the key
    first_lock: timedelta
    longest_lock: timedelta

    def lock_for(self, failures: int) -> timedelta:
        """Doubling with every failure past the limit, up to the longest lock."""
        doublings = min(failures - self.failures, 16)
        return min(self.first_lock * (2**doublings), self.longest_lock)


PAIR = Limit(5, timedelta(seconds=30), timedelta(minutes=15))
ADDRESS = Limit(30, timedelta(seconds=30), timedelta(minutes=15))
ACCOUNT = Limit(20, timedelta(seconds=30), timedelta(seconds=30))


def _keys(username: str, address: str) -> dict[str, Limit]:
    name = username.strip().lower()[:64]
    return {
        f"pair:{name}|{address}": PAIR,
        f"address:{address}": ADDRESS,
        f"account:{name}": ACCOUNT,
    }


def locked_for(session: Session, username: str, address: str, now: datetime) -> float:
    """Seconds until this login may be tried again (0: now)."""
    wait = 0.0
    for key in _keys(username, address):
        row = session.get(LoginThrottle, key)
        if row is not None and row.locked_until is not None:
            wait = max(wait, (utc(row.locked_until) - now).total_seconds())
    return max(0.0, wait)


def record_failure(session: Session, username: str, address: str, now: datetime) -> None:
    """Count one wrong password against the account, the address and the pair."""
    for key, limit in _keys(username, address).items():
        row = session.get(LoginThrottle, key)
        if row is None:
            row = LoginThrottle(key=key, failures=0, first_at=now)
            try:
                with session.begin_nested():  # another worker may add the same key
                    session.add(row)
            except IntegrityError:
                row = session.get(LoginThrottle, key, populate_existing=True)
                assert row is not None
        elif now - utc(row.first_at) > WINDOW and not _locked(row, now):
            row.failures, row.first_at, row.locked_until = 0, now, None
        row.failures += 1
        if row.failures >= limit.failures:
            row.locked_until = now + limit.lock_for(row.failures)


def record_success(session: Session, username: str, address: str) -> None:
    """The right password: the account's counters start again (the address's do not, or a
    guesser with one account of their own could wipe their record)."""
    for key in _keys(username, address):
        if key.startswith(("pair:", "account:")) and (row := session.get(LoginThrottle, key)):
            session.delete(row)


def _locked(row: LoginThrottle, now: datetime) -> bool:
    return row.locked_until is not None and utc(row.locked_until) > now
