"""The prepared NanoDet on real photos. Needs `roadguard models prepare` and
`roadguard photos fetch` (both run by `make test`); without them these tests fail saying so.

Reference box: bus.jpg's bus at about [19, 213, 789, 750] (810x1080). Checked by drawing it on
the photo: it spans the bus from its left edge to the right frame edge and from the roof to
just below the wheels.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from cameras.photos import photo_path
from models.coco import CLASS_ID
from models.detector import Detector

pytestmark = [pytest.mark.needs_model, pytest.mark.needs_photos]

BUS_BOX = np.array([19, 213, 789, 750], np.float32)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])
    return float(inter / (area - inter))


def best_match(found, cls: str, truth: np.ndarray) -> tuple[float, float]:
    """(IoU, score) of the detection of class `cls` overlapping `truth` most; (0, 0) if none."""
    pairs = [(iou(b, truth), s) for b, s, c, _ in found if c == CLASS_ID[cls]]
    return max(pairs, default=(0.0, 0.0))


@pytest.fixture(scope="module")
def bus_image() -> np.ndarray:
    image = cv2.imread(str(photo_path("bus")))
    assert image.shape == (1080, 810, 3)
    return image


def test_bus_found_with_the_reference_box(detector, bus_image):
    overlap, score = best_match(detector.detect(bus_image), "bus", BUS_BOX)
    assert score >= 0.5 and overlap >= 0.8, (score, overlap)


def test_rear_of_a_car_is_a_car(detector):
    found = detector.detect(cv2.imread(str(photo_path("car_rear"))))
    assert "car" in found.class_names(), found.to_records()


def test_class_filter_keeps_only_the_bus(detector, bus_image):
    assert "person" in detector.detect(bus_image).class_names()
    only_bus = Detector(detector.model_path, classes={"bus"}).detect(bus_image)
    assert only_bus.class_names() == ["bus"]


def test_blank_frame_has_no_detections(detector):
    assert len(detector.detect(np.full((720, 1280, 3), 128, np.uint8))) == 0


def test_zone_crop_finds_the_bus_where_the_whole_frame_does(detector, bus_image):
    whole = detector.detect(bus_image)
    zoned = detector.detect_regions(bus_image, [(0, 200, 810, 800)])
    whole_box = whole.xyxy[(whole.class_id == CLASS_ID["bus"])][0]
    overlap, score = best_match(zoned, "bus", whole_box)
    assert score >= 0.5 and overlap >= 0.85, (score, overlap)


def test_crop_boxes_are_the_crop_result_shifted_by_the_crop_origin(detector, bus_image):
    # A square region larger than the input is used as it is (no growth): exact comparison.
    region = (0, 135, 810, 945)
    zoned = detector.detect_regions(bus_image, [region])
    direct = detector.detect(bus_image[135:945, 0:810])
    assert len(zoned) == len(direct) > 0
    np.testing.assert_allclose(zoned.xyxy, direct.xyxy + [0, 135, 0, 135], atol=1e-3)
    np.testing.assert_array_equal(zoned.class_id, direct.class_id)


def test_frame_plus_zone_does_not_duplicate_the_bus(detector, bus_image):
    found = detector.detect_regions(bus_image, [(0, 0, 810, 1080), (0, 200, 810, 800)])
    vehicles = [c for c in found.class_names() if c in ("bus", "truck", "car")]
    assert vehicles == ["bus"], found.to_records()


def test_small_distant_car_needs_the_zone_crop(detector):
    """The car photo shrunk to 80 px wide in a 1920x1080 frame: the whole frame (seen at
    ~a fifth of its size) misses it at the default threshold, the zone crop finds it."""
    car = cv2.imread(str(photo_path("car_rear")))
    small = cv2.resize(car, (80, 64), interpolation=cv2.INTER_AREA)
    frame = np.full((1080, 1920, 3), 128, np.uint8)
    frame[600:664, 1400:1480] = small
    truth = np.array([1400, 600, 1480, 664], np.float32)

    whole = detector.detect(frame)
    assert not any(iou(b, truth) >= 0.5 for b, _, _, _ in whole), whole.to_records()
    overlap, score = best_match(
        detector.detect_regions(frame, [(1250, 500, 1630, 714)]), "car", truth
    )
    assert score >= 0.5 and overlap >= 0.8, (score, overlap)


def test_detect_command_prints_json_records(capsys):
    from roadguard.cli import main

    assert main(["detect", str(photo_path("bus")), "--json", "--score", "0.5"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert "bus" in [r["class"] for r in records]
    assert all(r["score"] >= 0.5 for r in records)


def test_detect_command_human_readable(capsys):
    from roadguard.cli import main

    assert main(["detect", str(photo_path("bus"))]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("bus ") for line in lines), lines
