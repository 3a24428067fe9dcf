"""Warden reports on the pages: a warden's own reports and the filing form, the officers'
inbox (live) and escalations, one report with its actions and photo; and the officers'
actions in JSON. Filing and reading through the API is Open311 (`central.web.open311`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from central.centre import Centre
from central.models import WardenReport
from central.reports.categories import ReportCategories
from central.reports.filing import Problem, ReportRejected, file_report
from central.reports.open311 import request_document
from central.reports.queries import (
    ReportFilter,
    escalation_level_of,
    get_visible,
    inbox,
    inbox_fingerprint,
    latest_updates,
    report_list,
)
from central.reports.workflow import TRANSITIONS, act, may_handle
from central.roles import Permission
from central.text import N_
from central.web.auth import (
    CSRF,
    Actor,
    CentreDep,
    ReportHandler,
    SessionDep,
    UserDep,
    Warden,
)
from central.web.errors import Refused
from central.web.forms import form_submission
from central.web.maps import background
from central.web.open311 import Caller
from central.web.security import stored_image
from central.web.templating import page, page_language

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["reports"])


ACTION_LABELS = {
    "acknowledge": N_("Acknowledge"),
    "dispatch": N_("Dispatch"),
    "resolve": N_("Resolve"),
    "reject": N_("Reject"),
}


@pages.get("/me", response_class=HTMLResponse)
def my_reports(
    session: SessionDep, request: Request, user: Warden, centre: CentreDep, filed: int | None = None
):
    """The warden's home: a big "new report" button and their reports with their status."""
    items = report_list(session, user, ReportFilter(limit=100))
    updates = latest_updates(session, items)
    return page(request, "my_reports.html", user, items=items, updates=updates, filed=filed)


def _form_page(
    request: Request,
    user: Actor,
    centre: Centre,
    values: dict[str, Any] | None = None,
    problems: list[Problem] | None = None,
    status: int = 200,
) -> Response:
    response = page(
        request,
        "report_form.html",
        user,
        categories=centre.categories.localized(page_language(request, user)),
        values=values or {},
        problems=problems or [],
        max_mb=centre.settings.reports.max_media_bytes / 1e6,
        map_config=background(centre),
    )
    response.status_code = status
    return response


@pages.get("/reports/new", response_class=HTMLResponse)
def new_report(request: Request, user: Warden, centre: CentreDep) -> Response:
    return _form_page(request, user, centre)


def _form_values(form: FormData) -> dict[str, Any]:
    return {k: v for k, v in form.multi_items() if isinstance(v, str) and k != "csrf_token"}


@pages.post("/reports/new", response_class=HTMLResponse, dependencies=[CSRF])
async def submit_report(request: Request, user: Warden, centre: CentreDep) -> Response:
    limit = centre.settings.reports.max_media_bytes
    # The body is bounded while it streams (`central.web.limits`): over the limit, the CSRF
    # check's read of the form already answers 413, on the error page.
    form = await request.form(max_files=1, max_fields=200)
    values = _form_values(form)
    submission = await form_submission(form, limit)
    try:
        document = await run_in_threadpool(file_report, centre, user, submission)
    except ReportRejected as exc:
        return _form_page(request, user, centre, values, exc.problems, exc.status)
    return RedirectResponse(f"/me?filed={document['service_request_id']}", status_code=303)


def _inbox_context(
    session: Session, centre: Centre, user: Actor, escalated_only: bool
) -> dict[str, Any]:
    items = inbox(session, user, escalated_only=escalated_only)
    fingerprint = inbox_fingerprint(session, user)
    now = centre.clock.now()
    waiting_urgent = [r for r in items if r.awaits_urgent_ack]
    return {
        "items": items,
        "waiting_urgent": len(waiting_urgent),
        "late_ids": {r.id for r in items if r.ack_deadline and r.ack_deadline <= now},
        "fingerprint": fingerprint,
        "escalated_only": escalated_only,
        "my_level": escalation_level_of(user.role),
    }


def _may_see_escalated(user: Actor) -> None:
    if escalation_level_of(user.role) == 0:
        raise Refused(403, N_("only a supervisor or an admin has an escalated queue"))


@pages.get("/reports/inbox", response_class=HTMLResponse)
def report_inbox(
    session: SessionDep, request: Request, user: ReportHandler, centre: CentreDep
) -> Response:
    """Open reports of the officer's squad, live: an urgent one appears without a reload."""
    return page(request, "report_inbox.html", user, **_inbox_context(session, centre, user, False))


