"""Box arithmetic shared by the stillness and episode rules."""

from __future__ import annotations

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two xyxy boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = box_area(a) + box_area(b) - inter
    return float(inter / union) if union > 0 else 0.0


def box_area(box: np.ndarray) -> float:
    return float(max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1]))


def median_box(boxes: list[np.ndarray]) -> np.ndarray:
    """The element-wise median: a steady anchor that one jittery detection cannot drag."""
    return np.median(np.stack(boxes), axis=0).astype(np.float32)
