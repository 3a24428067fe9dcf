"""Numbers for the dashboard and the CSV exports.

Counting is done in Python over one date range rather than with dialect-specific date
functions, so SQLite and PostgreSQL give the same answers from the same code.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.episodes.reviews import day_start
from central.models import Episode, Node, ReviewState

REVIEWED_STATES = (
    ReviewState.pending_review,
    ReviewState.escalated,
    ReviewState.ticketed,
    ReviewState.dismissed,
)


@dataclass(frozen=True)
class DayCounts:
    day: date
    dissuaded: int
    violations: int
    tickets: int
    expired: int  # still there when the schedule ended: neither success nor violation

    @property
    def dissuasion_rate(self) -> float | None:
        total = self.dissuaded + self.violations
        return self.dissuaded / total if total else None


@dataclass(frozen=True)
class Dashboard:
    days: list[DayCounts]
    dissuaded: int
    violations: int
    tickets: int
    expired: int
    dismissed: int
    pending: int
    overdue: int  # escalated, plus pending past the deadline the scheduler has not yet seen
    escalated: int
    nodes_online: list[str]
    nodes_offline: list[str]

    @property
    def dissuasion_rate(self) -> float | None:
        total = self.dissuaded + self.violations
        return self.dissuaded / total if total else None


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


def dashboard(session: Session, now: datetime, days: int = 14) -> Dashboard:
    first = now.date() - timedelta(days=days - 1)
    start = day_start(first)
    per_day = {first + timedelta(n): [0, 0, 0, 0] for n in range(days)}
    rows = session.execute(
        select(Episode.state, Episode.ended_at, Episode.violation_at, Episode.decided_at).where(
            Episode.state.in_((ReviewState.dissuaded, ReviewState.expired, *REVIEWED_STATES)),
            Episode.updated_at >= start,
        )
    ).all()
    for state, ended_at, violation_at, decided_at in rows:
        if state == ReviewState.dissuaded and (d := _day(ended_at)) in per_day:
            per_day[d][0] += 1
        if state in REVIEWED_STATES and (d := _day(violation_at)) in per_day:
            per_day[d][1] += 1
        if state == ReviewState.ticketed and (d := _day(decided_at)) in per_day:
            per_day[d][2] += 1
        if state == ReviewState.expired and (d := _day(ended_at)) in per_day:
            per_day[d][3] += 1
    series = [DayCounts(d, *counts) for d, counts in per_day.items()]
    by_state = dict(
        session.execute(select(Episode.state, func.count()).group_by(Episode.state)).all()
    )
    late = session.scalar(
        select(func.count()).where(
            Episode.state == ReviewState.pending_review, Episode.review_deadline <= now
        )
    )
    nodes = session.execute(select(Node.node_id, Node.online).order_by(Node.node_id)).all()
    return Dashboard(
        days=series,
        dissuaded=sum(d.dissuaded for d in series),
        violations=sum(d.violations for d in series),
        tickets=sum(d.tickets for d in series),
        expired=sum(d.expired for d in series),
        dismissed=by_state.get(ReviewState.dismissed, 0),
        pending=by_state.get(ReviewState.pending_review, 0),
        overdue=by_state.get(ReviewState.escalated, 0) + (late or 0),
        escalated=by_state.get(ReviewState.escalated, 0),
        nodes_online=[n for n, online in nodes if online],
        nodes_offline=[n for n, online in nodes if not online],
    )


def _range(since: date, until: date) -> tuple[datetime, datetime]:
    return day_start(since), day_start(until + timedelta(days=1))


def _csv(header: list[str], rows: Iterable[list[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return buffer.getvalue()


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def tickets_csv(session: Session, since: date, until: date) -> str:
    """Tickets decided in [since, until] (UTC days), in decision order."""
    start, end = _range(since, until)
    episodes = session.scalars(
        select(Episode)
        .where(
            Episode.state == ReviewState.ticketed,
            Episode.decided_at >= start,
            Episode.decided_at < end,
        )
        .order_by(Episode.decided_at)
    )
    header = [
        "ticket_number",
        "episode_id",
        "decided_at",
        "decided_by",
        "site",
        "camera",
        "zone_id",
        "zone_name",
        "vehicle_class",
        "plate",
        "violation_at",
        "warnings",
    ]
    return _csv(
        header,
        (
            [
                e.ticket_number,
                e.id,
                _iso(e.decided_at),
                e.decided_by,
                e.node_id,
                e.camera_id,
                e.zone_id,
                e.zone_name,
                e.vehicle_class,
                e.plate,
                _iso(e.violation_at),
                len(e.snapshot.warnings),
            ]
            for e in episodes
        ),
    )


def dissuasions_csv(session: Session, since: date, until: date) -> str:
    """Episodes ended as dissuaded in [since, until] (UTC days): the warnings that worked."""
    start, end = _range(since, until)
    episodes = session.scalars(
        select(Episode)
        .where(
            Episode.state == ReviewState.dissuaded,
            Episode.ended_at >= start,
            Episode.ended_at < end,
        )
        .order_by(Episode.ended_at)
    )
    header = [
        "episode_id",
        "ended_at",
        "site",
        "camera",
        "zone_id",
        "zone_name",
        "vehicle_class",
        "plate",
        "warnings",
    ]
    return _csv(
        header,
        (
            [
                e.id,
                _iso(e.ended_at),
                e.node_id,
                e.camera_id,
                e.zone_id,
                e.zone_name,
                e.vehicle_class,
                e.plate,
                len(e.snapshot.warnings),
            ]
            for e in episodes
        ),
    )
