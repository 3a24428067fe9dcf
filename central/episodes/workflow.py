"""The review workflow (design.md, "Central workflow").

    violation -> pending_review --(officer)--> ticketed | dismissed (reason required)
                       |
                       +--(deadline passes)--> escalated --(supervisor)--> ticketed | dismissed

Every change writes an audit row in the same transaction as the change itself, so there is
no state without its who/when/why. Functions take a session and an explicit `now`; callers
(the web layer, the scheduler) own the transaction and the clock.
"""

from __future__ import annotations

import enum
import hashlib
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.audit import move
from central.db import claim_overdue
from central.models import Episode, ReviewState
from central.roles import Actor, Permission, can
from central.text import N_, Said

SYSTEM_ACTOR = "system"
SCHEDULER_ACTOR = "scheduler"


class DismissReason(enum.StrEnum):
    wrong_vehicle = "wrong_vehicle"
    exempt_vehicle = "exempt_vehicle"
    loading_permit = "loading_permit"
    detector_error = "detector_error"
    other = "other"


DISMISS_REASON_LABELS: dict[DismissReason, str] = {
    DismissReason.wrong_vehicle: N_("Wrong vehicle"),
    DismissReason.exempt_vehicle: N_("Exempt vehicle (police, ambulance, fire…)"),
    DismissReason.loading_permit: N_("Loading permit"),
    DismissReason.detector_error: N_("Detector error"),
    DismissReason.other: N_("Other (explain)"),
}


class WorkflowError(Exception):
    """A decision the workflow refuses; `status` is the HTTP status the web layer uses,
    `said` the message, which a page says in its reader's language (API: English)."""

    status = 409

    def __init__(self, template: str, **values: object) -> None:
        self.said = Said(template, values)
        super().__init__(str(self.said))


class NotFound(WorkflowError):
    status = 404


class NotAllowed(WorkflowError):
    status = 403


class InvalidDecision(WorkflowError):
    status = 422


def _open_for(session: Session, episode_id: str, actor: Actor) -> Episode:
    episode = session.get(Episode, episode_id, with_for_update=True)
    if episode is None:
        raise NotFound(N_("no episode %(id)s"), id=episode_id)
    if not can(actor.role, Permission.decide):
        raise NotAllowed(N_("a %(role)s cannot decide reviews"), role=actor.role)
    if episode.state == ReviewState.escalated:
        if not can(actor.role, Permission.supervise):
            raise NotAllowed(N_("only a supervisor clears an escalated review"))
    elif episode.state != ReviewState.pending_review:
        raise WorkflowError(
            N_("episode %(id)s is %(state)s, not awaiting review"),
            id=episode_id,
            state=episode.state,
        )
    return episode


def ticket_number(episode_id: str, now: datetime) -> str:
    """Stable per episode (a retried request cannot mint a second ticket), readable on paper."""
    digest = hashlib.sha256(episode_id.encode()).hexdigest()[:8].upper()
    return f"RG-{now:%Y%m%d}-{digest}"


def issue_ticket(
    session: Session, episode_id: str, actor: Actor, now: datetime, note: str = ""
) -> Episode:
    episode = _open_for(session, episode_id, actor)
    move(session, episode, ReviewState.ticketed, actor.username, now, "ticket", note)
    episode.decided_by = actor.username
    episode.decided_at = now
    episode.ticket_number = ticket_number(episode.id, now)
    episode.claimed_by = episode.claimed_until = None
    return episode


def dismiss(
    session: Session,
    episode_id: str,
    actor: Actor,
    now: datetime,
    reason: str | None,
    note: str = "",
) -> Episode:
    try:
        why = DismissReason(reason or "")
    except ValueError:
        allowed = ", ".join(r.value for r in DismissReason)
        raise InvalidDecision(
            N_("a dismissal needs a reason, one of: %(allowed)s"), allowed=allowed
        ) from None
    note = (note or "").strip()
    if why == DismissReason.other and not note:
        raise InvalidDecision(N_("reason 'other' needs a note saying why"))
    episode = _open_for(session, episode_id, actor)
    move(session, episode, ReviewState.dismissed, actor.username, now, why.value, note)
    episode.decided_by = actor.username
    episode.decided_at = now
    episode.dismiss_reason = why.value
    episode.dismiss_note = note or None
    episode.claimed_by = episode.claimed_until = None
    return episode


class UndoTooLate(WorkflowError):
    status = 409


def undo_decision(
    session: Session, episode_id: str, actor: Actor, now: datetime, window_s: float
) -> Episode:
    """Take back a ticket or a dismissal within `window_s` of it: a slip of the key is not
    a ticket. Only the officer who decided may; the episode goes back to the state it was
    decided from (pending review, or escalated), and the audit keeps both rows: the
    decision and its undoing, noting the ticket number (or dismissal reason) withdrawn."""
    episode = session.get(Episode, episode_id, with_for_update=True)
    if episode is None:
        raise NotFound(N_("no episode %(id)s"), id=episode_id)
    if episode.state not in (ReviewState.ticketed, ReviewState.dismissed):
        raise WorkflowError(
            N_("episode %(id)s is %(state)s: no decision to undo"),
            id=episode_id,
            state=episode.state,
        )
    if episode.decided_by != actor.username:
        raise NotAllowed(N_("only %(who)s may undo their decision"), who=episode.decided_by)
    decided_at = episode.decided_at  # aware: models.UTCDateTime
    if decided_at is None or (now - decided_at).total_seconds() > window_s:
        raise UndoTooLate(
            N_("the decision on %(id)s is final (undo within %(s)g s)"), id=episode_id, s=window_s
        )
    decision = next(a for a in reversed(episode.audit) if a.to_state == episode.state)
    # the note names what was withdrawn: the ticket's number, or the dismissal's reason
    withdrawn = episode.ticket_number or episode.dismiss_reason or ""
    move(session, episode, decision.from_state, actor.username, now, "undo", withdrawn)
    episode.decided_by = episode.decided_at = episode.ticket_number = None
    episode.dismiss_reason = episode.dismiss_note = None
    return episode


def escalate_overdue(session: Session, now: datetime) -> list[str]:
    """Escalate every pending review whose deadline has passed; returns their ids.

    Run at start (a deadline that passed while the service was down) and by the scheduler;
    several workers may run it at once (`claim_overdue`)."""
    rows = claim_overdue(
        session, Episode, Episode.state, ReviewState.pending_review, Episode.review_deadline, now
    )
    for episode in rows:
        move(session, episode, ReviewState.escalated, SCHEDULER_ACTOR, now, "deadline_passed")
    return [episode.id for episode in rows]


def next_deadline(session: Session) -> datetime | None:
    return session.scalar(
        select(Episode.review_deadline)
        .where(Episode.state == ReviewState.pending_review)
        .order_by(Episode.review_deadline)
        .limit(1)
    )
