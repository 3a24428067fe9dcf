"""What an admin does: accounts, and the dead letters (messages that could never be stored)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from central.episodes.dead_letters import dead_letter_counts, recent_dead_letters
from central.schemas import (
    UserIn,
    UserOut,
)
from central.users import UserError, add_user
from central.web.auth import (
    CSRF,
    CentreDep,
    SessionDep,
    UserAdmin,
)
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
