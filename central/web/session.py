"""Signing in and out: the login page, the JSON session, who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from central.models import User
from central.roles import Permission
from central.schemas import (
    LoginIn,
    SessionOut,
    UserOut,
)
from central.text import N_
from central.users import authenticate
from central.web.auth import (
    CSRF,
    CentreDep,
    MaybeUser,
    SessionDep,
    UserDep,
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
    user = authenticate(session, username, password)
    if user is None:
        response = page(request, "login.html", None, next=_safe_next(next), error=WRONG_LOGIN)
        response.status_code = 401
        return response
    chosen = request.session.get("language")
    if user.language is None and chosen in LANGUAGES:
        user.language = chosen  # chosen on the login page: this user's language from now on
    start_session(request, user)
    return RedirectResponse(_safe_next(next), status_code=303)


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
def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@api.post("/session", response_model=SessionOut, tags=["auth"])
def api_login(
    session: SessionDep, body: LoginIn, request: Request, centre: CentreDep
) -> SessionOut:
    """Log in; the session cookie is set and the CSRF token returned."""
    user = authenticate(session, body.username, body.password)
    if user is None:
        raise HTTPException(401, "wrong name or password")
    token = start_session(request, user)
    return SessionOut(username=user.username, role=user.role, csrf_token=token)


@api.delete("/session", status_code=204, tags=["auth"], dependencies=[CSRF])
def api_logout(request: Request) -> Response:
    request.session.clear()
    return Response(status_code=204)


@api.get("/me", response_model=UserOut, tags=["auth"])
def me(user: UserDep) -> UserOut:
    return UserOut(
        username=user.username, role=user.role, display_name=user.display_name, active=True
    )
