"""The motion gate: cheap frame differencing that decides whether the detector must run.

A parked street is mostly still. Detection costs ~40 ms a frame on a small CPU; differencing
a 160-pixel grey thumbnail costs well under 1 ms, so the detector runs only when something
moved, plus a slow periodic re-check so a stationary vehicle is still confirmed now and then.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.config import MotionConfig


class MotionGate:
    def __init__(self, config: MotionConfig) -> None:
        self.config = config
        self._previous: np.ndarray | None = None
        self._last_detection_ts: float | None = None
        self.frames = 0
        self.skipped = 0

    def _thumbnail(self, image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        target = (self.config.width, max(1, round(height * self.config.width / width)))
        grey = cv2.cvtColor(
            cv2.resize(image, target, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY
        )
        return cv2.GaussianBlur(grey, (5, 5), 0)

    def motion_fraction(self, image: np.ndarray) -> float:
        """Share of thumbnail pixels that changed since the previous frame (1.0 on the first)."""
        thumb = self._thumbnail(image)
        previous, self._previous = self._previous, thumb
        if previous is None or previous.shape != thumb.shape:
            return 1.0
        changed = cv2.absdiff(thumb, previous) > self.config.pixel_threshold
        return float(np.count_nonzero(changed)) / changed.size

    def should_detect(self, image: np.ndarray, timestamp: float) -> bool:
        """True when something moved, or when the periodic re-check is due."""
        self.frames += 1
        moved = self.motion_fraction(image) >= self.config.area_fraction
        due = (
            self._last_detection_ts is None
            or timestamp - self._last_detection_ts >= self.config.recheck_s
        )
        if not self.config.enabled or moved or due:
            self._last_detection_ts = timestamp
            return True
        self.skipped += 1
        return False
