"""Read side of the review workflow: the queue, filters, one event with its evidence.

The queue is sorted by deadline (the most urgent first); `queue_fingerprint` is what an open
page polls to learn, cheaply, whether it must redraw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from central.episodes.workflow import NotAllowed, NotFound
from central.models import OPEN_REVIEW_STATES, Episode, Evidence, ReviewState
from central.roles import Actor, Permission
from central.text import N_
from mqtt.payloads import AnnouncementRecord, EpisodeRecord


@dataclass(frozen=True)
class ReviewFilter:
    """Filters of the queue and the lists; every field optional."""

    site: str | None = None  # the edge node (one node per site)
    camera: str | None = None
    states: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None  # inclusive
    plate: str | None = None  # any part of it, spacing and separators ignored: "a123"
    limit: int = 200
    offset: int = 0

    def apply(self, query: Select) -> Select:
        if self.plate and (wanted := plate_key(self.plate)):
            stored = func.upper(Episode.plate)
            for separator in PLATE_SEPARATORS:
                stored = func.replace(stored, separator, "")
            query = query.where(stored.contains(wanted, autoescape=True))
        if self.site:
            query = query.where(Episode.node_id == self.site)
        if self.camera:
            query = query.where(Episode.camera_id == self.camera)
        if self.states:
            query = query.where(Episode.state.in_(self.states))
        if self.since:
            query = query.where(Episode.first_seen_at >= day_start(self.since))
        if self.until:
            query = query.where(Episode.first_seen_at < day_start(self.until + timedelta(1)))
        return query


PLATE_SEPARATORS = ("·", "•", " ", "-", ".")


def plate_key(text: str) -> str:
    """A plate as typed by an officer, as compared: 京A·6K327, 京a 6k327 and A6K3 all
    search the same way."""
    text = text.strip().upper()
    for separator in PLATE_SEPARATORS:
        text = text.replace(separator, "")
    return text


def may_see(actor: Actor, episode: Episode) -> bool:
    """Which episodes a user may see: every reviewer sees every episode. An escalated one
    is the supervisors' to decide (`workflow`), but an officer may still open it, read
    only: it may be the car they were about to decide. The one place the pages, the API
    and the lists ask."""
    return actor.can(Permission.view_reviews)


def visible_episode(session: Session, episode_id: str, actor: Actor) -> Episode:
    """The episode, if `actor` may see it; NotFound (404) or NotAllowed (403) otherwise."""
    episode = session.get(Episode, episode_id)
    if episode is None:
        raise NotFound(N_("no episode %(id)s"), id=episode_id)
    if not may_see(actor, episode):
        raise NotAllowed(N_("your role may not read reviews"))
    return episode


def claim(
    session: Session, episode_id: str, actor: Actor, now: datetime, seconds: float
) -> str | None:
    """`actor` opens the review to decide it: it shows as theirs for `seconds`, unless a
    colleague's claim still runs. Returns that colleague's login, or None when it is the
    actor's now. A claim informs (two officers do not both start on the same car); the
    workflow's row lock is what stops a second decision."""
    episode = session.get(Episode, episode_id, with_for_update=True)
    if episode is None:
        raise NotFound(N_("no episode %(id)s"), id=episode_id)
    if (colleague := claimed_by_other(episode, actor, now)) is not None:
        return colleague
    episode.claimed_by = actor.username
    episode.claimed_until = now + timedelta(seconds=seconds)
    return None


def claimed_by_other(episode: Episode, actor: Actor, now: datetime) -> str | None:
    """The colleague looking at this review now, if any (the queue, and `claim`)."""
    until = episode.claimed_until  # aware: models.UTCDateTime
    if episode.claimed_by in (None, actor.username) or until is None or until <= now:
        return None
    return episode.claimed_by


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def review_queue(session: Session, flt: ReviewFilter, *, supervisor: bool) -> list[Episode]:
    """Open reviews by deadline. Escalated items are in it only for a supervisor."""
    visible = OPEN_REVIEW_STATES if supervisor else (ReviewState.pending_review,)
    states = tuple(s for s in (flt.states or visible) if s in visible)
    query = flt.apply(select(Episode)).where(Episode.state.in_(states or ("-",)))
    query = query.order_by(Episode.review_deadline, Episode.id).limit(flt.limit)
    return list(session.scalars(query))


