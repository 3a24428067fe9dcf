"""Who is asking, and may they: session login, role checks, CSRF.

The session cookie (Starlette's SessionMiddleware, signed with itsdangerous) carries only
the user id and a CSRF token; the user is re-read from the database on each request, so a
deactivated account or a changed role takes effect at once. Every state-changing request
must present the session's CSRF token, as a form field (`csrf_token`) or an `X-CSRF-Token`
header, compared in constant time.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from central.centre import Centre
from central.models import User
from central.roles import Actor, Permission
from central.text import N_
from central.web.errors import Refused

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class LoginRequired(Exception):
    """Raised for a page that needs a login; turned into a redirect (HTML) or a 401 (API)."""


def get_centre(request: Request) -> Centre:
    return request.app.state.centre


def csrf_token(request: Request) -> str:
    """The session's token, made on first use (the login form needs one before login)."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def start_session(request: Request, user: User) -> str:
    """A fresh session for a fresh login: no fixation, a new CSRF token."""
    request.session.clear()
    request.session["uid"] = user.id
    return csrf_token(request)


def db_session(centre: Annotated[Centre, Depends(get_centre)]) -> Iterator[Session]:
    """The request's transaction: committed when the handler returns, rolled back when it
    raises, either way before the response leaves (scope "function"), so a client that reads
    right after a write sees it."""
    with centre.db.session() as session:
        yield session


SessionDep = Annotated[Session, Depends(db_session, scope="function")]


def optional_user(request: Request, session: SessionDep) -> Actor | None:
    uid = request.session.get("uid")
    if uid is None:
        return None
    user = session.get(User, uid)
    if user is None or not user.active:
        request.session.clear()
        return None
    return Actor.of(user)


def current_user(user: Annotated[Actor | None, Depends(optional_user)]) -> Actor:
    if user is None:
        raise LoginRequired()
    return user


def require(permission: Permission):
    """A dependency: the current user, if their role has `permission`; else 403."""

    def check(user: Annotated[Actor, Depends(current_user)]) -> Actor:
        if not user.can(permission):
            raise Refused(
                403,
                N_("your role (%(role)s) may not %(permission)s"),
                role=user.role,
                permission=permission.value,
            )
        return user

    return check


async def verify_csrf(request: Request) -> None:
    """For every POST/DELETE route: the token from the header, or from the form."""
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        raise Refused(403, N_("missing or wrong CSRF token; reload the page and try again"))


# Dependency aliases (FastAPI's Annotated style): one name per kind of caller.
CentreDep = Annotated[Centre, Depends(get_centre)]
MaybeUser = Annotated[Actor | None, Depends(optional_user)]
UserDep = Annotated[Actor, Depends(current_user)]
Reviewer = Annotated[Actor, Depends(require(Permission.view_reviews))]
Decider = Annotated[Actor, Depends(require(Permission.decide))]
Supervisor = Annotated[Actor, Depends(require(Permission.supervise))]
DashboardViewer = Annotated[Actor, Depends(require(Permission.view_dashboard))]
Exporter = Annotated[Actor, Depends(require(Permission.export))]
UserAdmin = Annotated[Actor, Depends(require(Permission.manage_users))]
Warden = Annotated[Actor, Depends(require(Permission.file_reports))]
ReportHandler = Annotated[Actor, Depends(require(Permission.handle_reports))]
CSRF = Depends(verify_csrf)
