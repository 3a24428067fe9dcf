"""What an admin does: accounts (add, deactivate, new password, revoke keys: each audited,
through `central.accounts`), and the dead letters (messages that could never be stored)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.accounts import (
    NoSuchAccount,
    account_audit,
    revoke_keys,
    set_active,
    set_password,
)
from central.episodes.dead_letters import dead_letter_counts, recent_dead_letters
from central.models import ApiKey, LoginSession, User
from central.schemas import (
    UserIn,
    UserOut,
)
from central.text import N_
from central.users import UserError, add_user
from central.web.auth import (
    CSRF,
    CentreDep,
    SessionDep,
    UserAdmin,
)
from central.web.errors import Refused
from central.web.templating import page

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["admin"])


@pages.get("/admin/dead-letters", response_class=HTMLResponse)
def dead_letters_page(
    session: SessionDep, request: Request, user: UserAdmin, centre: CentreDep
) -> Response:
    letters = recent_dead_letters(session)
    counts = dead_letter_counts(session)
    return page(request, "dead_letters.html", user, letters=letters, counts=counts)


@api.post(
    "/users",
    response_model=UserOut,
    status_code=201,
    tags=["users"],
    dependencies=[CSRF],
)
def create_user(
    session: SessionDep,
    body: UserIn,
    user: UserAdmin,
    centre: CentreDep,
) -> UserOut:
    try:
        created = add_user(
            session,
            body.username,
            body.password,
            body.role,
            centre.clock.now(),
            body.display_name,
        )
    except UserError as exc:
        raise HTTPException(422, str(exc)) from None
    return UserOut.model_validate(created)


def _accounts(session: Session, now) -> list[dict]:
    keys = dict(
        session.execute(
            select(ApiKey.user_id, func.count())
            .where(ApiKey.revoked_at.is_(None))
            .group_by(ApiKey.user_id)
        ).all()
    )
    signed_in = dict(
        session.execute(
            select(LoginSession.user_id, func.count())
            .where(LoginSession.ended_at.is_(None), LoginSession.expires_at > now)
            .group_by(LoginSession.user_id)
        ).all()
    )
    users = session.scalars(select(User).order_by(User.role, User.username))
    return [
        {"user": u, "keys": keys.get(u.id, 0), "sessions": signed_in.get(u.id, 0)} for u in users
    ]


@pages.get("/admin/accounts", response_class=HTMLResponse)
def accounts_page(
    session: SessionDep, request: Request, user: UserAdmin, centre: CentreDep
) -> Response:
    now = centre.clock.now()
    return page(
        request,
        "accounts.html",
        user,
        accounts=_accounts(session, now),
        changes=account_audit(session),
    )


ACCOUNT_ACTIONS = ("deactivate", "activate", "password", "revoke-keys")


def _change_account(
    session: Session, centre, actor: str, username: str, action: str, password: str = ""
) -> None:
    now = centre.clock.now()
    try:
        if action in ("deactivate", "activate"):
            set_active(session, username, action == "activate", actor, now)
        elif action == "password":
            set_password(session, username, password, actor, now)
        elif action == "revoke-keys":
            revoke_keys(session, username, actor, now)
        else:
            raise Refused(404, N_("no action %(action)s"), action=action)
    except NoSuchAccount:
        raise Refused(404, N_("no account %(name)s"), name=username) from None
    except UserError as exc:
        raise Refused(422, N_("cannot change the account: %(why)s"), why=str(exc)) from None


@pages.post("/admin/accounts/{username}/{action}", dependencies=[CSRF])
def change_account_form(
    session: SessionDep,
    username: str,
    action: str,
    user: UserAdmin,
    centre: CentreDep,
    password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    _change_account(session, centre, user.username, username, action, password)
    return RedirectResponse("/admin/accounts", status_code=303)


class PasswordIn(BaseModel):
    password: str = Field(min_length=8, max_length=1024)


@api.post("/users/{username}/deactivate", tags=["users"], dependencies=[CSRF])
def deactivate_user(session: SessionDep, username: str, user: UserAdmin, centre: CentreDep):
    """Cut an account off: its sessions end and its API keys stop, at once. Audited."""
    _change_account(session, centre, user.username, username, "deactivate")
    return {"username": username, "active": False}


@api.post("/users/{username}/activate", tags=["users"], dependencies=[CSRF])
def activate_user(session: SessionDep, username: str, user: UserAdmin, centre: CentreDep):
    """Let a deactivated account in again. Audited."""
    _change_account(session, centre, user.username, username, "activate")
    return {"username": username, "active": True}


@api.post("/users/{username}/password", tags=["users"], dependencies=[CSRF])
def set_user_password(
    session: SessionDep, username: str, body: PasswordIn, user: UserAdmin, centre: CentreDep
):
    """Set a new password; every session of the account ends. Audited."""
    _change_account(session, centre, user.username, username, "password", body.password)
    return {"username": username}


@api.post("/users/{username}/revoke-keys", tags=["users"], dependencies=[CSRF])
def revoke_user_keys(session: SessionDep, username: str, user: UserAdmin, centre: CentreDep):
    """Revoke every live API key of the account. Audited."""
    _change_account(session, centre, user.username, username, "revoke-keys")
    return {"username": username}
