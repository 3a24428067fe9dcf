"""Episode values for display: the overdue flag and the evidence with its URLs, computed
once for the pages and the API."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from central.episodes.reviews import evidence_steps
from central.models import Episode, Evidence, ReviewState
from central.schemas import AuditOut, EpisodeDetail, EpisodeOut, EvidenceRef, EvidenceStepOut


def is_overdue(episode: Episode, now: datetime) -> bool:
    if episode.state == ReviewState.escalated:
        return True
    return (
        episode.state == ReviewState.pending_review
        and episode.review_deadline is not None
        and episode.review_deadline <= now
    )


def evidence_url(episode_id: str, name: str) -> str:
    return f"/evidence/{episode_id}/{name}"


def episode_out(episode: Episode, now: datetime) -> EpisodeOut:
    out = EpisodeOut.model_validate(episode)
    out.overdue = is_overdue(episode, now)
    return out


def evidence_ref(ref: str, row: Evidence | None) -> EvidenceRef:
    return EvidenceRef(
        reference=ref,
        url=evidence_url(row.episode_id, row.name) if row else None,
        sha256=row.sha256 if row else None,
    )


def episode_detail(session: Session, episode: Episode, now: datetime) -> EpisodeDetail:
    steps = [
        EvidenceStepOut(
            title=step.title,
            kind=step.kind,
            n=step.n,
            at=step.at,
            at_time=step.at_time,
            announcement=step.announcement,
            pictures=[evidence_ref(ref, row) for ref, row in step.pictures],
            voice=evidence_ref(*step.voice) if step.voice else None,
        )
        for step in evidence_steps(session, episode)
    ]
    return EpisodeDetail(
        **episode_out(episode, now).model_dump(),
        evidence=steps,
        audit=[AuditOut.model_validate(a) for a in episode.audit],
        record=episode.snapshot,
    )
