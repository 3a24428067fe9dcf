"""Ultralytics YOLOv8 / YOLO11 detection models exported with `yolo export format=onnx`.

For a site that brings its own (better) weights. The export takes [1, 3, H, W] RGB / 255,
letterboxed with grey 114 and centred, and returns [1, 4 + nc, A]: cx, cy, w, h in input pixels
then one score per class (no objectness, no NMS). The letterbox arithmetic mirrors Ultralytics'
`LetterBox` and `scale_boxes` so boxes land on the same pixels as `YOLO(...).predict` would.
Class names come from the export's metadata when present (a custom model need not be COCO-80);
names that are not COCO classes are dropped, since the rest of RoadGuard speaks COCO ids.
"""

from __future__ import annotations

import ast

import cv2
import numpy as np
import onnxruntime as ort

from models.coco import CLASS_ID, COCO_CLASSES
from models.decoding import Candidates, ToImage, select_candidates

PAD_VALUE = 114
DEFAULT_SIZE = 640


class YoloLayout:
    """Decoder for the single-output, anchor-free Ultralytics detection head."""

    def __init__(self, input_name: str, input_size: tuple[int, int], column_class: np.ndarray):
        self.input_name = input_name
        self.input_size = input_size
        self.column_class = column_class  # COCO id per score column, -1 when not COCO

    @classmethod
    def from_session(cls, session: ort.InferenceSession) -> YoloLayout | None:
        """The layout if the session has one [1, 4 + nc, A] output, else None."""
        inputs, outputs = session.get_inputs(), session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1 or len(inputs[0].shape) != 4:
            return None
        shape = outputs[0].shape
        if len(shape) != 3 or not isinstance(shape[1], int) or shape[1] <= 4:
            return None
        if isinstance(shape[2], int) and shape[2] <= shape[1]:
            return None  # channels-last or something else: not this export
        metadata = session.get_modelmeta().custom_metadata_map
        column_class = _column_classes(shape[1] - 4, metadata.get("names"))
        if column_class is None:
            return None
        return cls(
            inputs[0].name, _input_size(inputs[0].shape, metadata.get("imgsz")), column_class
        )

    def prepare(self, image_bgr: np.ndarray) -> tuple[np.ndarray, ToImage]:
        width, height = self.input_size
        h, w = image_bgr.shape[:2]
        r = min(height / h, width / w)
        new_w, new_h = round(w * r), round(h * r)
        dw, dh = (width - new_w) / 2, (height - new_h) / 2
        top, bottom = round(dh - 0.1), round(dh + 0.1)
        left, right = round(dw - 0.1), round(dw + 0.1)
        if (new_w, new_h) != (w, h):
            image_bgr = cv2.resize(image_bgr, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        padded = cv2.copyMakeBorder(
            image_bgr, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3
        )
        rgb = cv2.cvtColor(padded, cv2.COLOR_BGR2RGB)
        tensor = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
        return tensor, ToImage(r, r, left, top)

    def candidates(
        self, outputs: list[np.ndarray], score_threshold: float, keep: np.ndarray
    ) -> Candidates:
        head = outputs[0][0]  # (4 + nc, A)
        anchors, class_ids, values = select_candidates(
            head[4:].T, score_threshold, self.column_class, keep
        )
        if not anchors.size:
            return Candidates.empty()
        cx, cy, w, h = head[:4, anchors]
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1).astype(np.float32)
        return Candidates(boxes, values, class_ids)


def _column_classes(nc: int, names: str | None) -> np.ndarray | None:
    """COCO id of each score column: by name from the export's metadata, else COCO-80 order."""
    if names:
        try:
            mapping = ast.literal_eval(names)
        except (ValueError, SyntaxError):
            mapping = None
        if isinstance(mapping, dict) and len(mapping) == nc:
            return np.array([CLASS_ID.get(str(mapping[i]), -1) for i in range(nc)], np.int32)
    if nc == len(COCO_CLASSES):
        return np.arange(nc, dtype=np.int32)
    return None


def _input_size(shape: list, imgsz: str | None) -> tuple[int, int]:
    """(width, height) from the input shape; a dynamic export falls back to its metadata."""
    if isinstance(shape[2], int) and isinstance(shape[3], int):
        return shape[3], shape[2]
    if imgsz:
        try:
            height, width = ast.literal_eval(imgsz)
            return int(width), int(height)
        except (ValueError, SyntaxError, TypeError):
            pass
    return DEFAULT_SIZE, DEFAULT_SIZE
