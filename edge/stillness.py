"""Has a vehicle stopped? Judged from its box history, never from one frame.

Each track keeps an anchor: the median of its boxes since it last moved. A box whose IoU with
the anchor drops below `still_iou` means the vehicle moved and the anchor restarts there.
IoU rather than pixel distance makes the rule scale with the vehicle's size in the image, so
a distant car (small box, small pixel motion) and a near one are judged alike (PP-Vehicle
scales pixel motion by position for the same reason).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from edge.geometry import box_iou, median_box

_MAX_ANCHOR_BOXES = 15  # enough for a steady median; old boxes of a still car add nothing


@dataclass
class TrackHistory:
    track_id: int
    box: np.ndarray
    last_seen: float
    anchor: np.ndarray
    anchor_since: float
    anchor_boxes: list[np.ndarray] = field(default_factory=list)
    classes: Counter = field(default_factory=Counter)

    def observe(self, box: np.ndarray, class_id: int, timestamp: float, still_iou: float) -> None:
        self.box, self.last_seen = box, timestamp
        self.classes[class_id] += 1
        if box_iou(box, self.anchor) < still_iou:
            self.anchor, self.anchor_since, self.anchor_boxes = box, timestamp, [box]
            return
        self.anchor_boxes = [*self.anchor_boxes[-(_MAX_ANCHOR_BOXES - 1) :], box]
        self.anchor = median_box(self.anchor_boxes)

    def still_for(self, timestamp: float) -> float:
        return timestamp - self.anchor_since

    @property
    def class_id(self) -> int:
        """The class most often seen: NanoDet flips a pickup between car and truck."""
        return self.classes.most_common(1)[0][0]


class StillnessTracker:
    """Box histories per tracker id, pruned when a track has been gone a while."""

    def __init__(self, still_iou: float, forget_after_s: float) -> None:
        self.still_iou = still_iou
        self.forget_after_s = forget_after_s
        self.tracks: dict[int, TrackHistory] = {}

    def observe(
        self, track_ids: np.ndarray, boxes: np.ndarray, class_ids: np.ndarray, timestamp: float
    ) -> list[TrackHistory]:
        """Record this frame's tracked vehicles; return their histories in the same order."""
        seen = []
        for track_id, box, class_id in zip(track_ids, boxes, class_ids, strict=True):
            history = self.tracks.get(int(track_id))
            if history is None:
                history = TrackHistory(int(track_id), box, timestamp, box, timestamp, [box])
                self.tracks[int(track_id)] = history
            history.observe(box, int(class_id), timestamp, self.still_iou)
            seen.append(history)
        for track_id in [
            t for t, h in self.tracks.items() if timestamp - h.last_seen > self.forget_after_s
        ]:
            del self.tracks[track_id]
        return seen
