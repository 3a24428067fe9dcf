"""Accounts: argon2id password hashes (pwdlib), roles, and the check at login.

pwdlib's recommended hasher is argon2id with its current parameters; `verify_and_update`
re-hashes an old hash on the next successful login when those parameters move on.
"""

from __future__ import annotations

from datetime import datetime

from pwdlib import PasswordHash
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.models import Role, User
from central.reports.alerts import valid_squad

_hasher = PasswordHash.recommended()
# Verified against when the user does not exist, so a wrong name takes as long as a wrong
# password and login timing does not reveal which accounts exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

MIN_PASSWORD_LENGTH = 8
# `roadguard demo`'s accounts and their shared, printed password: fine on a laptop for an
# hour, never on a served centre (`roadguard central serve` refuses them unless --demo).
DEMO_PASSWORD = "roadguard-demo"
DEMO_ACCOUNTS = {
    "officer": ("officer", "王警官"),
    "supervisor": ("supervisor", "张主管"),
    "warden": ("warden", "李村长"),
}


class UserError(ValueError):
    pass


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password: str) -> None:
    """UserError unless `password` is long enough (new accounts and new passwords alike)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")


def add_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    now: datetime,
    display_name: str = "",
    *,
    township: str | None = None,
    squad: str | None = None,
) -> User:
    username = username.strip()
    if not username or len(username) > 64:
        raise UserError("a username has 1 to 64 characters")
    try:
        role = Role(role).value
    except ValueError:
        raise UserError(f"unknown role {role!r}; one of {[r.value for r in Role]}") from None
    check_password(password)
    township = (township or "").strip() or None
    squad = (squad or "").strip() or None
    if township is not None and len(township) > 64:
        raise UserError("a township name has at most 64 characters")
    if squad is not None and not valid_squad(squad):
        # The squad is a level of its MQTT alert topic (roadguard/v1/central/alerts/<squad>).
        raise UserError("a squad name is 1 to 64 letters, digits, '_' or '-'")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise UserError(f"user {username!r} exists")
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        role=role,
        active=True,
        created_at=now,
        township=township,
        squad=squad,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None or not user.active:
        _hasher.verify(password, _DUMMY_HASH)
        return None
    valid, new_hash = _hasher.verify_and_update(password, user.password_hash)
    if not valid:
        return None
    if new_hash is not None:
        user.password_hash = new_hash
    return user


def demo_password_accounts(session: Session) -> list[str]:
    """The demo's accounts that still open with the demo password (a password check costs
    ~0.1-0.4 s, so only the demo's account names are tried)."""
    found = []
    for user in session.scalars(select(User).where(User.username.in_(DEMO_ACCOUNTS))):
        if user.active and _hasher.verify(DEMO_PASSWORD, user.password_hash):
            found.append(user.username)
    return found


def display_names(session: Session) -> dict[str, str]:
    """Every user's name as people know it (李村长), by login: the pages show this, never
    the login, wherever a person is named (audit rows, reporters, who decided)."""
    rows = session.execute(select(User.username, User.display_name)).all()
    return {username: name or username for username, name in rows}
