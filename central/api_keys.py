"""API keys for Open311 clients: a key acts as one user (usually a warden's app or a county
system filing on a warden's behalf), sent as `api_key` (the Open311 parameter) or as
`Authorization: Bearer <key>`.

Keys are random 32-byte tokens shown once; only their sha256 is stored. A key needs no CSRF
token: it is never sent by a browser on its own, unlike a cookie.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.models import ApiKey, User

KEY_PREFIX = "rgk_"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def mint_api_key(session: Session, user: User, now: datetime, label: str = "") -> str:
    """A new key for `user`; the caller shows it once, it cannot be read back."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiKey(user_id=user.id, key_sha256=_digest(key), label=label, created_at=now))
    session.flush()
    return key


def user_for_key(session: Session, key: str) -> User | None:
    """The active user a live key belongs to, or None."""
    if not key.startswith(KEY_PREFIX):
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.key_sha256 == _digest(key)))
    if row is None or row.revoked_at is not None:
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and user.active else None
