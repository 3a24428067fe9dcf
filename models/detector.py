"""The vehicle detector: one ONNX Runtime session, whole frames or crops in, `Detections` out.

The model family (NanoDet as prepared by `roadguard models prepare`, or a user's Ultralytics
YOLOv8/YOLO11 export) is recognised from the model's outputs, so a site swaps weights by
pointing `detector.model` at another file, never by changing code.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from models.coco import CLASS_ID, COCO_CLASSES, ROAD_USER_CLASSES
from models.decoding import Candidates, ModelLayout
from models.detections import Detections
from models.nanodet import NanoDetLayout
from models.nms import cut_duplicates, suppress
from models.regions import Region, clamp_region, fit_region, tiles
from models.weights import default_model_path
from models.yolo import YoloLayout

__all__ = [
    "Detector",
    "ModelNotPrepared",
    "UnsupportedModel",
    "load_detector",
    "tiles",
]

# One run of the model: the input feeds in, the outputs out (`session.run`, or a worker's queue).
Inference = Callable[[dict[str, np.ndarray]], list[np.ndarray]]

# A box within this many pixels of a crop edge that is not a frame edge was cut by the crop.
_CUT_MARGIN = 2.0
# Share of a cut box that a whole box from another crop must cover to replace it.
_CUT_COVER = 0.6


class ModelNotPrepared(FileNotFoundError):
    """The model file is missing; for the default model, `roadguard models prepare` makes it."""


class UnsupportedModel(ValueError):
    """The ONNX model's outputs match none of the layouts this detector decodes."""


