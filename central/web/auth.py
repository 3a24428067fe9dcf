"""Who is asking, and may they: session login, role checks, CSRF.

The session cookie (Starlette's SessionMiddleware, signed with itsdangerous) carries a
session token and a CSRF token; the session and its user are read from the database on each
request (`central.sessions`), so a logout, a deactivated account, a new password or a
changed role takes effect at once, on every worker. Every state-changing request
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
from central.sessions import end_session, open_session, signed_in
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


def client_address(request: Request) -> str:
    """The peer's address (behind a reverse proxy: uvicorn --proxy-headers makes it the
    client's); empty when the transport has none."""
    return request.client.host if request.client else ""


def start_session(request: Request, session: Session, user: User) -> str:
    """A fresh session for a fresh login: no fixation, a new CSRF token."""
    centre: Centre = request.app.state.centre
    lifetime = centre.settings.session_max_age_s
    token = open_session(session, user, centre.clock.now(), lifetime, client_address(request))
    request.session.clear()
    request.session["sid"] = token
    return csrf_token(request)


def end_this_session(request: Request, session: Session) -> None:
    """Log out: the session ends at the centre, so a copy of the cookie opens nothing."""
    token = request.session.get("sid")
    if token:
        end_session(session, token, request.app.state.centre.clock.now())
    request.session.clear()


def db_session(centre: Annotated[Centre, Depends(get_centre)]) -> Iterator[Session]:
    """The request's transaction: committed when the handler returns, rolled back when it
    raises, either way before the response leaves (scope "function"), so a client that reads
    right after a write sees it."""
    with centre.db.session() as session:
        yield session


SessionDep = Annotated[Session, Depends(db_session, scope="function")]


def optional_user(request: Request, session: SessionDep) -> Actor | None:
    token = request.session.get("sid")
    if token is None:
        return None
    user = signed_in(session, token, request.app.state.centre.clock.now())
    if user is None:
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
