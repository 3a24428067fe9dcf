"""Tracker IDs from supervision's ByteTrack, behind the one `Detections` currency.

ByteTrack is well kept and fast; what it does not do (survive a bus passing in front, an ID
switch) is the episode layer's job, not a reason to write our own tracker.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import supervision as sv

from models.detections import Detections


class Tracker(Protocol):
    def update(self, detections: Detections) -> Detections: ...


class ByteTracker:
    def __init__(self, frame_rate: float, lost_track_s: float = 2.0) -> None:
        self._tracker = sv.ByteTrack(
            track_activation_threshold=0.25,
            lost_track_buffer=max(1, round(lost_track_s * frame_rate)),
            minimum_matching_threshold=0.8,
            frame_rate=max(1, round(frame_rate)),
            minimum_consecutive_frames=1,
        )

    def update(self, detections: Detections) -> Detections:
        tracked = self._tracker.update_with_detections(
            sv.Detections(
                xyxy=detections.xyxy.astype(np.float32),
                confidence=detections.confidence,
                class_id=detections.class_id,
            )
        )
        if len(tracked) == 0:
            return Detections.empty()
        return Detections(tracked.xyxy, tracked.confidence, tracked.class_id, tracked.tracker_id)
