"""What an admin does to an account, each step audited (subject "account"): deactivate (and
end its sessions and keys' use at once), reactivate, set a new password (which ends every
session, so a stolen cookie dies with the old password), revoke API keys.

The CLI (`roadguard central user ...`) and the admin page both come here, so the audit
cannot depend on which door was used.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.models import ApiKey, AuditEntry, User
from central.sessions import end_all_sessions
from central.users import UserError, check_password, hash_password


class NoSuchAccount(UserError):
    pass


def find_account(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        raise NoSuchAccount(f"no user {username!r}")
    return user


def _audit(
    session: Session,
    user: User,
    actor: str,
    now: datetime,
    reason: str,
    to_state: str,
    note: str = "",
    from_state: str | None = None,
) -> None:
    session.add(
        AuditEntry(
            subject="account",
            account=user.username,
            from_state=from_state,
            to_state=to_state,
            actor=actor,
            at=now,
            reason=reason,
            note=note,
        )
    )


def _state(user: User) -> str:
    return "active" if user.active else "inactive"


def set_active(session: Session, username: str, active: bool, actor: str, now: datetime) -> User:
    """Deactivate (sessions end, keys stop working: both check `active`) or reactivate."""
    user = find_account(session, username)
    if user.username == actor and not active:
        raise UserError("an admin cannot deactivate their own account")
    before = _state(user)
    user.active = active
    if not active:
        end_all_sessions(session, user.id, now)
    reason = "activated" if active else "deactivated"
    _audit(session, user, actor, now, reason, _state(user), "", before)
    return user


def set_password(session: Session, username: str, password: str, actor: str, now: datetime) -> int:
    """A new password; every session of the account ends. Returns how many did."""
    check_password(password)
    user = find_account(session, username)
    user.password_hash = hash_password(password)
    ended = end_all_sessions(session, user.id, now)
    state = _state(user)
    _audit(session, user, actor, now, "password_set", state, "", state)
    return ended


def revoke_keys(
    session: Session, username: str, actor: str, now: datetime, label: str | None = None
) -> list[str]:
    """Revoke the account's live API keys (those with `label`, or all); their labels."""
    user = find_account(session, username)
    query = select(ApiKey).where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))
    if label is not None:
        query = query.where(ApiKey.label == label)
    keys = list(session.scalars(query))
    for key in keys:
        key.revoked_at = now
    labels = [key.label or f"#{key.id}" for key in keys]
    if keys:
        state = _state(user)
        _audit(session, user, actor, now, "keys_revoked", state, ", ".join(labels), state)
    return labels


def account_audit(session: Session, limit: int = 100) -> list[AuditEntry]:
    """The newest account changes, for the admin page."""
    query = select(AuditEntry).where(AuditEntry.subject == "account")
    return list(session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)))
