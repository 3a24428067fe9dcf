"""Officers' reviews: the live queue, the supervisor's escalated queue, episode history,
the evidence page with one-click decisions, the evidence pictures; and the same in JSON."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.centre import Centre
from central.episodes.reviews import (
    ReviewFilter,
    claim,
    claimed_by_other,
    episode_count,
    episode_list,
    filter_choices,
    may_see,
    queue_fingerprint,
    review_queue,
    visible_episode,
)
from central.episodes.workflow import (
    DISMISS_REASON_LABELS,
    DismissReason,
    dismiss,
    issue_ticket,
    undo_decision,
)
from central.models import Episode, Evidence, ReviewState
from central.reports.queries import inbox
from central.roles import Permission
from central.schemas import (
    DismissIn,
    EpisodeDetail,
    EpisodeOut,
    ReasonOut,
    TicketIn,
)
from central.text import N_
from central.web.auth import (
    CSRF,
    Actor,
    CentreDep,
    Decider,
    Reviewer,
    SessionDep,
    Supervisor,
)
from central.web.errors import Refused
from central.web.filters import FilterDep
from central.web.security import stored_image
from central.web.templating import page
from central.web.views import episode_detail, episode_out, is_overdue

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["reviews"])


def _queue_context(
    session: Session, centre: Centre, user: Actor, flt: ReviewFilter, escalated_only: bool
) -> dict[str, object]:
    now = centre.clock.now()
    supervisor = user.can(Permission.supervise)
    if escalated_only:
        flt = ReviewFilter(**{**flt.__dict__, "states": (ReviewState.escalated.value,)})
    items = review_queue(session, flt, supervisor=supervisor)
    fingerprint = queue_fingerprint(session, supervisor=supervisor)
    escalated = session.scalar(
        select(Episode.id).where(Episode.state == ReviewState.escalated).limit(1)
    )
    sites, cameras = filter_choices(session)
    overdue = [e for e in items if is_overdue(e, now)]
    return {
        "items": items,
        "looking": {e.id: who for e in items if (who := claimed_by_other(e, user, now))},
        "overdue_ids": {e.id for e in overdue},
        "overdue_count": len(overdue),
        "any_escalated": escalated is not None,
        "fingerprint": fingerprint,
        "flt": flt,
        "sites": sites,
        "cameras": cameras,
        "escalated_only": escalated_only,
        "soon": now + timedelta(minutes=15),
    }


@pages.get("/queue", response_class=HTMLResponse)
def queue(
    session: SessionDep,
    request: Request,
    flt: FilterDep,
    user: Reviewer,
    centre: CentreDep,
) -> Response:
    context = _queue_context(session, centre, user, flt, escalated_only=False)
    return page(request, "queue.html", user, **context)


@pages.get("/escalated", response_class=HTMLResponse)
def escalated_queue(
    session: SessionDep,
    request: Request,
    flt: FilterDep,
    user: Supervisor,
    centre: CentreDep,
) -> Response:
    """The supervisor's landing page: escalated reviews, and how many field reports wait
    for them (one menu entry for everything escalated)."""
    context = _queue_context(session, centre, user, flt, escalated_only=True)
    reports = len(inbox(session, user, escalated_only=True))
    return page(request, "queue.html", user, escalated_reports=reports, **context)


@pages.get("/queue/rows", response_class=HTMLResponse)
def queue_rows(
    session: SessionDep,
    request: Request,
    flt: FilterDep,
    user: Reviewer,
    centre: CentreDep,
    escalated: bool = False,
) -> Response:
    """The queue's rows for the live refresh; 304 when nothing changed (ETag)."""
    if escalated and not user.can(Permission.supervise):
        raise Refused(403, N_("only a supervisor sees the escalated queue"))
    context = _queue_context(session, centre, user, flt, escalated_only=escalated)
    etag = f'"{context["fingerprint"]}"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    response = page(request, "_queue_rows.html", user, **context)
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = "no-cache"
    return response


