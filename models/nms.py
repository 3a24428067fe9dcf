"""Non-maximum suppression with the vehicle classes merged, and de-duplication across crops.

A small detector is unsure whether a pickup is a car or a truck and says both, with the same
box (measured on Debian's dog.jpg: truck 0.36 / car 0.35). Downstream a vehicle is a vehicle:
two boxes would be two tracks and two episodes. So all vehicle classes share one NMS group and
the higher-scoring class wins; other classes (person, bicycle) keep their own groups.
"""

from __future__ import annotations

import cv2
import numpy as np

from models.coco import CLASS_ID, COCO_CLASSES, VEHICLE_CLASSES

_VEHICLE_GROUP = len(COCO_CLASSES)  # a group id no real class uses
_GROUP_OF_CLASS = np.arange(len(COCO_CLASSES) + 1, dtype=np.int32)
_GROUP_OF_CLASS[[CLASS_ID[name] for name in VEHICLE_CLASSES]] = _VEHICLE_GROUP


def nms_groups(class_ids: np.ndarray) -> np.ndarray:
    """The NMS group of each class id: one shared group for all vehicle classes."""
    return _GROUP_OF_CLASS[class_ids]


def suppress(
    xyxy: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, iou: float, max_detections: int
) -> np.ndarray:
    """Indices kept by OpenCV's batched NMS (per group), best score first."""
    if len(scores) == 0:
        return np.zeros(0, np.intp)
    xywh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1).astype(np.float64)
    keep = cv2.dnn.NMSBoxesBatched(
        xywh, scores.astype(np.float32), nms_groups(class_ids).astype(np.int32), 0.0, iou
    )
    keep = np.asarray(keep, dtype=np.intp).reshape(-1)
    keep = keep[np.argsort(-scores[keep], kind="stable")]
    return keep[:max_detections]


def cut_duplicates(
    xyxy: np.ndarray, class_ids: np.ndarray, crop_index: np.ndarray, cut: np.ndarray, cover: float
) -> np.ndarray:
    """Boolean mask of boxes to drop: truncated by a crop edge and seen whole in another crop.

    A vehicle straddling a crop edge yields a partial box there; its IoU with the whole box
    from a neighbouring crop is often below the NMS threshold, so NMS alone would leave two
    boxes for one vehicle. A cut box is dropped when a larger, uncut box of the same NMS group
    from another crop covers at least `cover` of its area.
    """
    drop = np.zeros(len(xyxy), bool)
    whole = np.flatnonzero(~cut)
    if not cut.any() or not whole.size:
        return drop
    areas = _areas(xyxy)
    groups = nms_groups(class_ids)
    for i in np.flatnonzero(cut):
        others = whole[(crop_index[whole] != crop_index[i]) & (groups[whole] == groups[i])]
        others = others[areas[others] > areas[i]]
        if not others.size or areas[i] <= 0:
            continue
        x0 = np.maximum(xyxy[others, 0], xyxy[i, 0])
        y0 = np.maximum(xyxy[others, 1], xyxy[i, 1])
        x1 = np.minimum(xyxy[others, 2], xyxy[i, 2])
        y1 = np.minimum(xyxy[others, 3], xyxy[i, 3])
        inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
        drop[i] = bool((inter / areas[i] >= cover).any())
    return drop


def _areas(xyxy: np.ndarray) -> np.ndarray:
    return np.clip(xyxy[:, 2] - xyxy[:, 0], 0, None) * np.clip(xyxy[:, 3] - xyxy[:, 1], 0, None)
