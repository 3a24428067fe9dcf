"""Read side of warden reports: who sees which, the officers' inbox, the Open311 list filter,
and the fingerprint an open inbox polls to learn cheaply whether it must redraw.

Visibility is one function, used by the pages and both APIs alike: a warden sees only their
own reports; an officer their squad's (all, without a squad); supervisors and admins all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from central.episodes.workflow import NotAllowed, NotFound
from central.models import (
    MAX_REPORT_ID,
    OPEN_REPORT_STATES,
    AuditEntry,
    ReportState,
    WardenReport,
)
from central.reports.workflow import TRANSITIONS
from central.roles import Actor, Permission, can
from central.text import N_


def is_report_id(value: int) -> bool:
    return 1 <= value <= MAX_REPORT_ID


def visible(query: Select, viewer: Actor) -> Select:
    if can(viewer.role, Permission.handle_reports):
        if viewer.role == "officer" and viewer.squad:
            return query.where(WardenReport.squad == viewer.squad)
        return query
    if can(viewer.role, Permission.file_reports):
        return query.where(WardenReport.reporter == viewer.username)
    return query.where(WardenReport.id == -1)


def get_visible(session: Session, report_id: int, viewer: Actor) -> WardenReport:
    """The report if this viewer may see it. A warden asking for someone else's report gets
    404, not 403: whether a report id exists is none of their business."""
    report = None
    if is_report_id(report_id):
        report = session.scalar(
            visible(select(WardenReport), viewer).where(WardenReport.id == report_id)
        )
    if report is None:
        if not (
            can(viewer.role, Permission.handle_reports) or can(viewer.role, Permission.file_reports)
        ):
            raise NotAllowed(N_("your role may not read reports"))
        raise NotFound(N_("no report %(id)s"), id=report_id)
    return report


@dataclass(frozen=True)
class ReportFilter:
    """Open311's list filters (`service_request_id`, `service_code`, `status`, dates)."""

    ids: tuple[int, ...] = ()
    service_codes: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    limit: int = 1000

    def apply(self, query: Select) -> Select:
        if self.ids:
            query = query.where(WardenReport.id.in_(self.ids))
        if self.service_codes:
            query = query.where(WardenReport.service_code.in_(self.service_codes))
        if self.states:
            query = query.where(WardenReport.state.in_(self.states))
        if self.start:
            query = query.where(WardenReport.requested_at >= self.start)
        if self.end:
            query = query.where(WardenReport.requested_at <= self.end)
        return query


def report_list(session: Session, viewer: Actor, flt: ReportFilter) -> list[WardenReport]:
    query = flt.apply(visible(select(WardenReport), viewer))
    query = query.order_by(WardenReport.requested_at.desc(), WardenReport.id.desc())
    return list(session.scalars(query.limit(flt.limit)))


def inbox(session: Session, viewer: Actor, *, escalated_only: bool = False) -> list[WardenReport]:
    """Open reports for an officer: unacknowledged urgent ones first (by deadline), then the
    rest, oldest first. `escalated_only`: those escalated to the viewer's role or beyond."""
    query = visible(select(WardenReport), viewer).where(WardenReport.state.in_(OPEN_REPORT_STATES))
    if escalated_only:
        query = query.where(WardenReport.escalation_level >= escalation_level_of(viewer.role))
    waiting = case((WardenReport.state == ReportState.new, 0), else_=1)
    urgent_first = case((WardenReport.urgent, 0), else_=1)
    query = query.order_by(
        waiting, urgent_first, WardenReport.escalation_level.desc(), WardenReport.requested_at
    )
    return list(session.scalars(query.limit(500)))


def escalation_level_of(role: str) -> int:
    """The escalation level at which a report reaches `role` (supervisor 1, admin 2)."""
    return {"supervisor": 1, "admin": 2}.get(role, 0)


def inbox_fingerprint(session: Session, viewer: Actor) -> str:
    """Changes whenever a visible report does (a new one, an action, an escalation: they all
    touch `updated_at`), across all workers, since it is read from the database."""
    query = visible(select(func.count(), func.max(WardenReport.updated_at)), viewer)
    count, latest = session.execute(query).one()
    return f"r{count}-{latest.isoformat() if latest else 0}"


def latest_updates(session: Session, reports: list[WardenReport]) -> dict[int, AuditEntry]:
    """The newest officer action on each report (not its filing, not an escalation): what
    the warden who filed it wants to know, with the officer's note."""
    ids = [r.id for r in reports]
    if not ids:
        return {}
    rows = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.report_id.in_(ids), AuditEntry.reason.in_(tuple(TRANSITIONS)))
        .order_by(AuditEntry.id)
    )
    return {row.report_id: row for row in rows if row.report_id is not None}
