"""Signing in and out: the login page, the JSON session, who am I."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from central.centre import Centre
from central.models import User
from central.roles import Permission
from central.schemas import (
    LoginIn,
    SessionOut,
    UserOut,
)
from central.text import N_
from central.throttle import locked_for, record_failure, record_success
from central.users import authenticate
from central.web.auth import (
    CSRF,
    CentreDep,
    MaybeUser,
    SessionDep,
    UserDep,
    client_address,
    end_this_session,
    start_session,
)
from central.web.errors import Refused
from central.web.i18n import LANGUAGES
from central.web.templating import page

pages = APIRouter(include_in_schema=False)
WRONG_LOGIN = N_("Wrong name or password.")
api = APIRouter(prefix="/api/v1", tags=["auth"])


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect after login is a phishing tool.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


@pages.get("/", response_class=HTMLResponse)
def home(user: MaybeUser) -> Response:
    if user is None:
        return RedirectResponse("/login", status_code=303)
    if user.can(Permission.supervise):
        return RedirectResponse("/escalated", status_code=303)
    if user.can(Permission.view_reviews):
        return RedirectResponse("/queue", status_code=303)
    if user.can(Permission.view_dashboard):
        return RedirectResponse("/dashboard", status_code=303)
    return RedirectResponse("/me", status_code=303)


@pages.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    return page(request, "login.html", None, next=_safe_next(next), error=None)


@pages.post("/login", response_class=HTMLResponse, dependencies=[CSRF])
def login(
    session: SessionDep,
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    centre: CentreDep,
    next: Annotated[str, Form()] = "/",
) -> Response:
    try:
        user = _authenticate(session, request, centre, username, password)
    except Refused as refused:
        response = page(request, "login.html", None, next=_safe_next(next), error=refused.said)
        response.status_code = refused.status_code
        response.headers.update(refused.headers or {})
        return response
    chosen = request.session.get("language")
    if user.language is None and chosen in LANGUAGES:
        user.language = chosen  # chosen on the login page: this user's language from now on
    start_session(request, session, user)
    return RedirectResponse(_safe_next(next), status_code=303)


def _authenticate(
    session: Session, request: Request, centre: Centre, username: str, password: str
) -> User:
    """The user, or Refused: 401 for a wrong name or password, 429 while throttled (the
    password is not even checked then, so a locked guesser learns nothing). A failure is
    counted in its own transaction: a refused login rolls the request back, never the
    count."""
    address = client_address(request)
    now = centre.clock.now()
    with centre.db.session() as counts:
        wait = locked_for(counts, username, address, now)
    if wait > 0:
        seconds = math.ceil(wait)
        raise Refused(
            429,
            N_("Too many wrong passwords: try again in %(seconds)d s."),
            headers={"Retry-After": str(seconds)},
            seconds=seconds,
        )
    user = authenticate(session, username, password)
    if user is None:  # the request only read, so a second transaction may write (SQLite)
        with centre.db.session() as counts:
            record_failure(counts, username, address, now)
        raise Refused(401, WRONG_LOGIN)
    record_success(session, username, address)  # committed with the sign-in itself
    return user


@pages.post("/language", dependencies=[CSRF])
def choose_language(
    session: SessionDep,
    request: Request,
    user: MaybeUser,
    language: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    """The language switch on every page: remembered for the signed-in user (on any
    device), and for the visitor's session before login."""
    if language not in LANGUAGES:
        raise Refused(
            422,
            N_("unknown language %(language)s; one of %(languages)s"),
            language=language,
            languages=", ".join(LANGUAGES),
        )
    request.session["language"] = language
    if user is not None and user.id is not None:
        account = session.get(User, user.id)
        if account is not None:
            account.language = language
    return RedirectResponse(_safe_next(next), status_code=303)


@pages.post("/logout", dependencies=[CSRF])
def logout(request: Request, session: SessionDep) -> Response:
    end_this_session(request, session)
    return RedirectResponse("/login", status_code=303)


@api.post("/session", response_model=SessionOut, tags=["auth"])
def api_login(
    session: SessionDep, body: LoginIn, request: Request, centre: CentreDep
) -> SessionOut:
    """Log in; the session cookie is set and the CSRF token returned. 429 with Retry-After
    while too many wrong passwords were tried for this account or from this address."""
    user = _authenticate(session, request, centre, body.username, body.password)
    token = start_session(request, session, user)
    return SessionOut(username=user.username, role=user.role, csrf_token=token)


@api.delete("/session", status_code=204, tags=["auth"], dependencies=[CSRF])
def api_logout(request: Request, session: SessionDep) -> Response:
    end_this_session(request, session)
    return Response(status_code=204)


@api.get("/me", response_model=UserOut, tags=["auth"])
def me(user: UserDep) -> UserOut:
    return UserOut(
        username=user.username, role=user.role, display_name=user.display_name, active=True
    )
