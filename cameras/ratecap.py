"""A frame-rate cap decided on frame timestamps.

A 25 fps camera gives five times more frames than the 5 fps the detector needs. Dropping by
timestamp (not by counting frames or by the wall clock) gives the same frames whether a file
is replayed slowly or fast, and copes with cameras whose real rate differs from their claim.
"""

from __future__ import annotations


class FrameRateCap:
    """Admits at most `max_fps` frames per second of frame time (None: every frame).

    The due time advances by whole periods, so a 10 fps input capped at 5 keeps every other
    frame exactly and an input at 7 fps averages 5 rather than falling to 3.5. After a gap (a
    reconnect) or a clock going backwards the schedule restarts at the next frame.
    """

    def __init__(self, max_fps: float | None) -> None:
        if max_fps is not None and max_fps <= 0:
            raise ValueError("max_fps must be positive")
        self.max_fps = max_fps
        self._period = 1.0 / max_fps if max_fps else 0.0
        self._due: float | None = None
        self.dropped = 0

    def admit(self, timestamp: float) -> bool:
        if not self._period:
            return True
        # Timestamps from POS_MSEC carry float noise (300.00000000000006 ms); be lenient.
        slack = self._period * 1e-3
        if self._due is None or timestamp < self._due - self._period - slack:
            self._due = timestamp  # first frame, or the clock went backwards
        if timestamp < self._due - slack:
            self.dropped += 1
            return False
        self._due += self._period
        if timestamp >= self._due:  # fell behind by more than a period: restart from here
            self._due = timestamp + self._period
        return True
