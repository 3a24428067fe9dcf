"""What our detector costs on bus.jpg (810x1080), and where the time goes.

- `ours-detect`: `Detector.detect` end to end (resize, normalise, session.run, decode, NMS).
- `bare-onnxruntime`: the floor: resize + normalise + `session.run` on the same model with the
  same thread settings, no decoding. The gap to `ours-detect` is our overhead.
- `regions-*`: `detect_regions` on one zone-sized crop, and on the frame plus that zone (what
  edge's `frame+zones` mode runs): each crop costs one more model run.

Ultralytics is not compared: it cannot run this non-Ultralytics ONNX, and no package ships an
Ultralytics-exported model (see /work/shared/research.md). Run with `make bench`.
"""

from __future__ import annotations

import os

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from models.detector import Detector, load_detector
from models.nanodet import MEAN_BGR, STD_BGR

THREADS = os.cpu_count() or 1
ZONE = (0, 520, 810, 800)  # a kerb-side strip in front of the bus, zone-sized


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    from cameras.photos import photo_path

    return cv2.imread(str(photo_path("bus")))


@pytest.fixture(scope="module")
def detector() -> Detector:
    return load_detector(threads=THREADS)


@pytest.mark.benchmark(group="detector")
def test_ours_detect(benchmark, detector, image):
    found = benchmark(detector.detect, image)
    assert "bus" in found.class_names()


@pytest.mark.benchmark(group="detector")
def test_bare_onnxruntime(benchmark, detector, image):
    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(
        str(detector.model_path), options, providers=["CPUExecutionProvider"]
    )
    name = session.get_inputs()[0].name

    def run() -> list[np.ndarray]:
        x = (cv2.resize(image, (416, 416)).astype(np.float32) - MEAN_BGR) / STD_BGR
        return session.run(None, {name: np.ascontiguousarray(x.transpose(2, 0, 1)[None])})

    outputs = benchmark(run)
    assert len(outputs) == 6


@pytest.mark.benchmark(group="regions")
def test_regions_whole_frame(benchmark, detector, image):
    benchmark(detector.detect, image)


@pytest.mark.benchmark(group="regions")
def test_regions_one_zone(benchmark, detector, image):
    found = benchmark(detector.detect_regions, image, [ZONE])
    assert len(found) > 0


@pytest.mark.benchmark(group="regions")
def test_regions_frame_plus_zone(benchmark, detector, image):
    height, width = image.shape[:2]
    benchmark(detector.detect_regions, image, [(0, 0, width, height), ZONE])
