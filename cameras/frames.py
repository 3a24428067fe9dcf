"""A captured frame: the unit every camera source yields."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One BGR image with the time it was captured.

    `timestamp` is seconds since the epoch for live sources and seconds since the start for
    files and scenes; every timer downstream runs on it, never on the wall clock, so replayed
    video and tests give the same answers.
    """

    camera_id: str
    index: int
    timestamp: float
    image: np.ndarray

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        h, w = self.image.shape[:2]
        return w, h
