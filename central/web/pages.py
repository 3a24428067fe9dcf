"""The officers' pages: login, review queue (live), event page with one-click decisions,
the supervisor's escalated queue, episode history, dashboard, CSV export form."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from central.centre import Centre
from central.dead_letters import dead_letter_counts, recent_dead_letters
from central.models import Episode, Evidence, Node, ReviewState
from central.report_stats import report_stats
from central.reviews import (
    ReviewFilter,
    episode_list,
    may_see,
    queue_fingerprint,
    review_queue,
    visible_episode,
)
from central.roles import Permission
from central.stats import dashboard
from central.users import authenticate
from central.web.auth import (
    CSRF,
    Actor,
    CentreDep,
    DashboardViewer,
    Decider,
    Exporter,
    MaybeUser,
    Reviewer,
    Supervisor,
    UserAdmin,
    csrf_token,
    start_session,
)
from central.web.filters import FilterDep
from central.web.templating import templates
from central.web.views import episode_detail, is_overdue
from central.workflow import dismiss, issue_ticket

router = APIRouter(include_in_schema=False)


def _page(request: Request, name: str, user: Actor | None, **context: object) -> Response:
    centre: Centre = request.app.state.centre
    return templates.TemplateResponse(
        request,
        name,
        {
            "user": user,
            "csrf": csrf_token(request),
            "now": centre.clock.now(),
            "Permission": Permission,
            **context,
        },
    )


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect after login is a phishing tool.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


@router.get("/", response_class=HTMLResponse)
def home(user: MaybeUser) -> Response:
    if user is None:
        return RedirectResponse("/login", status_code=303)
    if user.can(Permission.view_reviews):
        return RedirectResponse("/queue", status_code=303)
    if user.can(Permission.view_dashboard):
        return RedirectResponse("/dashboard", status_code=303)
    return RedirectResponse("/me", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    return _page(request, "login.html", None, next=_safe_next(next), error=None)


@router.post("/login", response_class=HTMLResponse, dependencies=[CSRF])
def login(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    centre: CentreDep,
    next: Annotated[str, Form()] = "/",
) -> Response:
    with centre.db.session() as session:
        user = authenticate(session, username, password)
        if user is not None:
            start_session(request, user)
    if user is None:
        response = _page(
            request, "login.html", None, next=_safe_next(next), error="Wrong name or password."
        )
        response.status_code = 401
        return response
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", dependencies=[CSRF])
def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


def _queue_context(
    centre: Centre, user: Actor, flt: ReviewFilter, escalated_only: bool
) -> dict[str, object]:
    now = centre.clock.now()
    supervisor = user.can(Permission.supervise)
    if escalated_only:
        flt = ReviewFilter(**{**flt.__dict__, "states": (ReviewState.escalated.value,)})
    with centre.db.session() as session:
        items = review_queue(session, flt, supervisor=supervisor)
        fingerprint = queue_fingerprint(session, supervisor=supervisor)
        escalated = session.scalar(
            select(Episode.id).where(Episode.state == ReviewState.escalated).limit(1)
        )
        sites = list(session.scalars(select(Episode.node_id).distinct().order_by(Episode.node_id)))
        cameras = list(
            session.scalars(select(Episode.camera_id).distinct().order_by(Episode.camera_id))
        )
    overdue = [e for e in items if is_overdue(e, now)]
    return {
        "items": items,
        "overdue_ids": {e.id for e in overdue},
        "overdue_count": len(overdue),
        "any_escalated": escalated is not None,
        "fingerprint": fingerprint,
        "flt": flt,
        "sites": sites,
        "cameras": cameras,
        "escalated_only": escalated_only,
        "soon": now + timedelta(minutes=15),
        "poll_ms": centre.settings.queue_poll_ms,
    }


@router.get("/queue", response_class=HTMLResponse)
def queue(
    request: Request,
    flt: FilterDep,
    user: Reviewer,
    centre: CentreDep,
) -> Response:
    context = _queue_context(centre, user, flt, escalated_only=False)
    return _page(request, "queue.html", user, **context)


@router.get("/escalated", response_class=HTMLResponse)
def escalated_queue(
    request: Request,
    flt: FilterDep,
    user: Supervisor,
    centre: CentreDep,
) -> Response:
    context = _queue_context(centre, user, flt, escalated_only=True)
    return _page(request, "queue.html", user, **context)


@router.get("/queue/rows", response_class=HTMLResponse)
def queue_rows(
    request: Request,
    flt: FilterDep,
    user: Reviewer,
    centre: CentreDep,
    escalated: bool = False,
) -> Response:
    """The queue's rows for the live refresh; 304 when nothing changed (ETag)."""
    if escalated and not user.can(Permission.supervise):
        raise HTTPException(403, "only a supervisor sees the escalated queue")
    context = _queue_context(centre, user, flt, escalated_only=escalated)
    etag = f'"{context["fingerprint"]}"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    response = _page(request, "_queue_rows.html", user, **context)
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = "no-cache"
    return response


