"""An 8-bit copy of the detector, calibrated on real frames, kept only if it loses no vehicle.

On a 2-core box the float NanoDet takes ~50 CPU ms a frame, which caps a node at ~14
cameras at 2 detections per second. ONNX Runtime's static QDQ quantisation of its
convolutions runs it 2.3-2.7x faster. Dynamic quantisation was 5x *slower* (it quantises
activations on every run), and quantising every convolution lost vehicles (the head's
scores, and the first layers that see raw pixels, need float). So: the convolutions
in 8 bits except the first two and the three heads, calibrated on real frames.

The copy replaces nothing: a site opts in with `detector: {model: .../nanodet-int8.onnx,
score_threshold: 0.25}`, and `quantise` refuses to write a model that misses any vehicle the
float model finds on the check frames (box IoU >= 0.5, any vehicle class). Scores move a
little in 8 bits: at the same threshold (0.3) it missed 1 of 850 vehicles, a car the float
model scored just above it; `SCORE_MARGIN` lower it kept all 857. So the 8-bit model runs
that much lower, and the check holds it to exactly that.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models.coco import CLASS_ID, VEHICLE_CLASSES
from models.detections import Detections
from models.detector import Detector

QUANTISED_NAME = "nanodet-int8.onnx"
MATCH_IOU = 0.5
# How much lower the 8-bit model's score threshold is than the float model's it replaces.
SCORE_MARGIN = 0.05

_VEHICLES = np.array(sorted(CLASS_ID[c] for c in VEHICLE_CLASSES))


class QuantisationRefused(RuntimeError):
    """The 8-bit model lost vehicles the float model finds; it was not kept."""


@dataclass
class RecallCheck:
    vehicles: int = 0  # vehicles the float model found
    missed: list[tuple[str, list[float]]] = field(default_factory=list)  # (frame, box)

    @property
    def kept_all(self) -> bool:
        return not self.missed


def missed_vehicles(reference: Detections, candidate: Detections) -> np.ndarray:
    """Boxes of vehicles in `reference` that no vehicle box of `candidate` overlaps by
    `MATCH_IOU`."""
    ref = reference.xyxy[np.isin(reference.class_id, _VEHICLES)]
    cand = candidate.xyxy[np.isin(candidate.class_id, _VEHICLES)]
    if not len(ref):
        return ref
    if not len(cand):
        return ref
    x0 = np.maximum(ref[:, None, 0], cand[None, :, 0])
    y0 = np.maximum(ref[:, None, 1], cand[None, :, 1])
    x1 = np.minimum(ref[:, None, 2], cand[None, :, 2])
    y1 = np.minimum(ref[:, None, 3], cand[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # noqa: E731
    iou = inter / (area(ref)[:, None] + area(cand)[None, :] - inter)
    return ref[iou.max(axis=1) < MATCH_IOU]


def check_recall(
    reference: Detector, candidate: Detector, frames: Iterable[tuple[str, np.ndarray]]
) -> RecallCheck:
    """Every vehicle `reference` finds on `frames`, and those `candidate` misses."""
    check = RecallCheck()
    for name, image in frames:
        found = reference.detect(image)
        check.vehicles += int(np.isin(found.class_id, _VEHICLES).sum())
        for box in missed_vehicles(found, candidate.detect(image)):
            check.missed.append((name, [round(float(v), 1) for v in box]))
    return check


def quantise(
    model: Path,
    out: Path,
    calibration: Iterable[np.ndarray],
    check_frames: Iterable[tuple[str, np.ndarray]],
    score_threshold: float = 0.3,
) -> RecallCheck:
    """Write the 8-bit copy of `model` to `out` if, at `score_threshold - SCORE_MARGIN`, it
    finds every vehicle the float model finds at `score_threshold` on `check_frames`; raise
    `QuantisationRefused` (and write nothing) if it does not."""
    try:
        import onnx
        from onnxruntime.quantization import (
            CalibrationDataReader,
            QuantFormat,
            QuantType,
            quantize_static,
        )
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError as exc:  # `onnx` is not part of the edge install
        raise ImportError(f"quantising needs the `onnx` package (pip install onnx): {exc}") from exc

    float_detector = Detector(model, score_threshold=score_threshold)
    layout = float_detector.layout

    class Frames(CalibrationDataReader):
        def __init__(self) -> None:
            self.images: Iterator[np.ndarray] = iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            image = next(self.images, None)
            if image is None:
                return None
            return {layout.input_name: layout.prepare(image)[0]}

    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(model), str(prepared), skip_symbolic_shape=True)
        candidate = Path(tmp) / out.name
        quantize_static(
            str(prepared),
            str(candidate),
            Frames(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["Conv"],
            nodes_to_exclude=_kept_in_float(onnx.load(str(prepared))),
        )
        quantised = Detector(candidate, score_threshold=score_threshold - SCORE_MARGIN)
        check = check_recall(float_detector, quantised, check_frames)
        if not check.kept_all:
            raise QuantisationRefused(
                f"the 8-bit model missed {len(check.missed)} of {check.vehicles} vehicles the "
                f"float model finds (first: {check.missed[:3]}); not written"
            )
        out.parent.mkdir(parents=True, exist_ok=True)
        candidate.replace(out)
    return check


def _kept_in_float(graph_model: object) -> list[str]:
    """The convolutions that stay float: the first two (raw pixels in) and the heads (the
    convolutions whose output is split into scores and box distributions)."""
    nodes = graph_model.graph.node  # type: ignore[attr-defined]
    convs = [n for n in nodes if n.op_type == "Conv"]
    made_by = {output: n for n in nodes for output in n.output}
    heads = [
        made_by[n.input[0]]
        for n in nodes
        if n.op_type == "Split" and made_by.get(n.input[0]) is not None
    ]
    return [n.name for n in convs[:2]] + [n.name for n in heads if n.op_type == "Conv"]
