"""The one value passed between vision stages (after supervision's `Detections`).

Parallel numpy arrays rather than a list of box objects: zones, the tracker and the
episode rules work on all boxes at once, and a stage is testable with three lines of numpy.
The type is ours (not `supervision.Detections`) so that `models/` stays on numpy alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from models.coco import COCO_CLASSES


@dataclass(frozen=True)
class Detections:
    """Boxes in pixel `xyxy` of the frame they came from, with COCO class ids and scores.

    `tracker_id` is -1 until a tracker assigns one.
    """

    xyxy: np.ndarray  # (N, 4) float32
    confidence: np.ndarray  # (N,) float32
    class_id: np.ndarray  # (N,) int32
    tracker_id: np.ndarray = field(default=None)  # type: ignore[assignment]  # (N,) int64

    def __post_init__(self) -> None:
        n = len(self.xyxy)
        object.__setattr__(self, "xyxy", np.asarray(self.xyxy, dtype=np.float32).reshape(n, 4))
        object.__setattr__(self, "confidence", np.asarray(self.confidence, np.float32).reshape(n))
        object.__setattr__(self, "class_id", np.asarray(self.class_id, np.int32).reshape(n))
        tid = self.tracker_id
        tid = np.full(n, -1, np.int64) if tid is None else np.asarray(tid, np.int64).reshape(n)
        object.__setattr__(self, "tracker_id", tid)

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0))

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: np.ndarray | slice | list[int]) -> Detections:
        """Select rows by boolean mask, index array or slice, keeping the arrays parallel."""
        return Detections(
            self.xyxy[index], self.confidence[index], self.class_id[index], self.tracker_id[index]
        )

    def __iter__(self) -> Iterator[tuple[np.ndarray, float, int, int]]:
        for i in range(len(self)):
            yield (
                self.xyxy[i],
                float(self.confidence[i]),
                int(self.class_id[i]),
                int(self.tracker_id[i]),
            )

    @staticmethod
    def merge(parts: list[Detections]) -> Detections:
        parts = [p for p in parts if len(p)]
        if not parts:
            return Detections.empty()
        return Detections(
            np.concatenate([p.xyxy for p in parts]),
            np.concatenate([p.confidence for p in parts]),
            np.concatenate([p.class_id for p in parts]),
            np.concatenate([p.tracker_id for p in parts]),
        )

    def bottom_centre(self) -> np.ndarray:
        """(N, 2) ground-contact points: where a vehicle actually stands in the image."""
        return np.stack([(self.xyxy[:, 0] + self.xyxy[:, 2]) / 2, self.xyxy[:, 3]], axis=1)

    def class_names(self) -> list[str]:
        return [COCO_CLASSES[c] for c in self.class_id]

    def to_records(self) -> list[dict]:
        """Plain dicts for JSON output (`roadguard detect --json`, episode logs)."""
        return [
            {
                "class": COCO_CLASSES[int(c)],
                "class_id": int(c),
                "score": round(float(s), 4),
                "box": [round(float(v), 1) for v in box],
                **({"tracker_id": int(t)} if t >= 0 else {}),
            }
            for box, s, c, t in zip(
                self.xyxy, self.confidence, self.class_id, self.tracker_id, strict=True
            )
        ]
