"""Numbers for the dashboard and the CSV exports.

Counting is done in Python over one date range rather than with dialect-specific date
functions, so SQLite and PostgreSQL give the same answers from the same code.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

from pydantic import BaseModel, ConfigDict, computed_field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.clock import utc
from central.episodes.reviews import day_start
from central.models import Episode, Node, ReviewState
from central.text import N_

REVIEWED_STATES = (
    ReviewState.pending_review,
    ReviewState.escalated,
    ReviewState.ticketed,
    ReviewState.dismissed,
)


class DayCounts(BaseModel):
    """One day of the dashboard (also its API shape)."""

    model_config = ConfigDict(frozen=True)

    day: date
    dissuaded: int
    violations: int
    tickets: int
    expired: int  # still there when the schedule ended: neither success nor violation
    dismissed: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def dissuasion_rate(self) -> float | None:
        total = self.dissuaded + self.violations
        return self.dissuaded / total if total else None


class Dashboard(BaseModel):
    """The dashboard's numbers, for the page and the API alike."""

    model_config = ConfigDict(frozen=True)

    days: list[DayCounts]
    dissuaded: int
    violations: int
    tickets: int
    expired: int
    dismissed: int  # decided as dismissed in the period
    pending: int
    overdue: int  # escalated, plus pending past the deadline the scheduler has not yet seen
    escalated: int
    nodes_online: list[str]
    nodes_offline: list[str]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def dissuasion_rate(self) -> float | None:
        total = self.dissuaded + self.violations
        return self.dissuaded / total if total else None


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


def dashboard(
    session: Session, now: datetime, days: int = 14, last: date | None = None
) -> Dashboard:
    """The `days` days up to `last` (default: today), UTC days; what is open is as of now."""
    last = last or now.date()
    first = last - timedelta(days=days - 1)
    start = day_start(first)
    per_day = {first + timedelta(n): [0, 0, 0, 0, 0] for n in range(days)}
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
        if state == ReviewState.dismissed and (d := _day(decided_at)) in per_day:
            per_day[d][4] += 1
    series = [
        DayCounts(day=d, dissuaded=a, violations=b, tickets=c, expired=e, dismissed=x)
        for d, (a, b, c, e, x) in per_day.items()
    ]
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
        dismissed=sum(d.dismissed for d in series),
        pending=by_state.get(ReviewState.pending_review, 0),
        overdue=by_state.get(ReviewState.escalated, 0) + (late or 0),
        escalated=by_state.get(ReviewState.escalated, 0),
        nodes_online=[n for n, online in nodes if online],
        nodes_offline=[n for n, online in nodes if not online],
    )


def _range(since: date, until: date) -> tuple[datetime, datetime]:
    return day_start(since), day_start(until + timedelta(days=1))


def _csv(header: list[str], rows: Iterable[list[object]]) -> str:
    """CSV text; a UTF-8 byte-order mark first, so Excel on Chinese Windows reads 京A6K327
    as UTF-8 and not in the system code page."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return buffer.getvalue()


def _iso(value: datetime | None, zone: tzinfo = UTC) -> str:
    """A stored time in `zone`, with its offset: 2026-12-03T20:00:00+08:00."""
    return utc(value).astimezone(zone).isoformat() if value is not None else ""


@dataclass(frozen=True)
class EpisodeExport:
    """One CSV export of episodes: those that reached `state` with `moment` in the range,
    in that order, one row each of `columns` (header, value)."""

    state: ReviewState
    moment: str  # the Episode attribute the range applies to
    columns: tuple[tuple[str, Callable[[Episode, tzinfo], object]], ...]


_PLACE: tuple[tuple[str, Callable[[Episode, tzinfo], object]], ...] = (
    (N_("site"), lambda e, _z: e.node_id),
    (N_("camera"), lambda e, _z: e.camera_id),
    (N_("zone_id"), lambda e, _z: e.zone_id),
    (N_("zone_name"), lambda e, _z: e.zone_name),
    (N_("vehicle_class"), lambda e, _z: e.vehicle_class),
    (N_("plate"), lambda e, _z: e.plate),
)
EXPORTS: dict[str, EpisodeExport] = {
    # tickets decided in the range: what the office books
    "tickets": EpisodeExport(
        ReviewState.ticketed,
        "decided_at",
        (
            (N_("ticket_number"), lambda e, _z: e.ticket_number),
            (N_("episode_id"), lambda e, _z: e.id),
            (N_("decided_at"), lambda e, z: _iso(e.decided_at, z)),
            (N_("decided_by"), lambda e, _z: e.decided_by),
            *_PLACE,
            (N_("violation_at"), lambda e, z: _iso(e.violation_at, z)),
            (N_("warnings"), lambda e, _z: len(e.snapshot.warnings)),
        ),
    ),
    # episodes ended as dissuaded in the range: the warnings that worked
    "dissuasions": EpisodeExport(
        ReviewState.dissuaded,
        "ended_at",
        (
            (N_("episode_id"), lambda e, _z: e.id),
            (N_("ended_at"), lambda e, z: _iso(e.ended_at, z)),
            *_PLACE,
            (N_("warnings"), lambda e, _z: len(e.snapshot.warnings)),
        ),
    ),
}


def episodes_csv(
    session: Session,
    export: EpisodeExport,
    since: date,
    until: date,
    *,
    zone: tzinfo = UTC,
    translate: Callable[[str], str] = str,
) -> str:
    """`export` over [since, until] (UTC days), times in `zone`, headers through
    `translate` (the reader's language)."""
    start, end = _range(since, until)
    moment = getattr(Episode, export.moment)
    episodes = session.scalars(
        select(Episode)
        .where(Episode.state == export.state, moment >= start, moment < end)
        .order_by(moment)
    )
    return _csv(
        [translate(header) for header, _value in export.columns],
        ([value(e, zone) for _header, value in export.columns] for e in episodes),
    )