class Detector:
    """Runs one detection model on BGR images and returns boxes in the image's pixels.

    - `score_threshold`: lowest score kept. Low (0.25) by default: NanoDet scores a plain
      pickup at ~0.35, and the tracker and episode rules smooth over single-frame noise.
    - `nms_iou`: IoU above which the lower-scoring of two boxes in one NMS group goes. All
      vehicle classes form one group (see models/nms.py).
    - `classes`: COCO names to keep; the road users by default.
    - `threads`: ONNX Runtime intra-op threads (None: its default, one per physical core).
      Idle threads sleep rather than spin: on a box whose cores also decode video, spinning
      threads steal the CPU the cameras need (27 ms a run instead of 30 alone, 51 instead of
      66 beside a busy thread, on 2 cores).

    `detect` and `detect_regions` keep no state between calls. Running the session from
    several threads at once oversubscribes the cores (every run uses all of them), so a node
    runs it through one `DetectorWorker` (models/worker.py) instead: see `through`.
    """

    def __init__(
        self,
        model_path: Path | str,
        *,
        score_threshold: float = 0.25,
        nms_iou: float = 0.5,
        classes: Iterable[str] | None = None,
        threads: int | None = None,
        max_detections: int = 300,
    ) -> None:
        self.model_path = Path(model_path)
        self.score_threshold = float(score_threshold)
        self.nms_iou = float(nms_iou)
        self.max_detections = int(max_detections)
        self.classes = frozenset(ROAD_USER_CLASSES if classes is None else classes)
        unknown = sorted(self.classes - set(COCO_CLASSES))
        if unknown:
            raise ValueError(f"unknown class names {unknown}; use COCO names (models.coco)")
        self._keep = np.zeros(len(COCO_CLASSES), bool)
        self._keep[[CLASS_ID[name] for name in self.classes]] = True

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or 0
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # tf2onnx leftovers trigger harmless warnings
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            str(self.model_path), options, providers=["CPUExecutionProvider"]
        )
        self.layout: ModelLayout = _recognise(self.session, self.model_path)
        self._infer: Inference = self.run_model

    def run_model(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """One run of the session on this thread."""
        return self.session.run(None, feeds)

    def through(self, infer: Inference) -> Detector:
        """This detector with its model runs handed to `infer` (a worker's queue): resizing,
        decoding and NMS stay on the calling thread, so cameras do them in parallel while
        the model runs one frame at a time."""
        view = copy.copy(self)
        view._infer = infer
        return view

    @property
    def input_size(self) -> tuple[int, int]:
        """(width, height) of the model input."""
        return self.layout.input_size

    def detect(self, image_bgr: np.ndarray) -> Detections:
        """Detections on the whole image."""
        image = _as_bgr(image_bgr)
        found = self._candidates(image)
        keep = suppress(
            found.xyxy, found.scores, found.class_ids, self.nms_iou, self.max_detections
        )
        return Detections(found.xyxy[keep], found.scores[keep], found.class_ids[keep])

    def detect_regions(self, image_bgr: np.ndarray, regions: Sequence[Region]) -> Detections:
        """Detections from running the model on crops of the image, in the image's pixels.

        Only the regions are searched: include `(0, 0, width, height)` among them to merge
        with the whole-frame result (edge's `frame+zones` mode does). Each region is clamped
        to the image and grown with surrounding image to the model's aspect ratio (and to a
        minimum size, see models/regions.py). Boxes cut by a crop edge give way to a whole
        box of the same vehicle from another crop; then NMS runs across all crops.
        """
        image = _as_bgr(image_bgr)
        height, width = image.shape[:2]
        crops: list[Region] = []
        for region in regions:
            clamped = clamp_region(region, width, height)
            if clamped is not None:
                fitted = fit_region(clamped, width, height, self.input_size)
                if fitted not in crops:
                    crops.append(fitted)
        boxes, scores, classes, crop_index, cut = [], [], [], [], []
        for k, (x0, y0, x1, y1) in enumerate(crops):
            found = self._candidates(image[y0:y1, x0:x1])
            keep = suppress(
                found.xyxy, found.scores, found.class_ids, self.nms_iou, self.max_detections
            )
            xyxy = found.xyxy[keep] + np.array([x0, y0, x0, y0], np.float32)
            boxes.append(xyxy)
            scores.append(found.scores[keep])
            classes.append(found.class_ids[keep])
            crop_index.append(np.full(len(keep), k))
            cut.append(_cut_by_crop(xyxy, (x0, y0, x1, y1), width, height))
        if not crops:
            return Detections.empty()
        xyxy, score, class_id = (
            np.concatenate(boxes),
            np.concatenate(scores),
            np.concatenate(classes),
        )
        whole = ~cut_duplicates(
            xyxy, class_id, np.concatenate(crop_index), np.concatenate(cut), _CUT_COVER
        )
        xyxy, score, class_id = xyxy[whole], score[whole], class_id[whole]
        keep = suppress(xyxy, score, class_id, self.nms_iou, self.max_detections)
        return Detections(xyxy[keep], score[keep], class_id[keep])

    def _candidates(self, image: np.ndarray) -> Candidates:
        """Pre-NMS boxes for one image (or crop), mapped back to its pixels and clipped."""
        tensor, to_image = self.layout.prepare(image)
        outputs = self._infer({self.layout.input_name: tensor})
        found = self.layout.candidates(outputs, self.score_threshold, self._keep)
        xyxy = to_image.apply(found.xyxy)
        height, width = image.shape[:2]
        np.clip(xyxy[:, 0::2], 0, width, out=xyxy[:, 0::2])
        np.clip(xyxy[:, 1::2], 0, height, out=xyxy[:, 1::2])
        return Candidates(xyxy, found.scores, found.class_ids)


def load_detector(path: Path | str | None = None, **options: object) -> Detector:
    """The detector on `path`, or on the prepared default model when `path` is None.

    Raises `ModelNotPrepared` (naming the command that fixes it) when the file is missing.
    Options are those of `Detector`.
    """
    if path is None:
        path = default_model_path()
        if not path.is_file():
            raise ModelNotPrepared(
                f"the default detector is not prepared ({path} is missing): "
                "run `roadguard models prepare`"
            )
    elif not Path(path).is_file():
        raise ModelNotPrepared(f"detector model {path} does not exist")
    return Detector(path, **options)  # type: ignore[arg-type]


def _recognise(session: ort.InferenceSession, path: Path) -> ModelLayout:
    for layout in (NanoDetLayout, YoloLayout):
        found = layout.from_session(session)
        if found is not None:
            return found
    inputs = ", ".join(f"{i.name} {i.shape}" for i in session.get_inputs())
    outputs = ", ".join(f"{o.name} {o.shape}" for o in session.get_outputs())
    raise UnsupportedModel(
        f"{path}: unrecognised detector layout (inputs: {inputs}; outputs: {outputs}). "
        "Supported: NanoDet (per stride, scores [1,N,80] and box distributions [1,N,4*bins]) "
        "and Ultralytics YOLOv8/YOLO11 `yolo export format=onnx` ([1,4+nc,anchors])."
    )


def _cut_by_crop(xyxy: np.ndarray, crop: Region, width: int, height: int) -> np.ndarray:
    """Which boxes touch an edge of the crop that is inside the frame (not the frame's edge)."""
    x0, y0, x1, y1 = crop
    m = _CUT_MARGIN
    return (
        ((xyxy[:, 0] <= x0 + m) & (x0 > 0))
        | ((xyxy[:, 1] <= y0 + m) & (y0 > 0))
        | ((xyxy[:, 2] >= x1 - m) & (x1 < width))
        | ((xyxy[:, 3] >= y1 - m) & (y1 < height))
    )


def _as_bgr(image: np.ndarray) -> np.ndarray:
    """A 3-channel uint8 view of a BGR, grey or BGRA frame."""
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    raise ValueError(f"expected an HxWx3 BGR image, got shape {image.shape}")
