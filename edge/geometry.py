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


def box_inside_share(inner: np.ndarray, outer: np.ndarray) -> float:
    """Share of `inner`'s area that lies within `outer`: a parked car half hidden by a bus
    shows a smaller box inside where it stood, while a car driving off leaves it."""
    ix = max(0.0, min(inner[2], outer[2]) - max(inner[0], outer[0]))
    iy = max(0.0, min(inner[3], outer[3]) - max(inner[1], outer[1]))
    area = box_area(inner)
    return float(ix * iy / area) if area > 0 else 0.0


def box_area(box: np.ndarray) -> float:
    return float(max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1]))


def median_box(boxes: list[np.ndarray]) -> np.ndarray:
    """The element-wise median: a steady anchor that one jittery detection cannot drag."""
    return np.median(np.stack(boxes), axis=0).astype(np.float32)
