"""Every state change at the centre is one audit row: who moved what, from which state to
which, when and why. Episodes (the review workflow) and warden reports go through the same
function, so neither can change state without leaving its row."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from central.models import AuditEntry, Episode, WardenReport


def move(
    session: Session,
    subject: Episode | WardenReport,
    to_state: str,
    actor: str,
    now: datetime,
    reason: str = "",
    note: str = "",
) -> AuditEntry:
    """Move the episode or report to `to_state` (or record an event on it, when it is there
    already) and append its audit row, in one step."""
    is_report = isinstance(subject, WardenReport)
    entry = AuditEntry(
        episode_id=None if is_report else subject.id,
        report_id=subject.id if is_report else None,
        subject="report" if is_report else "episode",
        from_state=subject.state or None,  # a report being filed has no state yet
        to_state=to_state,
        actor=actor,
        at=now,
        reason=reason,
        note=note,
    )
    session.add(entry)
    subject.state = to_state
    subject.updated_at = now
    return entry
