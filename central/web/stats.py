"""The numbers: the dashboard, the nodes, CSV exports of tickets, dissuasions and report
statistics."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from sqlalchemy import select

from central.episodes.stats import EXPORTS, Dashboard, dashboard, episodes_csv
from central.models import Node
from central.reports.stats import GROUPINGS, report_stats, report_stats_csv
from central.roles import Actor
from central.schemas import NodeOut
from central.text import N_
from central.web.auth import (
    CentreDep,
    DashboardViewer,
    Exporter,
    SessionDep,
)
from central.web.errors import Refused
from central.web.i18n import translations
from central.web.templating import page, page_language


class CSVResponse(PlainTextResponse):
    """Declares the exports' real type in the API document (the body is made elsewhere)."""

    media_type = "text/csv"


pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["stats"])


@pages.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(
    session: SessionDep,
    request: Request,
    user: DashboardViewer,
    centre: CentreDep,
    since: Annotated[date | None, Query(description="First day.")] = None,
    until: Annotated[date | None, Query(description="Last day, inclusive.")] = None,
) -> Response:
    """One chosen period (default: the last 14 days) for violations and reports alike."""
    now = centre.clock.now()
    until = until or now.date()
    since, until = _period(centre, since or until - timedelta(days=13), until)
    board = dashboard(session, now, (until - since).days + 1, until)
    nodes = list(session.scalars(select(Node).order_by(Node.node_id)))
    reports = report_stats(session, centre.categories, since, until)
    peak = max([max(d.dissuaded, d.violations) for d in board.days] + [1])
    return page(
        request,
        "dashboard.html",
        user,
        board=board,
        nodes=nodes,
        peak=peak,
        reports=reports,
        since=since,
        until=until,
    )


@pages.get("/export", response_class=HTMLResponse)
def export_page(
    request: Request,
    user: Exporter,
    centre: CentreDep,
) -> Response:
    today = centre.clock.now().date()
    since = today - timedelta(days=30)
    query = urlencode({"since": since.isoformat(), "until": today.isoformat()})
    return page(request, "export.html", user, since=since, until=today, query=query)


@api.get("/dashboard", response_model=Dashboard, tags=["stats"])
def get_dashboard(
    session: SessionDep,
    user: DashboardViewer,
    centre: CentreDep,
    days: Annotated[int, Query(ge=1, le=366)] = 14,
) -> Dashboard:
    return dashboard(session, centre.clock.now(), days)


@api.get("/nodes", response_model=list[NodeOut], tags=["stats"])
def nodes(
    session: SessionDep,
    user: DashboardViewer,
    centre: CentreDep,
) -> list[NodeOut]:
    return [NodeOut.model_validate(n) for n in session.scalars(select(Node))]


def _export_range(since: date, until: date) -> None:
    if until < since:
        raise Refused(422, N_("until is before since"))
    if (until - since).days > 366:
        raise Refused(422, N_("at most a year per export"))


@api.get("/export/tickets.csv", response_class=CSVResponse, tags=["export"])
def export_tickets(
    session: SessionDep, request: Request, since: date, until: date, user: Exporter
) -> Response:
    """Tickets decided between `since` and `until` (UTC days, inclusive); times in the
    deployment's zone, headers in the caller's language."""
    return _episodes_export(session, request, user, "tickets", since, until)


@api.get("/export/dissuasions.csv", response_class=CSVResponse, tags=["export"])
def export_dissuasions(
    session: SessionDep, request: Request, since: date, until: date, user: Exporter
) -> Response:
    """Episodes that ended as dissuaded between `since` and `until` (UTC days, inclusive)."""
    return _episodes_export(session, request, user, "dissuasions", since, until)


def _episodes_export(
    session: SessionDep, request: Request, user: Actor, kind: str, since: date, until: date
) -> Response:
    _export_range(since, until)
    zone = request.app.state.centre.settings.ui.zone
    translate = translations(page_language(request, user)).gettext
    body = episodes_csv(session, EXPORTS[kind], since, until, zone=zone, translate=translate)
    return _csv_response(body, f"{kind}-{since}-{until}.csv")


def _csv_response(body: str, filename: str) -> Response:
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _period(centre, since: date | None, until: date | None) -> tuple[date, date]:
    until = until or centre.clock.now().date()
    since = since or until - timedelta(days=29)
    if until < since:
        raise Refused(422, N_("until is before since"))
    if (until - since).days > 366:
        raise Refused(422, N_("at most a year at a time"))
    return since, until


@api.get("/reports/stats")
def report_statistics(
    session: SessionDep,
    user: DashboardViewer,
    centre: CentreDep,
    since: date | None = None,
    until: date | None = None,
) -> dict[str, Any]:
    """Per warden, township and category: counts, response times, dissuasions."""
    since, until = _period(centre, since, until)
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


@api.get("/export/reports.csv", response_class=CSVResponse, tags=["export"])
def export_report_stats(
    session: SessionDep,
    request: Request,
    user: Exporter,
    centre: CentreDep,
    since: Annotated[date | None, Query(description="First day (UTC).")] = None,
    until: Annotated[date | None, Query(description="Last day (UTC), inclusive.")] = None,
) -> Response:
    """The report statistics as CSV: one row per warden, township and category."""
    since, until = _period(centre, since, until)
    translate = translations(page_language(request, user)).gettext
    body = report_stats_csv(report_stats(session, centre.categories, since, until), translate)
    return _csv_response(body, f"report-stats-{since}-{until}.csv")
