"""Sign-in sessions kept at the centre (`LoginSession`): the cookie carries a random token,
the database says whether it still opens anything. Logging out ends one session;
deactivating an account or setting its password ends all of them, at once, on every worker
and across restarts (the cookie is only signed with the configured secret, never trusted
on its own)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from central.clock import utc
from central.models import LoginSession, User


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(
    session: Session, user: User, now: datetime, lifetime_s: float, address: str = ""
) -> str:
    """A new session for `user`; returns the token for the cookie (not stored anywhere)."""
    token = secrets.token_urlsafe(32)
    session.add(
        LoginSession(
            id=_digest(token),
            user_id=user.id,
            created_at=now,
            expires_at=now + timedelta(seconds=lifetime_s),
            address=address[:64],
        )
    )
    session.flush()
    return token


def signed_in(session: Session, token: str, now: datetime) -> User | None:
    """The active user this token still opens, if any."""
    row = session.get(LoginSession, _digest(token))
    if row is None or row.ended_at is not None or utc(row.expires_at) <= now:
        return None
    return row.user if row.user.active else None


def end_session(session: Session, token: str, now: datetime) -> None:
    row = session.get(LoginSession, _digest(token))
    if row is not None and row.ended_at is None:
        row.ended_at = now


def end_all_sessions(session: Session, user_id: int, now: datetime) -> int:
    """End every open session of a user; how many there were."""
    done = session.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    return done.rowcount or 0
