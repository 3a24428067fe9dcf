"""No-parking zones: which detections stand inside, and whether the rule applies now."""

from __future__ import annotations

from datetime import datetime

import cv2
import numpy as np

from edge.config import ZoneConfig
from edge.schedule import schedule_active
from models.coco import CLASS_ID
from models.detections import Detections


class Zone:
    """A polygon with a class filter and a schedule, resolved to pixels for one frame size."""

    def __init__(self, config: ZoneConfig, frame_size: tuple[int, int]) -> None:
        self.config = config
        self.id = config.id
        width, height = frame_size
        scale = np.array([width, height], np.float32) if config.relative else np.ones(2, np.float32)
        self.polygon = (np.asarray(config.polygon, np.float32) * scale).astype(np.float32)
        self.class_ids = np.array([CLASS_ID[c] for c in config.classes], np.int32)
        self._rules = config.schedule_rules

    def trigger(self, detections: Detections) -> np.ndarray:
        """Boolean mask of detections whose ground point (bottom-centre) is inside the polygon
        and whose class the rule covers; the box centre would put a tall bus parked beside the
        zone inside it."""
        if not len(detections):
            return np.zeros(0, bool)
        points = detections.bottom_centre()
        inside = np.array(
            [
                cv2.pointPolygonTest(self.polygon, (float(x), float(y)), False) >= 0
                for x, y in points
            ]
        )
        return inside & np.isin(detections.class_id, self.class_ids)

    def active_at(self, moment: datetime) -> bool:
        return schedule_active(self._rules, moment)

    def bounding_region(self, frame_size: tuple[int, int], pad: float = 0.25) -> tuple[int, ...]:
        """The zone's bounding box grown by `pad` on each side (vehicles stick out of the
        polygon upwards), clamped to the frame: the crop the detector runs on for small,
        distant vehicles."""
        width, height = frame_size
        x0, y0 = self.polygon.min(axis=0)
        x1, y1 = self.polygon.max(axis=0)
        dx, dy = (x1 - x0) * pad, (y1 - y0) * pad
        # Vehicles rise above their ground point: extend upwards more than downwards.
        return (
            int(max(0, x0 - dx)),
            int(max(0, y0 - 3 * dy - (y1 - y0))),
            int(min(width, x1 + dx)),
            int(min(height, y1 + dy)),
        )
