"""What every model layout shares: candidate boxes before NMS, and the way back to image pixels.

A layout (NanoDet, Ultralytics YOLO) owns its pre-processing and decoding because the two go
together: NanoDet stretches the image, YOLO letterboxes it, and the boxes come back only through
the inverse of the same transform. The detector itself never knows which layout it runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

# More candidates than this before NMS means a threshold far too low; cap the NMS cost.
MAX_CANDIDATES = 3000


@dataclass(frozen=True)
class ToImage:
    """Model-input pixels → image pixels: `image = (model - pad) / scale`, per axis."""

    scale_x: float
    scale_y: float
    pad_x: float = 0.0
    pad_y: float = 0.0

    def apply(self, boxes: np.ndarray) -> np.ndarray:
        out = np.empty_like(boxes, dtype=np.float32)
        out[:, 0::2] = (boxes[:, 0::2] - self.pad_x) / self.scale_x
        out[:, 1::2] = (boxes[:, 1::2] - self.pad_y) / self.scale_y
        return out


@dataclass(frozen=True)
class Candidates:
    """Boxes above the score threshold, before NMS: (N,4) xyxy, (N,) scores, (N,) COCO ids."""

    xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray

    @classmethod
    def empty(cls) -> Candidates:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32))

    def __len__(self) -> int:
        return len(self.scores)


class ModelLayout(Protocol):
    """Pre-processing and decoding of one family of detector exports."""

    input_name: str
    input_size: tuple[int, int]  # (width, height) of the model input

    def prepare(self, image_bgr: np.ndarray) -> tuple[np.ndarray, ToImage]:
        """The input tensor for `image_bgr`, and how its pixels map back to the image."""
        ...

    def candidates(
        self, outputs: list[np.ndarray], score_threshold: float, keep: np.ndarray
    ) -> Candidates:
        """Boxes in model-input pixels whose COCO class is in the boolean mask `keep`."""
        ...


def select_candidates(
    scores: np.ndarray, score_threshold: float, column_class: np.ndarray, keep: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(anchor, COCO class, score) triples above the threshold from an (A, C) score matrix.

    Multi-label: one anchor may propose several classes; NMS decides later. Columns whose class
    is not kept (or has no COCO id, -1) are ignored before thresholding, which is also what
    makes class filtering cheap.
    """
    valid = column_class >= 0
    columns = np.flatnonzero(valid & keep[np.where(valid, column_class, 0)])
    if columns.size == 0:
        return np.zeros(0, np.intp), np.zeros(0, np.int32), np.zeros(0, np.float32)
    sub = scores[:, columns]
    anchors, cols = np.nonzero(sub > score_threshold)
    values = sub[anchors, cols].astype(np.float32)
    if values.size > MAX_CANDIDATES:
        top = np.argpartition(-values, MAX_CANDIDATES)[:MAX_CANDIDATES]
        anchors, cols, values = anchors[top], cols[top], values[top]
    return anchors, column_class[columns[cols]].astype(np.int32), values