def episode_list(session: Session, flt: ReviewFilter) -> list[Episode]:
    """One page of episodes (`limit` from `offset`), newest first."""
    query = flt.apply(select(Episode)).order_by(Episode.first_seen_at.desc(), Episode.id)
    return list(session.scalars(query.limit(flt.limit).offset(flt.offset)))


def episode_count(session: Session, flt: ReviewFilter) -> int:
    return session.scalar(flt.apply(select(func.count()).select_from(Episode))) or 0


def filter_choices(session: Session) -> tuple[list[str], list[str]]:
    """The sites and cameras that have episodes: the filters offer them as choices."""
    sites = session.scalars(select(Episode.node_id).distinct().order_by(Episode.node_id))
    cameras = session.scalars(select(Episode.camera_id).distinct().order_by(Episode.camera_id))
    return list(sites), list(cameras)


def queue_fingerprint(session: Session, *, supervisor: bool) -> str:
    """Changes whenever the open queue does, across all workers (it is read from the DB):
    a new review, a decision and an escalation all touch `updated_at` of a reviewed episode."""
    visible = OPEN_REVIEW_STATES if supervisor else (ReviewState.pending_review,)
    count = session.scalar(select(func.count()).where(Episode.state.in_(visible)))
    latest, claimed = session.execute(
        select(func.max(Episode.updated_at), func.max(Episode.claimed_until)).where(
            Episode.violation_at.is_not(None)
        )
    ).one()
    return f"{count}-{latest.isoformat() if latest else 0}-{claimed.isoformat() if claimed else 0}"


@dataclass
class EvidenceStep:
    """One step of the ladder with the pictures taken at it (and, for a warning that was
    played, the clip the driver heard)."""

    title: str
    at: float | None  # camera clock seconds
    pictures: list[tuple[str, Evidence | None]] = field(default_factory=list)  # (ref, row)
    announcement: AnnouncementRecord | None = None
    voice: tuple[str, Evidence | None] | None = None  # the warning as the speaker played it
    kind: str = "other"  # warning, violation, other
    n: int | None = None  # the warning's number
    at_time: datetime | None = None  # wall clock (UTC) of `at`


def wall_clock(record: EpisodeRecord, camera_s: float | None) -> datetime | None:
    """The wall-clock time of camera second `camera_s`: the record's own event happened at
    `time` on the camera clock and at `occurred_at` on the wall, and the two clocks run
    together within one episode."""
    if camera_s is None or record.occurred_at is None:
        return None
    return record.occurred_at - timedelta(seconds=record.time - camera_s)


def evidence_steps(session: Session, episode: Episode) -> list[EvidenceStep]:
    """The episode's evidence grouped by warning, then the rest (the violation's pictures)."""
    rows = {
        row.name: row
        for row in session.scalars(
            select(Evidence).where(
                Evidence.node_id == episode.node_id, Evidence.episode_id == episode.id
            )
        )
    }

    def picture(ref: str) -> tuple[str, Evidence | None]:
        name = ref.split("/", 1)[1] if "/" in ref else ref
        return ref, rows.get(name)

    record = episode.snapshot
    steps: list[EvidenceStep] = []
    seen: set[str] = set()
    for warning in record.warnings:
        seen.update(warning.evidence)
        voice = warning.announcement.clip_evidence if warning.announcement else None
        if voice:
            seen.add(voice)
        steps.append(
            EvidenceStep(
                title=f"Warning {warning.n}",
                at=warning.at,
                pictures=[picture(r) for r in warning.evidence],
                announcement=warning.announcement,
                voice=picture(voice) if voice else None,
                kind="warning",
                n=warning.n,
                at_time=wall_clock(record, warning.at),
            )
        )
    rest = [r for r in record.evidence if r not in seen]
    referenced = {r.split("/", 1)[-1] for r in seen | set(rest)}
    rest += [f"{episode.id}/{n}" for n in sorted(rows) if n not in referenced]
    if rest:
        kind = "violation" if episode.violation_at else "other"
        title = "Violation" if episode.violation_at else "Other evidence"
        at = record.violation_at
        pictures = [picture(r) for r in rest]
        steps.append(EvidenceStep(title, at, pictures, kind=kind, at_time=wall_clock(record, at)))
    return steps