@pages.get("/episodes", response_class=HTMLResponse)
def episodes(
    session: SessionDep,
    request: Request,
    flt: FilterDep,
    user: Reviewer,
    centre: CentreDep,
) -> Response:
    """Every episode, newest first, a page at a time, filtered and searched by plate."""
    items = [e for e in episode_list(session, flt) if may_see(user, e)]
    total = episode_count(session, flt)
    sites, cameras = filter_choices(session)
    query = {k: v for k, v in request.query_params.items() if k != "offset"}

    def page_url(offset: int) -> str:
        return "/episodes?" + urlencode({**query, "offset": offset})

    more = flt.offset + flt.limit < total
    return page(
        request,
        "episodes.html",
        user,
        items=items,
        flt=flt,
        sites=sites,
        cameras=cameras,
        total=total,
        first=flt.offset + 1 if items else 0,
        last=flt.offset + len(items),
        previous_url=page_url(max(0, flt.offset - flt.limit)) if flt.offset else None,
        next_url=page_url(flt.offset + flt.limit) if more else None,
    )


@pages.get("/episodes/{episode_id}", response_class=HTMLResponse)
def episode_page(
    session: SessionDep,
    request: Request,
    episode_id: str,
    user: Reviewer,
    centre: CentreDep,
) -> Response:
    now = centre.clock.now()
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
    colleague = (
        claim(session, episode_id, user, now, centre.settings.claim_s) if can_decide else None
    )
    return page(
        request,
        "event.html",
        user,
        e=detail,
        next_id=next_id,
        can_decide=can_decide,
        colleague=colleague,
    )


def _after_decision(next_id: str | None) -> Response:
    target = f"/episodes/{next_id}" if next_id else "/queue"
    return RedirectResponse(target, status_code=303)


def _next_open(session: Session, user: Actor, done: str) -> str | None:
    for e in review_queue(session, ReviewFilter(), supervisor=user.can(Permission.supervise)):
        if e.id != done:
            return e.id
    return None


def _offer_undo(request: Request, centre: Centre, episode: Episode) -> None:
    """Remember the decision for the next page's undo toast (shown once, until the window
    closes)."""
    until = centre.clock.now() + timedelta(seconds=centre.settings.undo_window_s)
    request.session["undo"] = {
        "episode": episode.id,
        "ticket": episode.ticket_number,
        "reason": episode.dismiss_reason,
        "until": until.isoformat(),
    }


@pages.post("/episodes/{episode_id}/ticket", dependencies=[CSRF])
def ticket_form(
    session: SessionDep,
    request: Request,
    episode_id: str,
    user: Decider,
    centre: CentreDep,
    note: Annotated[str, Form()] = "",
) -> Response:
    episode = issue_ticket(session, episode_id, user, centre.clock.now(), note)
    _offer_undo(request, centre, episode)
    return _after_decision(_next_open(session, user, episode_id))