@pages.get("/reports/escalated", response_class=HTMLResponse)
def escalated_reports(
    session: SessionDep, request: Request, user: ReportHandler, centre: CentreDep
) -> Response:
    """Urgent reports nobody acknowledged in time, escalated to this role (or beyond)."""
    _may_see_escalated(user)
    return page(request, "report_inbox.html", user, **_inbox_context(session, centre, user, True))


@pages.get("/reports/inbox/rows", response_class=HTMLResponse)
def inbox_rows(
    session: SessionDep,
    request: Request,
    user: ReportHandler,
    centre: CentreDep,
    escalated: bool = False,
) -> Response:
    """The inbox rows for the live refresh; 304 while nothing changed (ETag)."""
    if escalated:
        _may_see_escalated(user)
    context = _inbox_context(session, centre, user, escalated)
    etag = f'"{context["fingerprint"]}"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    response = page(request, "_report_rows.html", user, **context)
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = "no-cache"
    return response


def _label(report: WardenReport, categories: ReportCategories) -> list[tuple[str, str]]:
    """(question, answer) pairs of a report's attributes, in the category's order."""
    category = categories.get(report.service_code)
    answers = report.attributes or {}
    if category is None:
        return [(k, str(v)) for k, v in answers.items()]
    pairs = []
    for attribute in category.attributes:
        if attribute.code in answers:
            value = answers[attribute.code]
            shown = (
                ", ".join(attribute.label(v) for v in value)
                if isinstance(value, list)
                else attribute.label(str(value))
            )
            pairs.append((attribute.description, shown))
    return pairs


@pages.get("/reports/{report_id:int}", response_class=HTMLResponse)
def report_page(
    session: SessionDep, request: Request, report_id: int, user: UserDep, centre: CentreDep
) -> Response:
    report = get_visible(session, report_id, user)
    audit = list(report.audit)
    actions = []
    if may_handle(user, report):
        actions = [a for a, (sources, _) in TRANSITIONS.items() if report.state in sources]
    return page(
        request,
        "report.html",
        user,
        r=report,
        answers=_label(report, centre.categories.localized(page_language(request, user))),
        audit=audit,
        actions=actions,
        action_labels=ACTION_LABELS,
        can_handle=user.can(Permission.handle_reports),
    )


@pages.post("/reports/{report_id:int}/{action}", dependencies=[CSRF])
def report_action_form(
    session: SessionDep,
    report_id: int,
    action: str,
    user: UserDep,
    centre: CentreDep,
    note: Annotated[str, Form()] = "",
) -> Response:
    if action not in TRANSITIONS:
        raise Refused(404, N_("no action %(action)s"), action=action)
    act(session, report_id, action, user, centre.clock.now(), note)
    return RedirectResponse(f"/reports/{report_id}", status_code=303)


@pages.get("/reports/{report_id:int}/media")
def report_media(session: SessionDep, report_id: int, user: Caller, centre: CentreDep) -> Response:
    """The photo, for the pages (session) and for Open311 clients (`media_url`, API key)."""
    report = get_visible(session, report_id, user)
    sha, kind = report.media_sha256, report.media_type
    data = centre.evidence.get(sha) if sha else None
    if data is None or sha is None:
        raise Refused(404, N_("this report has no photo"))
    return stored_image(data, kind, f"report-{report_id}", sha)


class ActionIn(BaseModel):
    note: str = Field("", max_length=2000, description="Why; required to reject.")


@api.get("/reports/urgent", tags=["reports"])
def urgent_waiting(session: SessionDep, user: ReportHandler) -> dict[str, Any]:
    """Urgent reports nobody has acknowledged yet, among those this user handles: every
    page an officer or supervisor has open polls it and raises its banner."""
    waiting = [r.id for r in inbox(session, user) if r.awaits_urgent_ack]
    return {"waiting": len(waiting), "ids": waiting}


@api.post("/reports/{report_id}/{action}", dependencies=[CSRF])
def report_action(
    session: SessionDep,
    report_id: int,
    action: str,
    request: Request,
    user: UserDep,
    centre: CentreDep,
    body: ActionIn | None = None,
) -> dict[str, Any]:
    """`acknowledge`, `dispatch`, `resolve` or `reject` a report (officers and up)."""
    if action not in TRANSITIONS:
        raise HTTPException(404, f"no action {action!r}; one of {sorted(TRANSITIONS)}")
    now = centre.clock.now()
    report = act(session, report_id, action, user, now, body.note if body else "")
    return request_document(report, str(request.base_url))
