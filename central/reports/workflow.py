"""The warden-report workflow (design.md, "Central workflow").

    new --(officer)--> acknowledged --> dispatched --> resolved
     |                      |               |
     +------------------> rejected <--------+          (a note says why)

An urgent report that nobody acknowledges by its deadline escalates: to the supervisor, then,
after a further deadline, up the chain (`ReportCategories.escalation_chain`). Escalation does
not change the state (the report is still `new`, and any officer may still acknowledge it);
it widens who is told and writes an audit row. Like `central.episodes.workflow`, every change writes
its audit row in the same transaction, functions take a session and an explicit `now`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.audit import move
from central.db import claim_overdue
from central.episodes.workflow import (
    SCHEDULER_ACTOR,
    InvalidDecision,
    NotAllowed,
    NotFound,
    WorkflowError,
)
from central.models import MAX_REPORT_ID, ReportState, WardenReport
from central.reports.categories import ReportCategories
from central.reports.open311 import request_document
from central.roles import Actor, Permission, can
from central.text import N_

# (from states) -> to state, for each officer action.
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "acknowledge": ((ReportState.new,), ReportState.acknowledged),
    "dispatch": ((ReportState.new, ReportState.acknowledged), ReportState.dispatched),
    "resolve": (
        (ReportState.new, ReportState.acknowledged, ReportState.dispatched),
        ReportState.resolved,
    ),
    "reject": (
        (ReportState.new, ReportState.acknowledged, ReportState.dispatched),
        ReportState.rejected,
    ),
}


def may_handle(actor: Actor, report: WardenReport) -> bool:
    """Officers act on their own squad's reports (or all, without a squad); supervisors and
    admins on any."""
    if not can(actor.role, Permission.handle_reports):
        return False
    if actor.role == "officer" and actor.squad:
        return report.squad == actor.squad
    return True


def act(
    session: Session,
    report_id: int,
    action: str,
    actor: Actor,
    now: datetime,
    note: str = "",
) -> WardenReport:
    """Apply an officer action (`acknowledge`, `dispatch`, `resolve`, `reject`)."""
    if action not in TRANSITIONS:
        raise InvalidDecision(
            N_("unknown action %(action)s; one of %(actions)s"),
            action=action,
            actions=", ".join(sorted(TRANSITIONS)),
        )
    if not can(actor.role, Permission.handle_reports):
        raise NotAllowed(N_("a %(role)s cannot %(action)s reports"), role=actor.role, action=action)
    report = None
    if 1 <= report_id <= MAX_REPORT_ID:
        report = session.get(WardenReport, report_id, with_for_update=True)
    if report is None or not may_handle(actor, report):
        # Another squad's report is as unknown to this officer as one that does not exist
        # (reading it is a 404 too): ids and squads cannot be probed by the difference.
        raise NotFound(N_("no report %(id)s"), id=report_id)
    sources, target = TRANSITIONS[action]
    if report.state not in sources:
        raise WorkflowError(
            N_("report %(id)s is %(state)s; cannot %(action)s it"),
            id=report_id,
            state=report.state,
            action=action,
        )
    note = (note or "").strip()
    if action == "reject" and not note:
        raise InvalidDecision(N_("a rejection needs a note saying why"))
    if report.acknowledged_at is None:
        # Any first officer action counts as the acknowledgement: it stops the escalation.
        report.acknowledged_at = now
        report.acknowledged_by = actor.username
    report.ack_deadline = None
    if target in (ReportState.resolved, ReportState.rejected):
        report.closed_at = now
        report.closed_by = actor.username
    if note:
        report.status_notes = note
    move(session, report, target, actor.username, now, action, note)
    return report


def escalate_overdue_reports(
    session: Session, now: datetime, categories: ReportCategories
) -> list[dict[str, Any]]:
    """Escalate every `new` report past its acknowledgement deadline one step up the chain;
    returns their Open311 documents (for the alerts, sent after commit). Restart-safe like
    `central.episodes.workflow.escalate_overdue`: the database says what is due."""
    rows = claim_overdue(
        session, WardenReport, WardenReport.state, ReportState.new, WardenReport.ack_deadline, now
    )
    chain = categories.escalation_chain
    escalated: list[dict[str, Any]] = []
    for report in rows:
        level = report.escalation_level
        if level >= len(chain):
            report.ack_deadline = None  # the top of the chain has it; nothing further
            continue
        category = categories.get(report.service_code)
        step_s = category.next_step_s if category else 180.0
        report.escalation_level = level + 1
        report.escalated_to = chain[level]
        report.ack_deadline = now + timedelta(seconds=step_s) if level + 1 < len(chain) else None
        move(session, report, report.state, SCHEDULER_ACTOR, now, "escalated", chain[level])
        escalated.append(request_document(report))
    return escalated


def next_report_deadline(session: Session) -> datetime | None:
    return session.scalar(
        select(WardenReport.ack_deadline)
        .where(WardenReport.state == ReportState.new, WardenReport.ack_deadline.is_not(None))
        .order_by(WardenReport.ack_deadline)
        .limit(1)
    )
