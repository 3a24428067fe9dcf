"""The JSON API for officers' actions on warden reports and the report statistics.

Filing and reading reports is the Open311 API (`central.web.open311`); what Open311 has no
verb for (acknowledge, dispatch, resolve, reject) is here, under the same session + CSRF
rules as the rest of `/api/v1`. The role check is in the workflow itself, so a warden gets
403 here exactly as on the pages.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field

from central.open311 import request_document
from central.report_stats import GROUPINGS, report_stats, report_stats_csv
from central.report_workflow import TRANSITIONS, act
from central.web.auth import CSRF, AnyUser, CentreDep, DashboardViewer, Exporter

router = APIRouter(prefix="/api/v1", tags=["reports"])


class ActionIn(BaseModel):
    note: str = Field("", max_length=2000, description="Why; required to reject.")


@router.post("/reports/{report_id}/{action}", dependencies=[CSRF])
def report_action(
    report_id: int,
    action: str,
    request: Request,
    user: AnyUser,
    centre: CentreDep,
    body: ActionIn | None = None,
) -> dict[str, Any]:
    """`acknowledge`, `dispatch`, `resolve` or `reject` a report (officers and up)."""
    if action not in TRANSITIONS:
        raise HTTPException(404, f"no action {action!r}; one of {sorted(TRANSITIONS)}")
    now = centre.clock.now()
    with centre.db.session() as session:
        report = act(session, report_id, action, user, now, body.note if body else "")
        return request_document(report, str(request.base_url))


def _period(centre, since: date | None, until: date | None) -> tuple[date, date]:
    until = until or centre.clock.now().date()
    since = since or until - timedelta(days=29)
    if until < since:
        raise HTTPException(422, "until is before since")
    if (until - since).days > 366:
        raise HTTPException(422, "at most a year at a time")
    return since, until


@router.get("/reports/stats")
def stats(
    user: DashboardViewer,
    centre: CentreDep,
    since: date | None = None,
    until: date | None = None,
) -> dict[str, Any]:
    """Per warden, township and category: counts, response times, dissuasions."""
    since, until = _period(centre, since, until)
    with centre.db.session() as session:
        result = report_stats(session, centre.categories, since, until)

    def row(s) -> dict[str, Any]:
        return {
            "key": s.key,
            "reports": s.reports,
            "urgent": s.urgent,
            "open": s.open,
            "escalated": s.escalated,
            "resolved": s.resolved,
            "rejected": s.rejected,
            "dissuasions_on_the_spot": s.dissuasions,
            "mean_ack_s": s.mean_ack_s,
            "median_ack_s": s.median_ack_s,
            "mean_resolve_s": s.mean_resolve_s,
            "median_resolve_s": s.median_resolve_s,
        }

    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "total": row(result.total),
        **{g: [row(s) for s in result.groups[g]] for g in GROUPINGS},
    }


@router.get("/export/reports.csv", response_class=PlainTextResponse, tags=["export"])
def export_report_stats(
    user: Exporter,
    centre: CentreDep,
    since: Annotated[date | None, Query(description="First day (UTC).")] = None,
    until: Annotated[date | None, Query(description="Last day (UTC), inclusive.")] = None,
) -> Response:
    """The report statistics as CSV: one row per warden, township and category."""
    since, until = _period(centre, since, until)
    with centre.db.session() as session:
        body = report_stats_csv(report_stats(session, centre.categories, since, until))
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="report-stats-{since}-{until}.csv"'},
    )
