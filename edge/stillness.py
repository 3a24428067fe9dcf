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
# A track has travelled once its ground point is this share of its box size away from where
# it was first seen. A vehicle parked before the camera looked never gets there: occlusion and
# detector noise move a box's bottom-centre by well under half its width or height.
_TRAVEL_SHARE = 0.5
_EDGE_PX = 2.0  # a box side this close to the picture's side is cut by it


@dataclass
class TrackHistory:
    track_id: int
    box: np.ndarray
    last_seen: float
    anchor: np.ndarray
    anchor_since: float
    anchor_boxes: list[np.ndarray] = field(default_factory=list)
    classes: Counter = field(default_factory=Counter)
    origin: np.ndarray | None = None  # the first box: where the track began
    travelled: bool = False  # drove in view (traffic), rather than standing since first seen

    def observe(
        self,
        box: np.ndarray,
        class_id: int,
        timestamp: float,
        still_iou: float,
        frame_width: float = float("inf"),
    ) -> None:
        self.box, self.last_seen = box, timestamp
        self.classes[class_id] += 1
        if self.origin is None:
            self.origin = box
        elif not self.travelled:
            self.travelled = ground_shift(self.origin, box, frame_width) >= _TRAVEL_SHARE
        if box_iou(box, self.anchor) < still_iou:
            self.anchor, self.anchor_since, self.anchor_boxes = box, timestamp, [box]
            return
        self.anchor_boxes = [*self.anchor_boxes[-(_MAX_ANCHOR_BOXES - 1) :], box]
        self.anchor = median_box(self.anchor_boxes)

    def still_for(self, timestamp: float) -> float:
        return timestamp - self.anchor_since

    def in_flow(self, timestamp: float, queue_window_s: float) -> bool:
        """Part of the traffic: moving, or stopped in a queue (standing at most
        `queue_window_s`, longer than a red light). A vehicle parked before the camera looked,
        or standing longer, is parking and never part of a jam."""
        return self.travelled and self.still_for(timestamp) <= queue_window_s

    @property
    def class_id(self) -> int:
        """The class most often seen: NanoDet flips a pickup between car and truck."""
        return self.classes.most_common(1)[0][0]


def ground_shift(before: np.ndarray, after: np.ndarray, frame_width: float) -> float:
    """How far a vehicle moved between two boxes, in box widths across the picture or box
    heights along the road, whichever is more: the same measure for near and far vehicles.

    Across, the bottom-centre stands for the vehicle, except when the picture's side cuts a
    box: then the side still in view does (a car driving in from the edge and stopping half
    in the picture moved its inner side, while its centre moved by less than half)."""
    width = max(before[2] - before[0], after[2] - after[0], 1.0)
    height = max(before[3] - before[1], after[3] - after[1], 1.0)
    if min(before[0], after[0]) <= _EDGE_PX:  # cut by the left side: the right side moved
        dx = abs(after[2] - before[2])
    elif max(before[2], after[2]) >= frame_width - _EDGE_PX:  # cut by the right side
        dx = abs(after[0] - before[0])
    else:
        dx = abs((after[0] + after[2]) - (before[0] + before[2])) / 2
    dy = abs(after[3] - before[3])
    return float(max(dx / width, dy / height))


class StillnessTracker:
    """Box histories per tracker id, pruned when a track has been gone a while."""

    def __init__(
        self, still_iou: float, forget_after_s: float, frame_width: float = float("inf")
    ) -> None:
        self.still_iou = still_iou
        self.frame_width = frame_width
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
            history.observe(box, int(class_id), timestamp, self.still_iou, self.frame_width)
            seen.append(history)
        for track_id in [
            t for t, h in self.tracks.items() if timestamp - h.last_seen > self.forget_after_s
        ]:
            del self.tracks[track_id]
        return seen