@router.get("/episodes", response_class=HTMLResponse)
def episodes(
    request: Request,
    flt: FilterDep,
    user: Reviewer,
    centre: CentreDep,
) -> Response:
    with centre.db.session() as session:
        items = [e for e in episode_list(session, flt) if may_see(user, e)]
    return _page(request, "episodes.html", user, items=items, flt=flt)


@router.get("/episodes/{episode_id}", response_class=HTMLResponse)
def episode_page(
    request: Request,
    episode_id: str,
    user: Reviewer,
    centre: CentreDep,
) -> Response:
    now = centre.clock.now()
    with centre.db.session() as session:
        episode = visible_episode(session, episode_id, user)
        detail = episode_detail(session, episode, now)
        supervisor = user.can(Permission.supervise)
        following = [e.id for e in review_queue(session, ReviewFilter(), supervisor=supervisor)]
    position = following.index(episode_id) if episode_id in following else -1
    after = [i for i in following[position + 1 :] if i != episode_id] if position >= 0 else []
    next_id = after[0] if after else (following[0] if following and position < 0 else None)
    can_decide = user.can(Permission.decide) and (
        detail.state == ReviewState.pending_review
        or (detail.state == ReviewState.escalated and supervisor)
    )
    return _page(request, "event.html", user, e=detail, next_id=next_id, can_decide=can_decide)


def _after_decision(next_id: str | None) -> Response:
    target = f"/episodes/{next_id}" if next_id else "/queue"
    return RedirectResponse(target, status_code=303)


def _next_open(centre: Centre, user: Actor, done: str) -> str | None:
    with centre.db.session() as session:
        for e in review_queue(session, ReviewFilter(), supervisor=user.can(Permission.supervise)):
            if e.id != done:
                return e.id
    return None


@router.post("/episodes/{episode_id}/ticket", dependencies=[CSRF])
def ticket_form(
    episode_id: str,
    user: Decider,
    centre: CentreDep,
    note: Annotated[str, Form()] = "",
) -> Response:
    with centre.db.session() as session:
        issue_ticket(session, episode_id, user, centre.clock.now(), note)
    return _after_decision(_next_open(centre, user, episode_id))


@router.post("/episodes/{episode_id}/dismiss", dependencies=[CSRF])
def dismiss_form(
    episode_id: str,
    user: Decider,
    centre: CentreDep,
    reason: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    with centre.db.session() as session:
        dismiss(session, episode_id, user, centre.clock.now(), reason, note)
    return _after_decision(_next_open(centre, user, episode_id))


@router.get("/evidence/{episode_id}/{name}")
def evidence_file(
    episode_id: str,
    name: str,
    user: Reviewer,
    centre: CentreDep,
) -> Response:
    with centre.db.session() as session:
        # Only the pictures of the node that owns the episode (design.md: identity).
        row = session.scalar(
            select(Evidence)
            .join(Episode, Episode.id == Evidence.episode_id)
            .where(
                Evidence.episode_id == episode_id,
                Evidence.name == name,
                Evidence.node_id == Episode.node_id,
            )
        )
    data = centre.evidence.get(row.sha256) if row else None
    if row is None or data is None:
        raise HTTPException(404, "no such evidence (yet)")
    # Content-addressed: the bytes under this URL never change.
    headers = {"Cache-Control": "private, max-age=86400, immutable", "ETag": f'"{row.sha256}"'}
    return Response(data, media_type=row.content_type, headers=headers)


@router.get("/admin/dead-letters", response_class=HTMLResponse)
def dead_letters_page(request: Request, user: UserAdmin, centre: CentreDep) -> Response:
    with centre.db.session() as session:
        letters = recent_dead_letters(session)
        counts = dead_letter_counts(session)
    return _page(request, "dead_letters.html", user, letters=letters, counts=counts)


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(
    request: Request,
    user: DashboardViewer,
    centre: CentreDep,
) -> Response:
    now = centre.clock.now()
    with centre.db.session() as session:
        board = dashboard(session, now)
        nodes = list(session.scalars(select(Node).order_by(Node.node_id)))
        reports = report_stats(
            session, centre.categories, now.date() - timedelta(days=29), now.date()
        )
    peak = max([max(d.dissuaded, d.violations) for d in board.days] + [1])
    return _page(
        request, "dashboard.html", user, board=board, nodes=nodes, peak=peak, reports=reports
    )


@router.get("/export", response_class=HTMLResponse)
def export_page(
    request: Request,
    user: Exporter,
    centre: CentreDep,
) -> Response:
    today = centre.clock.now().date()
    since = today - timedelta(days=30)
    query = urlencode({"since": since.isoformat(), "until": today.isoformat()})
    return _page(request, "export.html", user, since=since, until=today, query=query)
