"""The JSON API: the same operations as the pages, described by OpenAPI at /docs.

Authentication is the same session cookie (POST /api/v1/session logs in and returns the CSRF
token to send as `X-CSRF-Token` on every state-changing call).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy import select

from central.models import Node
from central.reviews import (
    episode_list,
    may_see,
    queue_fingerprint,
    review_queue,
    visible_episode,
)
from central.roles import Permission
from central.schemas import (
    DashboardOut,
    DayOut,
    DismissIn,
    EpisodeDetail,
    EpisodeOut,
    LoginIn,
    NodeOut,
    ReasonOut,
    SessionOut,
    TicketIn,
    UserIn,
    UserOut,
)
from central.stats import dashboard, dissuasions_csv, tickets_csv
from central.users import UserError, add_user, authenticate
from central.web.auth import (
    CSRF,
    AnyUser,
    CentreDep,
    DashboardViewer,
    Decider,
    Exporter,
    Reviewer,
    UserAdmin,
    start_session,
)
from central.web.filters import FilterDep
from central.web.views import episode_detail, episode_out
from central.workflow import DISMISS_REASON_LABELS, DismissReason, dismiss, issue_ticket

router = APIRouter(prefix="/api/v1", tags=["api"])


@router.post("/session", response_model=SessionOut, tags=["auth"])
def login(body: LoginIn, request: Request, centre: CentreDep) -> SessionOut:
    """Log in; the session cookie is set and the CSRF token returned."""
    with centre.db.session() as session:
        user = authenticate(session, body.username, body.password)
        if user is None:
            raise HTTPException(401, "wrong name or password")
        token = start_session(request, user)
        return SessionOut(username=user.username, role=user.role, csrf_token=token)


@router.delete("/session", status_code=204, tags=["auth"], dependencies=[CSRF])
def logout(request: Request) -> Response:
    request.session.clear()
    return Response(status_code=204)


@router.get("/me", response_model=UserOut, tags=["auth"])
def me(user: AnyUser) -> UserOut:
    return UserOut(
        username=user.username, role=user.role, display_name=user.display_name, active=True
    )


@router.get("/reviews", response_model=list[EpisodeOut], tags=["reviews"])
def list_reviews(
    flt: FilterDep,
    user: Reviewer,
    centre: CentreDep,
) -> list[EpisodeOut]:
    """Open reviews, most urgent deadline first (escalated ones only for a supervisor)."""
    now = centre.clock.now()
    with centre.db.session() as session:
        items = review_queue(session, flt, supervisor=user.can(Permission.supervise))
        return [episode_out(e, now) for e in items]


@router.get("/reviews/fingerprint", tags=["reviews"])
def fingerprint(
    user: Reviewer,
    centre: CentreDep,
) -> dict[str, str]:
    """Changes whenever the open queue changes: poll it to refresh a view."""
    with centre.db.session() as session:
        return {
            "fingerprint": queue_fingerprint(session, supervisor=user.can(Permission.supervise))
        }


@router.get("/episodes", response_model=list[EpisodeOut], tags=["reviews"])
def list_episodes(
    flt: FilterDep,
    user: Reviewer,
    centre: CentreDep,
) -> list[EpisodeOut]:
    """All episodes (any state), newest first."""
    now = centre.clock.now()
    with centre.db.session() as session:
        return [episode_out(e, now) for e in episode_list(session, flt) if may_see(user, e)]


@router.get("/episodes/{episode_id}", response_model=EpisodeDetail, tags=["reviews"])
def get_episode(
    episode_id: str,
    user: Reviewer,
    centre: CentreDep,
) -> EpisodeDetail:
    with centre.db.session() as session:
        return episode_detail(
            session, visible_episode(session, episode_id, user), centre.clock.now()
        )


@router.post(
    "/episodes/{episode_id}/ticket",
    response_model=EpisodeOut,
    tags=["reviews"],
    dependencies=[CSRF],
)
def ticket(
    episode_id: str,
    user: Decider,
    centre: CentreDep,
    body: TicketIn | None = None,
) -> EpisodeOut:
    now = centre.clock.now()
    with centre.db.session() as session:
        episode = issue_ticket(session, episode_id, user, now, body.note if body else "")
        return episode_out(episode, now)


@router.post(
    "/episodes/{episode_id}/dismiss",
    response_model=EpisodeOut,
    tags=["reviews"],
    dependencies=[CSRF],
)
def dismiss_episode(
    episode_id: str,
    body: DismissIn,
    user: Decider,
    centre: CentreDep,
) -> EpisodeOut:
    now = centre.clock.now()
    with centre.db.session() as session:
        episode = dismiss(session, episode_id, user, now, body.reason.value, body.note)
        return episode_out(episode, now)


@router.get("/dismiss-reasons", response_model=list[ReasonOut], tags=["reviews"])
def dismiss_reasons() -> list[ReasonOut]:
    return [
        ReasonOut(code=code.value, label=label, needs_note=code == DismissReason.other)
        for code, label in DISMISS_REASON_LABELS.items()
    ]


@router.get("/dashboard", response_model=DashboardOut, tags=["stats"])
def get_dashboard(
    user: DashboardViewer,
    centre: CentreDep,
    days: Annotated[int, Query(ge=1, le=366)] = 14,
) -> DashboardOut:
    with centre.db.session() as session:
        board = dashboard(session, centre.clock.now(), days)
    return DashboardOut(
        days=[
            DayOut(
                day=d.day.isoformat(),
                dissuaded=d.dissuaded,
                violations=d.violations,
                tickets=d.tickets,
                expired=d.expired,
                dissuasion_rate=d.dissuasion_rate,
            )
            for d in board.days
        ],
        dissuaded=board.dissuaded,
        violations=board.violations,
        tickets=board.tickets,
        expired=board.expired,
        dismissed=board.dismissed,
        pending=board.pending,
        overdue=board.overdue,
        escalated=board.escalated,
        dissuasion_rate=board.dissuasion_rate,
        nodes_online=board.nodes_online,
        nodes_offline=board.nodes_offline,
    )


@router.get("/nodes", response_model=list[NodeOut], tags=["stats"])
def nodes(
    user: DashboardViewer,
    centre: CentreDep,
) -> list[NodeOut]:
    with centre.db.session() as session:
        return [NodeOut.model_validate(n) for n in session.scalars(select(Node))]


def _export_range(since: date, until: date) -> None:
    if until < since:
        raise HTTPException(422, "until is before since")
    if (until - since).days > 366:
        raise HTTPException(422, "at most a year per export")


@router.get("/export/tickets.csv", response_class=PlainTextResponse, tags=["export"])
def export_tickets(
    since: date,
    until: date,
    user: Exporter,
    centre: CentreDep,
) -> Response:
    """Tickets decided between `since` and `until` (UTC days, inclusive)."""
    _export_range(since, until)
    with centre.db.session() as session:
        body = tickets_csv(session, since, until)
    return _csv_response(body, f"tickets-{since}-{until}.csv")


@router.get("/export/dissuasions.csv", response_class=PlainTextResponse, tags=["export"])
def export_dissuasions(
    since: date,
    until: date,
    user: Exporter,
    centre: CentreDep,
) -> Response:
    """Episodes that ended as dissuaded between `since` and `until` (UTC days, inclusive)."""
    _export_range(since, until)
    with centre.db.session() as session:
        body = dissuasions_csv(session, since, until)
    return _csv_response(body, f"dissuasions-{since}-{until}.csv")


def _csv_response(body: str, filename: str) -> Response:
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.post(
    "/users",
    response_model=UserOut,
    status_code=201,
    tags=["users"],
    dependencies=[CSRF],
)
def create_user(
    body: UserIn,
    user: UserAdmin,
    centre: CentreDep,
) -> UserOut:
    with centre.db.session() as session:
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