@pages.post("/episodes/{episode_id}/dismiss", dependencies=[CSRF])
def dismiss_form(
    session: SessionDep,
    request: Request,
    episode_id: str,
    user: Decider,
    centre: CentreDep,
    reason: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    episode = dismiss(session, episode_id, user, centre.clock.now(), reason, note)
    _offer_undo(request, centre, episode)
    return _after_decision(_next_open(session, user, episode_id))


@pages.post("/episodes/{episode_id}/undo", dependencies=[CSRF])
def undo_form(
    session: SessionDep,
    request: Request,
    episode_id: str,
    user: Decider,
    centre: CentreDep,
) -> Response:
    """The toast's Undo: back to the episode, to decide again."""
    request.session.pop("undo", None)
    undo_decision(session, episode_id, user, centre.clock.now(), centre.settings.undo_window_s)
    return RedirectResponse(f"/episodes/{episode_id}", status_code=303)


@pages.get("/evidence/{episode_id}/{name}")
def evidence_file(
    session: SessionDep,
    episode_id: str,
    name: str,
    user: Reviewer,
    centre: CentreDep,
) -> Response:
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
        raise Refused(404, N_("no such evidence (yet)"))
    # What the node sent, with an image type only: never run as a page (central.web.security).
    return stored_image(data, row.content_type, f"{episode_id}-{name}", row.sha256)


@api.get("/reviews", response_model=list[EpisodeOut], tags=["reviews"])
def list_reviews(
    session: SessionDep,
    flt: FilterDep,
    user: Reviewer,
    centre: CentreDep,
) -> list[EpisodeOut]:
    """Open reviews, most urgent deadline first (escalated ones only for a supervisor)."""
    now = centre.clock.now()
    items = review_queue(session, flt, supervisor=user.can(Permission.supervise))
    return [episode_out(e, now) for e in items]


@api.get("/reviews/fingerprint", tags=["reviews"])
def fingerprint(
    session: SessionDep,
    user: Reviewer,
    centre: CentreDep,
) -> dict[str, str]:
    """Changes whenever the open queue changes: poll it to refresh a view."""
    return {"fingerprint": queue_fingerprint(session, supervisor=user.can(Permission.supervise))}


@api.get("/episodes", response_model=list[EpisodeOut], tags=["reviews"])
def list_episodes(
    session: SessionDep,
    flt: FilterDep,
    user: Reviewer,
    centre: CentreDep,
) -> list[EpisodeOut]:
    """All episodes (any state), newest first."""
    now = centre.clock.now()
    return [episode_out(e, now) for e in episode_list(session, flt) if may_see(user, e)]


@api.get("/episodes/{episode_id}", response_model=EpisodeDetail, tags=["reviews"])
def get_episode(
    session: SessionDep,
    episode_id: str,
    user: Reviewer,
    centre: CentreDep,
) -> EpisodeDetail:
    return episode_detail(session, visible_episode(session, episode_id, user), centre.clock.now())


@api.post(
    "/episodes/{episode_id}/ticket",
    response_model=EpisodeOut,
    tags=["reviews"],
    dependencies=[CSRF],
)
def ticket(
    session: SessionDep,
    episode_id: str,
    user: Decider,
    centre: CentreDep,
    body: TicketIn | None = None,
) -> EpisodeOut:
    now = centre.clock.now()
    episode = issue_ticket(session, episode_id, user, now, body.note if body else "")
    return episode_out(episode, now)


@api.post(
    "/episodes/{episode_id}/dismiss",
    response_model=EpisodeOut,
    tags=["reviews"],
    dependencies=[CSRF],
)
def dismiss_episode(
    session: SessionDep,
    episode_id: str,
    body: DismissIn,
    user: Decider,
    centre: CentreDep,
) -> EpisodeOut:
    now = centre.clock.now()
    episode = dismiss(session, episode_id, user, now, body.reason.value, body.note)
    return episode_out(episode, now)


@api.post(
    "/episodes/{episode_id}/undo",
    response_model=EpisodeOut,
    tags=["reviews"],
    dependencies=[CSRF],
)
def undo(
    session: SessionDep,
    episode_id: str,
    user: Decider,
    centre: CentreDep,
) -> EpisodeOut:
    """Take back your ticket or dismissal within `undo_window_s` (409 once it is final)."""
    now = centre.clock.now()
    episode = undo_decision(session, episode_id, user, now, centre.settings.undo_window_s)
    return episode_out(episode, now)


@api.get("/dismiss-reasons", response_model=list[ReasonOut], tags=["reviews"])
def dismiss_reasons() -> list[ReasonOut]:
    return [
        ReasonOut(code=code.value, label=label, needs_note=code == DismissReason.other)
        for code, label in DISMISS_REASON_LABELS.items()
    ]
