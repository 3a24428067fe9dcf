"""Warden-report numbers per warden, township and category: how many, how fast they were
acknowledged and resolved, and how many dissuasions were done on the spot.

Computed in Python over one date range (like `central.episodes.stats`), so SQLite and
PostgreSQL give the same answers. Reports handled on the spot have no response time (nobody
had to respond) and count as dissuasions instead.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.episodes.reviews import day_start
from central.episodes.stats import _csv
from central.models import ReportState, WardenReport
from central.reports.categories import ReportCategories
from central.text import N_

GROUPINGS = ("warden", "township", "category")


@dataclass
class GroupStats:
    key: str
    reports: int = 0
    urgent: int = 0
    open: int = 0
    escalated: int = 0
    resolved: int = 0
    rejected: int = 0
    dissuasions: int = 0
    ack_s: list[float] = field(default_factory=list)
    resolve_s: list[float] = field(default_factory=list)

    @property
    def mean_ack_s(self) -> float | None:
        return statistics.fmean(self.ack_s) if self.ack_s else None

    @property
    def median_ack_s(self) -> float | None:
        return statistics.median(self.ack_s) if self.ack_s else None

    @property
    def mean_resolve_s(self) -> float | None:
        return statistics.fmean(self.resolve_s) if self.resolve_s else None

    @property
    def median_resolve_s(self) -> float | None:
        return statistics.median(self.resolve_s) if self.resolve_s else None


@dataclass(frozen=True)
class ReportStats:
    since: date
    until: date
    groups: dict[str, list[GroupStats]]  # grouping -> rows, biggest first
    total: GroupStats


def _key(report: WardenReport, grouping: str, categories: ReportCategories) -> str:
    if grouping == "warden":
        return report.reporter
    if grouping == "township":
        return report.township or "(none)"
    return report.service_name or report.service_code


def report_stats(
    session: Session, categories: ReportCategories, since: date, until: date
) -> ReportStats:
    """Reports filed in [since, until] (UTC days, inclusive)."""
    start, end = day_start(since), day_start(until + timedelta(days=1))
    rows = session.scalars(
        select(WardenReport).where(
            WardenReport.requested_at >= start, WardenReport.requested_at < end
        )
    ).all()
    on_the_spot = {c.code for c in categories.categories if c.handled_on_the_spot}
    groups: dict[str, dict[str, GroupStats]] = {g: {} for g in GROUPINGS}
    total = GroupStats("all")
    for report in rows:
        targets = [total]
        for grouping in GROUPINGS:
            key = _key(report, grouping, categories)
            targets.append(groups[grouping].setdefault(key, GroupStats(key)))
        spot = report.service_code in on_the_spot
        for stats in targets:
            _count(stats, report, spot)
    ordered = {
        g: sorted(rows.values(), key=lambda s: (-s.reports, s.key)) for g, rows in groups.items()
    }
    return ReportStats(since, until, ordered, total)


def _seconds(later: datetime | None, earlier: datetime) -> float | None:
    return (later - earlier).total_seconds() if later else None


def _count(stats: GroupStats, report: WardenReport, on_the_spot: bool) -> None:
    stats.reports += 1
    stats.urgent += int(report.urgent)
    stats.escalated += int(report.escalation_level > 0)
    if on_the_spot:
        stats.dissuasions += 1
        return
    if report.state in (ReportState.new, ReportState.acknowledged, ReportState.dispatched):
        stats.open += 1
    if (ack := _seconds(report.acknowledged_at, report.requested_at)) is not None:
        stats.ack_s.append(ack)
    if report.state == ReportState.resolved:
        stats.resolved += 1
        if (done := _seconds(report.closed_at, report.requested_at)) is not None:
            stats.resolve_s.append(done)
    if report.state == ReportState.rejected:
        stats.rejected += 1


CSV_HEADER = [
    N_("grouping"),
    N_("key"),
    N_("reports"),
    N_("urgent"),
    N_("open"),
    N_("escalated"),
    N_("resolved"),
    N_("rejected"),
    N_("dissuasions_on_the_spot"),
    N_("mean_ack_s"),
    N_("median_ack_s"),
    N_("mean_resolve_s"),
    N_("median_resolve_s"),
]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def report_stats_csv(stats: ReportStats, translate: Callable[[str], str] = str) -> str:
    """One row per (grouping, key), plus the total: a spreadsheet filters on `grouping`;
    headers through `translate` (the reader's language)."""
    rows = [(g, s) for g in GROUPINGS for s in stats.groups[g]] + [("total", stats.total)]
    return _csv(
        [translate(header) for header in CSV_HEADER],
        (
            [
                grouping,
                s.key,
                s.reports,
                s.urgent,
                s.open,
                s.escalated,
                s.resolved,
                s.rejected,
                s.dissuasions,
                _round(s.mean_ack_s),
                _round(s.median_ack_s),
                _round(s.mean_resolve_s),
                _round(s.median_resolve_s),
            ]
            for grouping, s in rows
        ),
    )
