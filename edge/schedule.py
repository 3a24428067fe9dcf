"""When a zone's rule applies: "no parking 07:00-19:00 weekdays" as data, not code.

Written by hand because it is tiny and the phrases are ours; a cron library would make
operators write `0 7 * * 1-5` for something a sign on the pole says in words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time

_DAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_DAY_SETS = {
    "daily": frozenset(range(7)),
    "everyday": frozenset(range(7)),
    "weekdays": frozenset(range(5)),
    "weekends": frozenset({5, 6}),
}
_RULE = re.compile(
    r"^\s*(?P<start>\d{1,2}:\d{2})\s*[-–]\s*(?P<end>\d{1,2}:\d{2})\s*(?P<days>[a-z,\- ]*)\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ScheduleRule:
    """One time window on a set of weekdays; a window ending before it starts crosses midnight."""

    start: time
    end: time
    days: frozenset[int]

    def covers(self, moment: datetime) -> bool:
        t, day = moment.time(), moment.weekday()
        if self.start <= self.end:
            return day in self.days and self.start <= t < self.end
        # Overnight window: the evening part belongs to `day`, the morning part to the day before.
        return (day in self.days and t >= self.start) or (
            (day - 1) % 7 in self.days and t < self.end
        )


def parse_rule(text: str) -> ScheduleRule | None:
    """Parse "07:00-19:00 weekdays" / "22:00-06:00 daily" / "08:00-12:00 mon,wed-fri".

    Returns None for "always". Raises ValueError with the reason for anything else.
    """
    if text.strip().lower() in {"always", "24/7", "all day"}:
        return None
    match = _RULE.match(text)
    if not match:
        raise ValueError(f"cannot read schedule {text!r}; write e.g. '07:00-19:00 weekdays'")
    start, end = (_parse_time(match[k]) for k in ("start", "end"))
    if start == end:
        raise ValueError(f"schedule {text!r} starts and ends at the same time")
    return ScheduleRule(start, end, _parse_days(match["days"] or "daily"))


def _parse_time(text: str) -> time:
    hours, minutes = (int(p) for p in text.split(":"))
    if hours == 24 and minutes == 0:
        return time(23, 59, 59, 999999)
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise ValueError(f"{text!r} is not a time of day")
    return time(hours, minutes)


def _parse_days(text: str) -> frozenset[int]:
    days: set[int] = set()
    for part in re.split(r"[,\s]+", text.strip().lower()):
        if not part:
            continue
        if part in _DAY_SETS:
            days |= _DAY_SETS[part]
        elif "-" in part:
            first, last = (_day_index(p) for p in part.split("-", 1))
            days |= {(first + i) % 7 for i in range((last - first) % 7 + 1)}
        else:
            days.add(_day_index(part))
    return frozenset(days)


def _day_index(name: str) -> int:
    key = name[:3]
    if key not in _DAY_NAMES:
        raise ValueError(f"{name!r} is not a day; use mon..sun, weekdays, weekends or daily")
    return _DAY_NAMES.index(key)


def schedule_active(rules: list[ScheduleRule | None], moment: datetime) -> bool:
    """A zone with no rules, or an "always" rule, is always active."""
    return not rules or any(rule is None or rule.covers(moment) for rule in rules)
