"""Time for the centre, injectable so tests decide when a deadline passes.

Every "now" in ingest, the workflow and the scheduler comes from a `Clock`; nothing calls
`datetime.now()` directly, so a test moves a `FakeClock` forward instead of sleeping.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Wait up to `seconds` (clock time) or until `event` is set; True if it was set."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(max(0.0, seconds))


class FakeClock:
    """A clock that moves only when told. `wait` returns as soon as the clock is advanced
    (or the event set), so a scheduler thread follows the test's time without real sleeps."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
        self._moved = threading.Condition()

    def now(self) -> datetime:
        with self._moved:
            return self._now

    def advance(self, seconds: float = 0, **delta: float) -> datetime:
        with self._moved:
            self._now += timedelta(seconds=seconds, **delta)
            self._moved.notify_all()
            return self._now

    def set(self, when: datetime) -> None:
        with self._moved:
            self._now = when
            self._moved.notify_all()

    def wait(self, event: threading.Event, seconds: float) -> bool:
        with self._moved:
            deadline = self._now + timedelta(seconds=seconds)
            while not event.is_set() and self._now < deadline:
                # Real-time cap only so a forgotten stop cannot hang a thread forever.
                self._moved.wait(timeout=0.05)
            return event.is_set()


def utc(value: datetime) -> datetime:
    """An aware UTC datetime; naive values are taken as UTC (SQLite drops the zone)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
